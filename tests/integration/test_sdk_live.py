"""The SDK against the real gateway (gunicorn, 2 workers, embedded runtime, the four
exported models): every method on both transports, sync and async, returns what a
raw REST call returns (within 1e-5). The session's embedded gateway from
tests/integration/conftest.py serves the whole module (and the other suites)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import multihead_client as mh
import numpy as np
import pytest

from tests.integration.conftest import SAMPLES, Gateway

# Pin conftest's session `gateway` fixture to the embedded runtime for this module.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300),
              pytest.mark.parametrize("gateway", ["embedded"], indirect=True)]

ATOL = 1e-5
PAIRS = [("How old are you?", "What is your age?"),
         ("where can i buy a cheap laptop", "how do i fix a broken bike")]
AUTHORS = [["my toddler starts daycare", "the mortgage is due"],
           ["exam week on campus", "my roommate found a thrift store"]]
QA = ("anna has a dog named rex. ben lives in oslo.", "where does ben live")
HEADS = {"profiler": ["age", "income"], "headline": ["main_output"]}


@pytest.fixture
def raw(gateway: Gateway, gateway_repo) -> dict[str, Any]:
    """The reference: the same calls as plain REST requests."""
    http = httpx.Client(base_url=gateway.http_url, timeout=30)

    def post(path: str, body: dict[str, Any]) -> Any:
        r = http.post(path, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    out: dict[str, Any] = {
        "similarity": post("/v1/similarity", {"pairs": [list(p) for p in PAIRS]}),
        "canary": post("/v1/similarity", {"pairs": [list(p) for p in PAIRS],
                                          "label": "canary"}),
        "canary_version": gateway_repo.canary,
        "profile": post("/v1/profile", {"authors": AUTHORS}),
        "answer": post("/v1/answer", {"text": QA[0], "question": QA[1], "top_k": 3}),
        "models": http.get("/v1/models").json()["models"],
        "predict": {m: post(f"/v1/models/{m}:predict", {"inputs": SAMPLES[m]})["outputs"]
                    for m in SAMPLES},
        "heads": {m: post(f"/v1/models/{m}:predict", {"inputs": SAMPLES[m], "heads": h})
                  ["outputs"] for m, h in HEADS.items()},
        "metadata": {m: http.get(f"/v1/models/{m}/metadata").json() for m in SAMPLES},
    }
    http.close()
    return out


def collect(client: mh.Client) -> dict[str, Any]:
    """Every SDK method once."""
    version = client.models()[0].latest
    return {
        "similarity": [client.similarity(*PAIRS[0]), *client.similarity_many(PAIRS)],
        "canary": client.similarity_many(PAIRS, label="canary"),
        "profile": [client.profile(AUTHORS[0]), *client.profile_many(AUTHORS)],
        "answer": client.answer(*QA, top_k=3),
        "models": client.models(),
        "predict": {m: client.predict(m, SAMPLES[m]) for m in SAMPLES},
        "heads": {m: client.predict(m, SAMPLES[m], heads=h) for m, h in HEADS.items()},
        "versioned": client.predict(client.models()[0].name, SAMPLES[client.models()[0].name],
                                    version=version),
        "metadata": {m: client.metadata(m) for m in SAMPLES},
    }


async def acollect(client: mh.AsyncClient) -> dict[str, Any]:
    """Every AsyncClient method once, a few of them concurrently."""
    models = await client.models()
    sim_one, sim_many, prof_one, prof_many = await asyncio.gather(
        client.similarity(*PAIRS[0]), client.similarity_many(PAIRS),
        client.profile(AUTHORS[0]), client.profile_many(AUTHORS))
    return {
        "similarity": [sim_one, *sim_many],
        "canary": await client.similarity_many(PAIRS, label="canary"),
        "profile": [prof_one, *prof_many],
        "answer": await client.answer(*QA, top_k=3),
        "models": models,
        "predict": {m: await client.predict(m, SAMPLES[m]) for m in SAMPLES},
        "heads": {m: await client.predict(m, SAMPLES[m], heads=h) for m, h in HEADS.items()},
        "versioned": await client.predict(models[0].name, SAMPLES[models[0].name],
                                          version=models[0].latest),
        "metadata": {m: await client.metadata(m) for m in SAMPLES},
    }


def assert_arrays_match(got: dict[str, np.ndarray], want: Any) -> None:
    if not isinstance(want, dict):  # TF Serving's bare single output
        assert len(got) == 1
        want = {next(iter(got)): want}
    assert set(got) == set(want)
    for name, value in want.items():
        expected = np.asarray(value, dtype=object if isinstance(
            np.asarray(value).flat[0] if np.asarray(value).size else 0, str) else None)
        if expected.dtype == object:
            assert got[name].tolist() == expected.tolist(), name
        else:
            assert got[name].shape == expected.shape, name
            np.testing.assert_allclose(got[name].astype(np.float64), expected, atol=ATOL,
                                       rtol=0, err_msg=name)


def assert_same_as_raw(res: dict[str, Any], raw: dict[str, Any]) -> None:
    scores = raw["similarity"]["scores"]
    np.testing.assert_allclose(res["similarity"], [scores[0], *scores], atol=ATOL, rtol=0)
    np.testing.assert_allclose(res["canary"], raw["canary"]["scores"], atol=ATOL, rtol=0)
    assert raw["canary"]["model_version"] == raw["canary_version"]

    profiles = raw["profile"]["profiles"]
    for got, want in zip(res["profile"], [profiles[0], *profiles], strict=True):
        assert isinstance(got, mh.Profile)
        assert got.model_version == raw["profile"]["model_version"]
        assert got.age == pytest.approx(want["age"], abs=ATOL)
        for head in ("income", "gender"):
            g, w = getattr(got, head), want[head]
            assert g.label == w["label"]
            assert g.probability == pytest.approx(w["probability"], abs=ATOL)
            assert set(g.distribution) == set(w.get("distribution") or {})
            for k, p in (w.get("distribution") or {}).items():
                assert g.distribution[k] == pytest.approx(p, abs=ATOL)

    answer, want = res["answer"], raw["answer"]
    assert isinstance(answer, mh.Answer) and answer.model_version == want["model_version"]
    assert [a.answer for a in answer.answers] == [a["answer"] for a in want["answers"]]
    np.testing.assert_allclose([a.score for a in answer.answers],
                               [a["score"] for a in want["answers"]], atol=ATOL, rtol=0)

    assert [m.name for m in res["models"]] == [m["name"] for m in raw["models"]]
    for got, want in zip(res["models"], raw["models"], strict=True):
        assert [(v.version, v.state) for v in got.versions] == [
            (int(v["version"]), v["state"]) for v in want["versions"]]
        assert [h.name for h in got.heads] == [h["name"] for h in want["heads"]]
        assert list(got.inputs) == [i["name"] if isinstance(i, dict) else i
                                    for i in want["inputs"]]

    for model, outputs in raw["predict"].items():
        assert_arrays_match(res["predict"][model], outputs)
    for model, outputs in raw["heads"].items():
        assert_arrays_match(res["heads"][model], outputs)
    first = res["models"][0].name
    assert_arrays_match(res["versioned"], raw["predict"][first])

    for model, md in raw["metadata"].items():
        got = res["metadata"][model]
        assert got.name == model and got.version == int(md["model_spec"]["version"])
        sigs = md["metadata"]["signature_def"]["signature_def"]
        assert set(got.signatures) == set(sigs)
        for sig_name, sig in sigs.items():
            assert set(got.signatures[sig_name].inputs) == set(sig["inputs"])
            assert set(got.signatures[sig_name].outputs) == set(sig["outputs"])
            for name, info in sig["inputs"].items():
                spec = got.signatures[sig_name].inputs[name]
                dims = [int(d["size"]) for d in info["tensor_shape"]["dim"]]
                assert spec.shape == tuple(None if d < 0 else d for d in dims)
        assert [h.name for h in got.heads] == [
            h["name"] for h in next(m for m in raw["models"] if m["name"] == model)["heads"]]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_sync_client_matches_raw_rest(gateway, raw, transport):
    url = gateway.http_url if transport == "http" else f"grpc://{gateway.grpc_target}"
    with mh.Client(url, timeout=30) as client:
        assert_same_as_raw(collect(client), raw)


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_async_client_matches_raw_rest(gateway, raw, transport):
    url = gateway.http_url if transport == "http" else f"grpc://{gateway.grpc_target}"

    async def go() -> dict[str, Any]:
        async with mh.AsyncClient(url, timeout=30) as client:
            return await acollect(client)

    assert_same_as_raw(asyncio.run(go()), raw)


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_server_errors_arrive_as_the_same_exceptions(gateway, transport):
    url = gateway.http_url if transport == "http" else f"grpc://{gateway.grpc_target}"
    with mh.Client(url, timeout=30, retries=0) as client:
        with pytest.raises(mh.ModelNotFound) as missing:
            client.predict("no_such_model", {"x": [1.0]})
        assert "no_such_model" in missing.value.message
        with pytest.raises(mh.InvalidInput) as bad:
            client.predict("profiler", {"not_an_input": ["hello"]})
        assert bad.value.code == "INVALID_ARGUMENT" and bad.value.message
        with pytest.raises(mh.ModelNotFound):
            client.profile(["hello"], version=999)
        with pytest.raises(mh.InvalidInput):
            client.predict("profiler", SAMPLES["profiler"], heads=["no_such_head"])
