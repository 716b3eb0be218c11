"""Micro-batching over HTTP: concurrent clients' answers equal unbatched answers (a
direct call per example), and the batch-size histogram records merged batches."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import pytest

from tests.integration.conftest import SAMPLES

pytestmark = pytest.mark.slow

CLIENTS = 16
REQUESTS_EACH = 4


def _batches_over_one(gateway, model: str) -> float:
    total = gateway.metric("multihead_batch_size_count", model=model)
    ones = gateway.metric("multihead_batch_size_bucket", model=model, le="1.0")
    return total - ones


def test_concurrent_requests_are_merged_and_split_back_exactly(gateway, reference):
    words = " ".join(SAMPLES["profiler"]["posts"]).split()
    # Distinct single-example requests: row i is a different text per client and request.
    texts = [" ".join(words[i % len(words):] + words[:i % len(words)]) + f" week {i}"
             for i in range(CLIENTS * REQUESTS_EACH)]
    expected = {t: reference("profiler", {"posts": [t]}) for t in texts}  # unbatched
    before = _batches_over_one(gateway, "profiler")

    barrier = threading.Barrier(CLIENTS)
    answers: dict[str, dict] = {}
    errors: list[str] = []

    def client(k: int) -> None:
        with httpx.Client(base_url=gateway.http_url, timeout=60) as http:
            barrier.wait()
            for j in range(REQUESTS_EACH):
                text = texts[k * REQUESTS_EACH + j]
                resp = http.post("/v1/models/profiler:predict", json={"instances": [text]})
                if resp.status_code != 200:
                    errors.append(resp.text)
                    continue
                answers[text] = resp.json()["predictions"][0]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(answers) == len(texts)
    for text, got in answers.items():
        want = expected[text]
        assert set(got) == set(want)
        for head, value in want.items():
            if value.dtype.kind in "OSU":
                assert got[head] == value[0].decode(), (text, head)
            else:
                np.testing.assert_allclose(got[head], value[0], atol=1e-5, err_msg=head)
    assert _batches_over_one(gateway, "profiler") > before, \
        "no model call ran more than one example: requests were not merged"
