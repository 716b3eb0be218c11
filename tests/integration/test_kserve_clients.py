"""KServe's Python SDK clients (`InferenceRESTClient` with protocol v2, and
`InferenceGRPCClient`), unchanged, against the gateway: health, readiness, and infer in
JSON and binary form, equal to the TF Serving REST answer. They run in KServe's own
environment (tests/bench/peers/kserve, its own lock: kserve's pins conflict with the
project's), built with the locked uv."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import Gateway
from tests.lockfile import uv
from tests.processes import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
EMBEDDED = pytest.mark.parametrize("gateway", ["embedded"], indirect=True)
PROJECT = REPO_ROOT / "tests" / "bench" / "peers" / "kserve"
VENV = REPO_ROOT / "build" / "bench-venvs" / "kserve"  # the same one `make bench` uses
SCRIPT = Path(__file__).with_name("kserve_client_script.py")


@pytest.fixture(scope="module")
def kserve_python() -> Path:
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV), "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run([uv(), "sync", "--frozen", "--quiet", "--project", str(PROJECT),
                           "--python", "python3.11"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return VENV / "bin" / "python"


@EMBEDDED
def test_kserve_clients_work_unchanged(kserve_python: Path, gateway: Gateway) -> None:
    done = subprocess.run([str(kserve_python), str(SCRIPT), gateway.http_url,
                           gateway.grpc_target], capture_output=True, text=True, timeout=180,
                          cwd=SCRIPT.parent)  # not the checkout's root: kserve's own imports
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("rest_live", "rest_ready", "rest_model_ready", "grpc_live", "grpc_ready",
                "grpc_model_ready"):
        assert out[key] is True, key
    want = gateway.post("/v1/models/profiler:predict", {"inputs": {"posts": [
        "exam week on campus", "retirement party at the golf club"]}}).json()["outputs"]
    for transport in ("rest", "grpc"):
        for binary in (False, True):
            got = out[f"{transport}_binary_{binary}"]
            assert got["id"] == f"{transport}-{binary}"
            for head in ("age", "gender", "income"):
                np.testing.assert_allclose(np.ravel(got["outputs"][head]), np.ravel(want[head]),
                                           atol=1e-5, err_msg=f"{transport} {binary} {head}")
