"""Per-head drift: the bins, the window, the PSI, and a trained model's head gauge under a
stream from its training distribution and over the threshold under a skewed stream, on both
model runtimes (the embedded one and TF Serving's stand-in, in-process)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving import drift
from serving.metrics import Metrics
from tests.unit.serving.conftest import origin, predict_call, settings_for

pytestmark = pytest.mark.timeout(300)
STREAM = 300        # examples per stream: the window's size, above drift.MIN_COUNT
REQUEST_ROWS = 20   # examples per request


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    expected = drift.proportions(np.array([100, 100, 100, 100]))
    assert drift.psi(np.array([50, 50, 50, 50]), expected) == pytest.approx(0, abs=1e-9)
    mild = drift.psi(np.array([60, 40, 50, 50]), expected)
    strong = drift.psi(np.array([200, 0, 0, 0]), expected)
    assert 0 < mild < 0.1 < drift.DRIFT_THRESHOLD < strong


def test_the_window_keeps_the_last_observations() -> None:
    window = drift.Window(n_bins=3, size=4)
    assert window.add([0, 0, 1]) == {0, 1}
    assert window.counts == [2, 1, 0]
    assert window.add([2, 2]) == {0, 2}  # evicts the oldest 0
    assert window.counts == [1, 1, 2]
    window.add([2] * 10)  # more than the window: only the last 4 count
    assert window.counts == [0, 0, 4]


def test_bins_match_between_training_and_serving() -> None:
    from training.drift_stats import head_section

    values = np.linspace(0, 100, 1000)
    section = head_section("regression", None, values)
    series = drift.Series.from_json(section)
    assert series is not None and len(series.bins) == 10
    assert np.bincount(series.bins_of(values), minlength=10).tolist() == section["counts"]
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    multi = drift.Series.from_json(head_section("multiclass", ["a", "b", "c"], probs))
    assert multi.bins == ("a", "b", "c") and multi.bins_of(probs).tolist() == [0, 2]
    stats = drift.text_statistics(["Hello, World!", "unknown words here", ""],
                                  frozenset({"hello", "world", "here"}))
    assert stats["tokens"].tolist() == [2, 3, 0]
    assert stats["oov_rate"].tolist() == pytest.approx([0, 2 / 3, 0])


def test_the_report_pools_workers_and_waits_for_enough_observations() -> None:
    metrics = Metrics()
    for b, p in (("a", 0.5), ("b", 0.5)):
        metrics.drift_head_training.labels("m", "1", "h", b).set(p)
    metrics.drift_head_window.labels("m", "1", "h", "a").set(40)
    (row,) = drift.report(metrics.collect())["heads"]
    assert row["count"] == 40 and row["psi"] is None  # under MIN_COUNT
    metrics.drift_head_window.labels("m", "1", "h", "a").set(150)
    (row,) = drift.report(metrics.collect())["heads"]
    assert row["live"] == [1.0, 0.0] and row["psi"] > drift.DRIFT_THRESHOLD


# -- a trained model under two streams -------------------------------------------------------


def profiler_stream(skewed: bool, n: int = STREAM) -> list[str]:
    """Posts from the profiler's training generator (another seed); skewed: only authors
    of the oldest quarter."""
    from training.data.synthetic import generate

    pool = generate("profiler", n * (6 if skewed else 1), seed=12345)
    posts = np.asarray(pool.inputs["posts"], dtype=object)
    if skewed:
        ages = np.asarray(pool.targets["age"])
        posts = posts[ages >= np.quantile(ages, 0.75)]
    return [str(p) for p in posts[:n]]


def head_psi(service, head: str) -> float:  # noqa: ANN001
    service.drift.flush()  # what the publisher thread does every second
    body, _ = service.metrics.exposition()
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "multihead_drift_head_psi" and sample.labels["head"] == head:
                return sample.value
    raise AssertionError(f"no multihead_drift_head_psi for head {head}")


@pytest.fixture(scope="module")
def profiler_repo(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    card = next((model_repo / "profiler").glob("*/assets.extra/model_card.json"))
    if '"drift"' not in card.read_text():
        raise RuntimeError(f"{card} has no drift section: the repository was exported before "
                           "training/drift_stats.py; export it again (or unset "
                           "MULTIHEAD_TEST_MODEL_REPO)")
    root = tmp_path_factory.mktemp("drift-repo")
    shutil.copytree(model_repo / "profiler", root / "profiler")
    return str(root)


@pytest.fixture(params=["embedded", "tfserving"])
def runtime(request: pytest.FixtureRequest, profiler_repo: str) -> Iterator[object]:
    from serving.core.service import InferenceService

    settings = settings_for(profiler_repo, drift_window=STREAM)
    server = None
    if request.param == "embedded":
        from serving.backends.embedded import EmbeddedBackend

        backend = EmbeddedBackend(settings)
    else:
        from serving.backends.tfserving import TFServingBackend
        from tests.fakes.tfserving_fake import start_in_process

        server, _, address = start_in_process(profiler_repo)
        settings = settings.replace(backend="tfserving", tfserving_addr=address)
        backend = TFServingBackend(settings)
    service = InferenceService(settings, backend, Metrics())
    service.start()
    try:
        assert service.wait_ready(60), service.readiness()
        yield service
    finally:
        service.stop()
        if server is not None:
            server.stop(0)


def send(service, posts: list[str]) -> None:  # noqa: ANN001
    for i in range(0, len(posts), REQUEST_ROWS):
        rows = np.array(posts[i:i + REQUEST_ROWS], dtype=object)
        service.predict(origin(), predict_call("profiler", {"posts": rows}))


def test_a_skewed_stream_drives_the_head_over_the_threshold(runtime) -> None:  # noqa: ANN001
    service = runtime
    send(service, profiler_stream(skewed=False))
    calm = head_psi(service, "age")
    assert calm < drift.DRIFT_THRESHOLD
    send(service, profiler_stream(skewed=True))  # fills the whole window
    shifted = head_psi(service, "age")
    assert shifted > drift.DRIFT_THRESHOLD
    report = service.drift_report()
    (age,) = [r for r in report["heads"] if r["head"] == "age"]
    assert age["count"] == STREAM and age["psi"] == pytest.approx(shifted)
    assert sum(age["training"]) == pytest.approx(1) and sum(age["live"]) == pytest.approx(1)
    # The input statistics come from the same calls (a sample of each).
    tokens = [r for r in report["inputs"] if (r["input"], r["statistic"]) ==
              ("posts", "tokens")]
    assert tokens and tokens[0]["count"] > 0
