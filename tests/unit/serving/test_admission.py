"""Admission by time (serving/core/admission.py) on the one predict path: a request that
waited past its queue budget, whose deadline passed or whose client went away is dropped
before its model runs, answered 503 + Retry-After / 504 / 499, and counted by reason."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serving.config import Settings
from serving.core.batching import Batcher
from serving.core.calls import Origin
from serving.core.deadline import Deadline
from serving.errors import Cancelled, DeadlineExceeded, Shed
from tests.unit.serving.conftest import install, predict_call

pytestmark = pytest.mark.timeout(120)
PAIRS = {"left": ["ab"], "right": ["c"], "aux": [[1, 2, 3, 4, 5]]}


@pytest.fixture(scope="module")
def service(exports: dict, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from serving.backends.embedded import EmbeddedBackend
    from serving.core.service import InferenceService
    from serving.metrics import Metrics
    from tests.unit.serving.conftest import settings_for

    repo = str(tmp_path_factory.mktemp("admission-repo"))
    install(exports["pairs_v1"], repo, "pairs", 1)
    settings = settings_for(repo, max_queue_wait_s=0.5)
    svc = InferenceService(settings, EmbeddedBackend(settings), Metrics())
    svc.start()
    assert svc.backend.wait_ready(60), svc.readiness()
    yield svc
    svc.stop()


def shed_count(svc, reason: str) -> float:  # noqa: ANN001
    return svc.metrics.registry.get_sample_value(
        "multihead_shed_requests_total", {"model": "pairs", "reason": reason}) or 0.0


def received(seconds_ago: float, timeout_s: float = 30.0, gone=None) -> Origin:  # noqa: ANN001
    return Origin("tfserving", "rest",
                  Deadline.start(timeout_s, received=time.monotonic() - seconds_ago), gone=gone)


def test_a_request_that_waited_past_its_budget_is_shed(service) -> None:  # noqa: ANN001
    before = shed_count(service, "queue_time")
    with pytest.raises(Shed, match="waited 2.0. s .*max_queue_wait_s") as err:
        service.predict(received(2.0), predict_call("pairs", PAIRS))
    assert err.value.status == 503 and err.value.code == "UNAVAILABLE"
    assert err.value.retry_after_s == 1
    assert shed_count(service, "queue_time") == before + 1
    # within its budget it runs
    assert service.predict(received(0.1), predict_call("pairs", PAIRS)).outputs


def test_the_deadline_counts_from_when_the_request_was_received(service) -> None:  # noqa: ANN001
    before = shed_count(service, "deadline")
    with pytest.raises(DeadlineExceeded, match="request deadline passed"):
        service.predict(received(0.3, timeout_s=0.2), predict_call("pairs", PAIRS))
    assert shed_count(service, "deadline") == before + 1


def test_work_whose_client_left_is_dropped(service) -> None:  # noqa: ANN001
    before = shed_count(service, "client_gone")
    with pytest.raises(Cancelled) as err:
        service.predict(received(0.0, gone=lambda: True), predict_call("pairs", PAIRS))
    assert err.value.status == 499
    assert shed_count(service, "client_gone") == before + 1


def test_the_batcher_drops_a_refused_request_and_runs_the_rest() -> None:
    """Requests wait while the model runs; right before their batch runs, the one whose
    admission now fails is answered with that error, the others run without it."""
    started, release = threading.Event(), threading.Event()
    batches: list[list[float]] = []

    def model(arrays: dict, timeout_s: float) -> dict:
        batches.append(arrays["x"].tolist())
        started.set()
        release.wait(10)
        return {"y": arrays["x"] * 2}

    batcher = Batcher(Settings(max_batch_size=8, batch_timeout_micros=0, num_batch_threads=1))
    deadline = time.monotonic() + 10
    shed = Shed("waited too long", shed="queue_time")

    def refuse() -> float:
        raise shed

    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(batcher.submit, "k", {"x": np.full(1, 1.0)}, 1, model, deadline)
            assert started.wait(10)
            waiting = [pool.submit(batcher.submit, "k", {"x": np.full(1, v)}, 1, model,
                                   deadline, admit=admit)
                       for v, admit in ((2.0, None), (3.0, refuse), (4.0, lambda: 1.0))]
            bound = time.monotonic() + 10
            while sum(len(b.tasks) for q in batcher._queues.values() for b in q) < 3:
                assert time.monotonic() < bound, "the requests never queued"
                time.sleep(0.005)
            release.set()
            assert first.result(10)["y"].tolist() == [2.0]
            assert waiting[0].result(10)["y"].tolist() == [4.0]
            with pytest.raises(Shed) as err:
                waiting[1].result(10)
            assert err.value is shed
            assert waiting[2].result(10)["y"].tolist() == [8.0]
    finally:
        release.set()
        batcher.stop()
    assert batches == [[1.0], [2.0, 4.0]]  # the refused request never reached the model


def test_rest_answers_a_shed_request_503_with_retry_after(service) -> None:  # noqa: ANN001
    from serving.rest import create_app
    from serving.rest.context import RECEIVED_AT

    client = create_app(service.settings, service).test_client()
    body = {"instances": [{"left": "ab", "right": "c", "aux": [1, 2, 3, 4, 5]}]}
    resp = client.post("/v1/models/pairs:predict", json=body,
                       environ_base={RECEIVED_AT: time.monotonic() - 5})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    assert resp.json["code"] == "UNAVAILABLE" and "max_queue_wait_s" in resp.json["error"]


@pytest.mark.parametrize("header,status", [("0", 504), ("60000", 200), ("soon", 200)])
def test_rest_honours_the_callers_timeout_header(service, header: str, status: int) -> None:  # noqa: ANN001
    """Envoy's x-envoy-expected-rq-timeout-ms shortens the deadline; a value that is no
    whole number of milliseconds is ignored."""
    from serving.rest import create_app

    client = create_app(service.settings, service).test_client()
    body = {"instances": [{"left": "ab", "right": "c", "aux": [1, 2, 3, 4, 5]}]}
    resp = client.post("/v1/models/pairs:predict", json=body,
                       headers={"X-Envoy-Expected-Rq-Timeout-Ms": header})
    assert resp.status_code == status, resp.json
    if status == 504:
        assert "client's deadline passed" in resp.json["error"]
