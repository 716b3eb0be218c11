"""Metrics: own registries, promtool-clean exposition, multiprocess sums."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.metrics import Metrics

pytestmark = pytest.mark.timeout(120)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
PROMTOOL = shutil.which("promtool")

EXERCISE = """
from serving.metrics import Metrics
m = Metrics()
m.record_request("pairs", "1", "tfserving", "rest", "OK", 0.01)
m.record_request("pairs", "1", "multihead", "grpc", "INVALID_ARGUMENT", 0.002)
m.record_batch("pairs", 3)
m.record_backend_call("pairs", "embedded", 0.004)
m.record_labels("pairs", "match", ["yes", "no", "yes"])
m.record_values("pairs", "size", [1.5, 40.0])
m.set_model_loaded("pairs", 1, True)
m.inflight.inc()
"""


def exercise(m: Metrics) -> None:
    exec(EXERCISE.replace("m = Metrics()", ""), {"Metrics": Metrics, "m": m})  # noqa: S102


def promtool_check(body: bytes) -> None:
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                          timeout=30)
    report = (proc.stdout + proc.stderr).decode()
    assert proc.returncode == 0 and report.strip() == "", report


def test_each_metrics_object_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()  # a second one on the global registry would raise
    a.record_request("m", "1", "tfserving", "rest", "OK")
    assert a.registry.get_sample_value("multihead_requests_total", {
        "model": "m", "version": "1", "protocol": "tfserving", "transport": "rest",
        "code": "OK"}) == 1
    assert b.registry.get_sample_value("multihead_requests_total", {
        "model": "m", "version": "1", "protocol": "tfserving", "transport": "rest",
        "code": "OK"}) is None


def test_exposition_names_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    m = Metrics()
    exercise(m)
    body, content_type = m.exposition()
    assert content_type.startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    for want in ("multihead_requests", "multihead_request_duration_seconds",
                 "multihead_backend_duration_seconds", "multihead_batch_size",
                 "multihead_inflight_requests", "multihead_head_predictions",
                 "multihead_head_value", "multihead_model_loaded"):
        assert want in names
    text = body.decode()
    assert 'multihead_head_predictions_total{head="match",label="yes",model="pairs"} 2.0' in text
    assert 'multihead_batch_size_bucket{le="4.0",model="pairs"} 1.0' in text


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
def test_promtool_accepts_single_process_exposition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    m = Metrics()
    exercise(m)
    promtool_check(m.exposition()[0])


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
def test_multiprocess_exposition_sums_workers(tmp_path) -> None:
    """Two 'workers' write samples; a third process exposes the sum (gunicorn's case)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", EXERCISE], cwd=ROOT, env=env, check=True,
                       timeout=60)
    expose = ("import sys\nfrom serving.metrics import Metrics\n"
              "sys.stdout.buffer.write(Metrics().exposition()[0])\n")
    body = subprocess.run([sys.executable, "-c", expose], cwd=ROOT, env=env, check=True,
                          capture_output=True, timeout=60).stdout
    text = body.decode()
    assert ('multihead_requests_total{code="OK",model="pairs",protocol="tfserving",'
            'transport="rest",version="1"} 2.0' in text)
    assert 'multihead_batch_size_count{model="pairs"} 2.0' in text
    promtool_check(body)
