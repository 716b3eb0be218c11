"""Prometheus metrics across gunicorn workers: K requests on fresh connections show as
K in multihead_requests_total whichever worker answers /metrics; `promtool check
metrics` finds nothing; a real Prometheus server scrapes the gateway and its HTTP
API returns the same count."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SAMPLES, metric_value
from tests.processes import free_port, wait_until

pytestmark = pytest.mark.slow

K = 24
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def _requests_total(gateway, model: str) -> float:
    return gateway.metric("multihead_requests_total", model=model)


def test_requests_from_every_worker_are_counted(gateway):
    before = _requests_total(gateway, "headline")

    def post(_: int) -> int:
        # A new connection each time; concurrent, so a busy worker leaves some to the other
        # (the workers share one listening socket: serving/lifecycle.py).
        return httpx.post(gateway.http_url + "/v1/models/headline:predict",
                          json={"inputs": SAMPLES["headline"]}, timeout=30).status_code

    sent = 0
    for _ in range(10):  # bounded: until both workers have answered some
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(post, range(K))) == {200}
        sent += K
        per_worker = _per_worker_requests(gateway.metrics_dir, "headline")
        if len([n for n in per_worker.values() if n > 0]) == 2:
            break
    # Whichever worker answers /metrics (fresh connections), it reports the merged total.
    for _ in range(6):
        text = httpx.get(gateway.http_url + "/metrics", timeout=30).text
        assert metric_value(text, "multihead_requests_total", model="headline") == before + sent
    # And more than one worker did the counting.
    per_worker = _per_worker_requests(gateway.metrics_dir, "headline")
    assert sum(per_worker.values()) == before + sent
    assert len([n for n in per_worker.values() if n > 0]) == 2, per_worker
    text = httpx.get(gateway.http_url + "/metrics", timeout=30).text
    assert metric_value(text, "multihead_requests_total", model="headline", code="OK",
                        protocol="tfserving", transport="rest") >= sent
    assert metric_value(text, "multihead_request_duration_seconds_count",
                        model="headline") >= sent


def _per_worker_requests(metrics_dir: str, model: str) -> dict[str, float]:
    """requests_total of `model` per worker, read from prometheus_client's per-pid files."""
    from prometheus_client.mmap_dict import MmapedDict

    counts: dict[str, float] = {}
    for path in Path(metrics_dir).glob("counter_*.db"):
        total = 0.0
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            metric, _name, labels, _help = json.loads(key)
            if metric == "multihead_requests" and labels.get("model") == model:
                total += value
        counts[path.stem] = total
    return counts


@pytest.mark.skipif(not os.path.exists(PROMTOOL),
                    reason="promtool (Debian package prometheus) is not installed")
def test_promtool_check_metrics_is_clean(gateway):
    gateway.post("/v1/models/profiler:predict", {"instances": SAMPLES["profiler"]["posts"]})
    text = gateway.get("/metrics").text
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                           capture_output=True, timeout=60)
    assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), \
        check.stdout + check.stderr


@pytest.mark.skipif(not os.path.exists(PROMETHEUS),
                    reason="prometheus (Debian package) is not installed")
def test_real_prometheus_scrapes_the_count(gateway, tmp_path):
    target = gateway.http_url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: multihead\n    scrape_interval: 1s\n"
        f"    static_configs:\n      - targets: ['{target}']\n")
    port = free_port()
    server = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    api = f"http://127.0.0.1:{port}"
    try:
        for _ in range(5):
            gateway.post("/v1/models/similarity:predict", {"inputs": SAMPLES["similarity"]})
        expected = _requests_total(gateway, "similarity")
        assert expected >= 5
        query = 'sum(multihead_requests_total{job="multihead",model="similarity"})'
        answers: list[float | None] = []

        def scraped() -> bool:
            try:
                body = httpx.get(f"{api}/api/v1/query", params={"query": query},
                                 timeout=5).json()
                result = body["data"]["result"]
                answers.append(float(result[0]["value"][1]) if result else None)
            except (httpx.HTTPError, ValueError, KeyError):
                answers.append(None)
            return answers[-1] == expected

        wait_until(scraped, 90, 0.5, what=f"Prometheus counting the gateway's {expected}",
                   diagnose=lambda: f"it answered {answers[-1:]}")
        up = httpx.get(f"{api}/api/v1/query", params={"query": 'up{job="multihead"}'},
                       timeout=5).json()["data"]["result"]
        assert up and up[0]["value"][1] == "1"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
