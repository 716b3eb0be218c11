"""Micro-batching: merged results equal unbatched ones, queue limits, deadlines."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serving.config import Settings
from serving.core.batching import Batcher, merge, split
from serving.core.calls import PredictCall
from serving.errors import DeadlineExceeded, Overloaded
from tests.unit.serving.conftest import install, origin, predict_call

pytestmark = pytest.mark.timeout(120)


def affine(arrays: dict, timeout_s: float) -> dict:
    """A real (numpy) model: row-wise, so merging must not change any row."""
    ids = arrays["ids"]
    return {"y": arrays["x"] * 2.0 + 1.0, "n": (ids != 0).sum(axis=1)}


def test_merge_pads_ids_and_split_inverts() -> None:
    parts = [{"x": np.ones((1, 2)), "ids": np.array([[1, 2, 3]])},
             {"x": np.zeros((2, 2)), "ids": np.array([[4], [5]])}]
    merged = merge(parts, frozenset({"ids"}))
    assert merged["ids"].tolist() == [[1, 2, 3], [4, 0, 0], [5, 0, 0]]
    assert merged["x"].shape == (3, 2)
    back = split({"x": merged["x"]}, [1, 2])
    assert back[0]["x"].tolist() == [[1, 1]] and back[1]["x"].tolist() == [[0, 0], [0, 0]]


def test_concurrent_submits_are_merged_and_split_exactly() -> None:
    sizes: list[int] = []
    batcher = Batcher(Settings(max_batch_size=16, batch_timeout_micros=50_000,
                               num_batch_threads=1), on_batch=lambda key, n: sizes.append(n))
    rng = np.random.default_rng(0)
    requests = [{"x": rng.normal(size=(1 + i % 3, 4)).astype(np.float32),
                 "ids": rng.integers(1, 9, size=(1 + i % 3, 1 + i % 4)).astype(np.int32)}
                for i in range(12)]
    start = threading.Barrier(len(requests))

    def call(req: dict) -> dict:
        start.wait()
        return batcher.submit("k", req, len(req["x"]), affine, time.monotonic() + 10,
                              frozenset({"ids"}))

    try:
        with ThreadPoolExecutor(len(requests)) as pool:
            results = list(pool.map(call, requests))
    finally:
        batcher.stop()
    for req, got in zip(requests, results, strict=True):
        want = affine(req, 1.0)
        np.testing.assert_array_equal(got["y"], want["y"])
        np.testing.assert_array_equal(got["n"], want["n"])  # padding changed no count
    assert sum(sizes) == sum(len(r["x"]) for r in requests)
    assert max(sizes) > 1 and all(s <= 16 for s in sizes)


def test_full_queue_is_refused_with_overloaded() -> None:
    release = threading.Event()

    def slow(arrays: dict, timeout_s: float) -> dict:
        release.wait(10)
        return {"y": arrays["x"]}

    batcher = Batcher(Settings(max_batch_size=1, batch_timeout_micros=0, num_batch_threads=1,
                               max_enqueued_batches=1))
    one = {"x": np.ones(1)}
    deadline = time.monotonic() + 10
    try:
        with ThreadPoolExecutor(2) as pool:
            running = pool.submit(batcher.submit, "k", one, 1, slow, deadline)
            time.sleep(0.2)  # the first batch is running; the queue is empty again
            waiting = pool.submit(batcher.submit, "k", one, 1, slow, deadline)
            time.sleep(0.2)  # the second waits in the one allowed queue slot
            with pytest.raises(Overloaded, match="max_enqueued_batches") as err:
                batcher.submit("k", one, 1, slow, deadline)
            assert err.value.status == 429
            release.set()
            assert running.result(10)["y"].tolist() == [1.0]
            assert waiting.result(10)["y"].tolist() == [1.0]
    finally:
        release.set()
        batcher.stop()


def test_deadline_passes_while_waiting() -> None:
    release = threading.Event()

    def slow(arrays: dict, timeout_s: float) -> dict:
        release.wait(10)
        return {"y": arrays["x"]}

    batcher = Batcher(Settings(max_batch_size=1, batch_timeout_micros=0, num_batch_threads=1))
    try:
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(batcher.submit, "k", {"x": np.ones(1)}, 1, slow,
                               time.monotonic() + 10)
            time.sleep(0.1)
            with pytest.raises(DeadlineExceeded):
                batcher.submit("k", {"x": np.ones(1)}, 1, slow, time.monotonic() + 0.1)
            release.set()
            busy.result(10)
    finally:
        release.set()
        batcher.stop()


def test_service_batches_concurrent_predicts_exactly(exports: dict, make_service, tmp_path
                                                     ) -> None:
    repo = str(tmp_path / "repo")
    install(exports["pairs_v1"], repo, "pairs", 1)
    batched = make_service(repo, batch_timeout_micros=30_000, max_batch_size=32)
    plain = make_service(repo, enable_batching=False)
    rng = np.random.default_rng(1)
    calls = []
    for i in range(16):
        n = 1 + i % 3
        words = ["x" * int(k) for k in rng.integers(0, 12, size=2 * n)]
        if i % 2:
            inputs = {"left": words[:n], "right": words[n:], "aux": rng.normal(size=(n, 5))}
            calls.append(predict_call("pairs", inputs))
        else:  # ragged id rows, padded per request and again when merged
            ids = [list(rng.integers(1, 50, size=int(k))) for k in rng.integers(1, 8, size=2 * n)]
            inputs = {"left": ids[:n], "right": ids[n:], "aux": rng.normal(size=(n, 5))}
            calls.append(predict_call("pairs", signature="ids", inputs=inputs,
                                     heads=("kind", "size")))
    start = threading.Barrier(len(calls))

    def run(call: PredictCall):  # noqa: ANN202
        start.wait()
        return batched.predict(origin(), call)

    with ThreadPoolExecutor(len(calls)) as pool:
        results = list(pool.map(run, calls))
    for call, got in zip(calls, results, strict=True):
        want = plain.predict(origin(), call)
        assert sorted(got.outputs) == sorted(want.outputs)
        for name in want.outputs:
            if want.outputs[name].dtype == object:  # labels: exactly
                assert got.outputs[name].tolist() == want.outputs[name].tolist()
            else:  # TF's vectorised kernels may differ by an ulp with the batch size
                np.testing.assert_allclose(got.outputs[name], want.outputs[name], rtol=1e-6,
                                           err_msg=name)
    registry = batched.metrics.registry
    count = registry.get_sample_value("multihead_batch_size_count", {"model": "pairs"})
    ones = registry.get_sample_value("multihead_batch_size_bucket", {"model": "pairs", "le": "1.0"})
    total = registry.get_sample_value("multihead_batch_size_sum", {"model": "pairs"})
    assert total == sum(len(c.decode(None)["aux"]) for c in calls)
    assert count < len(calls) and ones < count  # some backend calls carried merged batches


def test_stop_fails_queued_requests_at_once() -> None:
    from serving.errors import Unavailable

    release = threading.Event()

    def slow(arrays: dict, timeout_s: float) -> dict:
        release.wait(10)
        return {"y": arrays["x"]}

    batcher = Batcher(Settings(max_batch_size=1, batch_timeout_micros=0, num_batch_threads=1))
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(batcher.submit, "k", {"x": np.ones(1)}, 1, slow, deadline)
        time.sleep(0.1)
        queued = pool.submit(batcher.submit, "k", {"x": np.ones(1)}, 1, slow, deadline)
        time.sleep(0.1)
        stopper = pool.submit(batcher.stop)
        with pytest.raises(Unavailable, match="shutting down"):
            queued.result(5)  # long before its 30 s deadline
        release.set()
        stopper.result(10)
        assert running.result(10)["y"].tolist() == [1.0]  # the running batch finishes


def test_a_lone_request_runs_at_once_in_its_own_thread() -> None:
    seen: list[int] = []

    def model(arrays: dict, timeout_s: float) -> dict:
        seen.append(threading.get_ident())
        return {"y": arrays["x"] + 1}

    # A timeout far longer than the test: the adaptive batcher (timeout 0) never waits.
    batcher = Batcher(Settings(max_batch_size=8, batch_timeout_micros=0, num_batch_threads=1))
    try:
        started = time.monotonic()
        for _ in range(50):
            out = batcher.submit("k", {"x": np.ones(1)}, 1, model, time.monotonic() + 10)
            assert out["y"].tolist() == [2.0]
        assert time.monotonic() - started < 5
    finally:
        batcher.stop()
    assert set(seen) == {threading.get_ident()}  # no hand-off to another thread


def test_requests_arriving_during_a_call_merge_into_the_next() -> None:
    sizes: list[int] = []
    entered, release = threading.Event(), threading.Event()

    def model(arrays: dict, timeout_s: float) -> dict:
        if not entered.is_set():
            entered.set()
            release.wait(10)
        return {"y": arrays["x"] * 3}

    batcher = Batcher(Settings(max_batch_size=64, batch_timeout_micros=0, num_batch_threads=1),
                      on_batch=lambda key, n: sizes.append(n))
    deadline = time.monotonic() + 20
    try:
        with ThreadPoolExecutor(7) as pool:
            first = pool.submit(batcher.submit, "k", {"x": np.full(1, 1.0)}, 1, model, deadline)
            assert entered.wait(10)
            rest = [pool.submit(batcher.submit, "k", {"x": np.full(1, float(i))}, 1, model,
                                deadline) for i in range(2, 8)]
            time.sleep(0.3)  # all six wait in one batch while the first call runs
            release.set()
            assert first.result(10)["y"].tolist() == [3.0]
            assert [f.result(10)["y"].tolist() for f in rest] == [[3.0 * i] for i in range(2, 8)]
    finally:
        release.set()
        batcher.stop()
    assert sizes == [1, 6]


def test_an_idle_model_waits_for_requests_on_their_way() -> None:
    from serving.core.batching import ARRIVAL_WAIT_S, Arrivals

    sizes: list[int] = []
    arrivals = Arrivals()
    batcher = Batcher(Settings(max_batch_size=8, batch_timeout_micros=0, num_batch_threads=1),
                      arrivals, on_batch=lambda key, n: sizes.append(n))
    decoding, joined = threading.Event(), []

    def later_request() -> None:  # received whole, still decoding when the first submits
        with arrivals.request():
            decoding.set()
            time.sleep(ARRIVAL_WAIT_S / 3)
            joined.append(batcher.submit("k", {"x": np.full(1, 2.0)}, 1, affine_x,
                                         time.monotonic() + 10))

    try:
        other = threading.Thread(target=later_request)
        other.start()
        assert decoding.wait(5)
        first = batcher.submit("k", {"x": np.full(1, 1.0)}, 1, affine_x, time.monotonic() + 10)
        other.join(5)
        # One that never comes (a /metrics scrape, a rejected body) holds it back briefly.
        release = threading.Event()

        def never_batched() -> None:
            with arrivals.request():
                decoding.set()
                release.wait(5)

        decoding.clear()
        stray = threading.Thread(target=never_batched)
        stray.start()
        assert decoding.wait(5)
        started = time.monotonic()
        alone = batcher.submit("k", {"x": np.full(1, 3.0)}, 1, affine_x, time.monotonic() + 10)
        waited = time.monotonic() - started
        release.set()
        stray.join(5)
    finally:
        batcher.stop()
    assert first["y"].tolist() == [3.0] and joined[0]["y"].tolist() == [5.0]
    assert alone["y"].tolist() == [7.0]
    assert sizes == [2, 1]  # the first waited for the second and ran both at once
    assert waited < 1.0  # bounded by ARRIVAL_WAIT_S (3 ms), not by the stray's 5 s


def affine_x(arrays: dict, timeout_s: float) -> dict:
    return {"y": arrays["x"] * 2.0 + 1.0}
