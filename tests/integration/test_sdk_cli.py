"""`mh-client` as a subprocess against the live gateway: the documented commands, --json,
--url / MULTIHEAD_URL, and a non-zero exit with the server's message on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.integration.conftest import SAMPLES, Gateway

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
# conftest\'s session `gateway` fixture, pinned to the embedded runtime.
EMBEDDED = pytest.mark.parametrize("gateway", ["embedded"], indirect=True)

SCRIPT = Path(sys.executable).parent / "mh-client"  # the console script `pip install` wrote
POSTS = ["my toddler starts daycare", "the mortgage is due", "", "school run again"]


def mh_client(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "multihead_client.cli"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIHEAD_")}
    full_env.update(env or {})
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120,
                          env=full_env)


def raw(gateway: Gateway, path: str, body: dict) -> dict:
    r = httpx.post(gateway.http_url + path, json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


@EMBEDDED
def test_similarity(gateway):
    want = raw(gateway, "/v1/similarity",
               {"pairs": [["How old are you?", "What is your age?"]]})["scores"][0]
    plain = mh_client("--url", gateway.http_url, "similarity", "How old are you?",
                      "What is your age?")
    assert plain.returncode == 0, plain.stderr
    assert float(plain.stdout) == pytest.approx(want, abs=1e-4)  # printed to 4 places
    as_json = mh_client("--url", f"grpc://{gateway.grpc_target}", "--json", "similarity",
                        "How old are you?", "What is your age?")
    assert json.loads(as_json.stdout)["score"] == pytest.approx(want, abs=1e-5)


@EMBEDDED
def test_profile_reads_one_post_per_line(gateway, tmp_path):
    posts = tmp_path / "posts.txt"
    posts.write_text("\n".join(POSTS) + "\n")
    want = raw(gateway, "/v1/profile", {"authors": [[p for p in POSTS if p]]})["profiles"][0]
    result = mh_client("--url", gateway.http_url, "--json", "profile", str(posts))
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["age"] == pytest.approx(want["age"], abs=1e-5)
    assert got["income"]["label"] == want["income"]["label"]
    assert got["gender"]["probability"] == pytest.approx(want["gender"]["probability"],
                                                         abs=1e-5)
    plain = mh_client("--url", gateway.http_url, "profile", str(posts))
    assert plain.returncode == 0 and "years" in plain.stdout
    assert want["income"]["label"] in plain.stdout


@EMBEDDED
def test_predict_with_json_inputs(gateway):
    inputs = {"posts": SAMPLES["profiler"]["posts"][:2]}
    want = raw(gateway, "/v1/models/profiler:predict", {"inputs": inputs})["outputs"]
    result = mh_client("--url", gateway.http_url, "--json", "predict", "profiler",
                       json.dumps(inputs))
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert set(got) == set(want)
    for head, value in want.items():
        if isinstance(np.asarray(value).flat[0], str):
            assert got[head] == value
        else:
            np.testing.assert_allclose(got[head], value, atol=1e-5, rtol=0)


@EMBEDDED
def test_models_and_url_from_environment(gateway):
    result = mh_client("models", env={"MULTIHEAD_URL": f"grpc://{gateway.grpc_target}"})
    assert result.returncode == 0, result.stderr
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert sorted(names) == sorted(SAMPLES)
    assert "heads=age,income,gender" in result.stdout


@EMBEDDED
def test_answer(gateway):
    text, question = SAMPLES["qa"]["text"][0], SAMPLES["qa"]["question"][0]
    want = raw(gateway, "/v1/answer", {"text": text, "question": question, "top_k": 2})
    result = mh_client("--url", gateway.http_url, "answer", text, question, "--top-k", "2")
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [
        a["answer"] for a in want["answers"]]


@EMBEDDED
@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_failure_exits_non_zero_with_the_servers_message(gateway, transport):
    url = gateway.http_url if transport == "http" else f"grpc://{gateway.grpc_target}"
    server = httpx.post(gateway.http_url + "/v1/models/no_such_model:predict", timeout=30,
                        json={"inputs": {"x": [1.0]}}).json()
    result = mh_client("--url", url, "predict", "no_such_model", '{"x": [1.0]}')
    assert result.returncode == 1
    assert server["error"] in result.stderr and "NOT_FOUND" in result.stderr
    assert result.stdout == ""
    as_json = mh_client("--url", url, "--json", "predict", "no_such_model", '{"x": [1.0]}')
    assert as_json.returncode == 1
    assert json.loads(as_json.stderr) == {"error": server["error"], "code": "NOT_FOUND"}


def test_client_side_and_usage_errors():
    unreachable = mh_client("--url", "http://127.0.0.1:9", "--retries", "0", "models")
    assert unreachable.returncode == 1 and "cannot reach the server" in unreachable.stderr
    bad_json = mh_client("predict", "profiler", "{not json")
    assert bad_json.returncode == 1 and "inputs must be a JSON object" in bad_json.stderr
    missing = mh_client("profile", "/nonexistent/posts.txt")
    assert missing.returncode == 1 and "cannot read posts file" in missing.stderr
    usage = mh_client("similarity", "only one sentence")
    assert usage.returncode == 2 and "usage:" in usage.stderr
