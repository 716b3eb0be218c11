"""Table-driven bad requests (tests/integration/data/bad_requests.json) against the
gateway's app, in-process, on each model runtime (what a field means does not depend on
the transport; tests/integration/inprocess.py): each gets its documented 4xx, the JSON
error shape, and a message naming the field; afterwards the service still answers
correctly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import SAMPLES, assert_outputs_equal

pytestmark = pytest.mark.slow

CASES = json.loads((Path(__file__).parent / "data" / "bad_requests.json").read_text())["cases"]


def _expand(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("@tokens:"):
        return [2] * int(value.split(":", 1)[1])
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def _content(case: dict[str, Any]) -> bytes | None:
    if "raw" in case:
        return case["raw"].encode()
    if "pad_to_bytes" in case:
        filler = "x" * case["pad_to_bytes"]
        return json.dumps({"instances": [filler]}).encode()
    if "body" in case:
        return json.dumps(_expand(case["body"])).encode()
    return None


def test_table_is_large_and_distinct():
    assert len(CASES) >= 40
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert len({json.dumps([c["path"], c.get("body"), c.get("raw")]) for c in CASES}) \
        == len(CASES)
    models = {c["path"].split("/")[3].split(":")[0] for c in CASES
              if c["path"].startswith("/v1/models/")}
    assert {"qa", "profiler", "similarity", "headline"} <= models


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_request_gets_documented_error(inprocess, case):
    resp = inprocess.client.request(case["method"], case["path"], content=_content(case))
    assert resp.status_code == case["status"], resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) >= {"error", "code"}, body
    assert body["code"] == case["code"], body
    message = body["error"]
    assert isinstance(message, str) and 10 <= len(message) <= 400, message
    for word in case["mentions"]:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"


def test_still_serving_correctly_after_bad_requests(inprocess, reference):
    assert inprocess.client.get("/readyz").status_code == 200
    resp = inprocess.client.post("/v1/models/headline:predict",
                                 json={"inputs": SAMPLES["headline"]})
    assert resp.status_code == 200, resp.text
    assert_outputs_equal(resp.json()["outputs"], reference("headline", SAMPLES["headline"]))
