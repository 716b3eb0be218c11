"""Triton's own load tool, unchanged, against the gateway: perf_analyzer 2.60 starts from the
gateway's metadata and model configuration alone (no --shape flags) over OIP v2 REST and
gRPC, and over TF Serving's gRPC API (`--service-kind=tfserving`), and measures without
an error. Installed by scripts/install-perf-analyzer.sh from the package registries."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.bench.perf_analyzer import parse_csv, parse_request_count
from tests.integration.conftest import Gateway
from tests.processes import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
EMBEDDED = pytest.mark.parametrize("gateway", ["embedded"], indirect=True)
TOOL_DIR = REPO_ROOT / "build" / "tools" / "perf_analyzer"


@pytest.fixture(scope="module")
def perf_analyzer() -> Path:
    done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "install-perf-analyzer.sh"),
                           str(TOOL_DIR)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return TOOL_DIR / "bin" / "perf_analyzer"


def _run(tool: Path, tmp_path: Path, *args: str) -> dict[str, float]:
    out = tmp_path / "pa.csv"
    done = subprocess.run([str(tool), *args, "--concurrency-range", "2:2",
                           "--measurement-interval", "300", "--max-trials", "3",
                           "--stability-percentage", "999", "-f", str(out)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and out.is_file(), done.stdout[-3000:] + done.stderr[-2000:]
    assert "--shape" not in " ".join(args)
    got = parse_csv(out.read_text())
    assert got["rps"] > 0 and parse_request_count(done.stdout) > 0, done.stdout[-2000:]
    return got


@EMBEDDED
@pytest.mark.parametrize("model", ["profiler", "headline"])
@pytest.mark.parametrize("kind", ["v2-http", "v2-grpc", "tfserving-grpc"])
def test_perf_analyzer_runs_unchanged(perf_analyzer: Path, gateway: Gateway, tmp_path: Path,
                                      model: str, kind: str) -> None:
    http = urlsplit(gateway.http_url).netloc
    if kind == "v2-http":
        args = ["-m", model, "-u", http, "-i", "http"]
    elif kind == "v2-grpc":
        args = ["-m", model, "-u", gateway.grpc_target, "-i", "grpc"]
    else:
        # TF Serving's metadata has no batch size: perf_analyzer then needs -b (it reads the
        # leading -1 of every input as the batch dim).
        args = ["-m", model, "-u", gateway.grpc_target, "-i", "grpc",
                "--service-kind=tfserving", "-b", "1"]
    got = _run(perf_analyzer, tmp_path, *args)
    assert got["p50_ms"] > 0
