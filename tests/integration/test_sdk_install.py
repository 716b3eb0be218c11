"""`pip install ./clients/python` into a fresh venv: no TensorFlow there, the gRPC stubs
generated at build time, and the SDK (REST and gRPC) and its `mh-client` script work
against the live gateway from that venv."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SAMPLES, Gateway
from tests.lockfile import export_constraints, uv
from tests.processes import REPO_ROOT

CLIENT_DIR = REPO_ROOT / "clients" / "python"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
# conftest\'s session `gateway` fixture, pinned to the embedded runtime.
EMBEDDED = pytest.mark.parametrize("gateway", ["embedded"], indirect=True)

SCRIPT = r"""
import json, sys
import multihead_client as mh
http_url, grpc_url = sys.argv[1], sys.argv[2]
out = {}
for url in (http_url, grpc_url):
    with mh.Client(url, timeout=30) as c:
        out[url.split(":")[0]] = {
            "similarity": c.similarity("How old are you?", "What is your age?"),
            "age": c.profile(["exam week on campus", "my roommate found a thrift store"]).age,
            "predict": c.predict("profiler", {"posts": ["exam week on campus"]},
                                 heads=["age"])["age"].ravel().tolist(),
            "models": [m.name for m in c.models()],
        }
try:
    mh.Client(grpc_url, retries=0).predict("no_such_model", {"x": [1.0]})
except mh.ModelNotFound as exc:
    out["error"] = exc.code
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def sdk_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no pip of its own) with only the SDK installed, as a user installs it,
    with its dependencies and build requirements held to the versions uv.lock pins."""
    tmp = tmp_path_factory.mktemp("sdk")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    constraints = export_constraints(tmp / "constraints.txt")
    # setuptools builds in-tree; stale build output would end up in the wheel.
    shutil.rmtree(CLIENT_DIR / "build", ignore_errors=True)
    result = subprocess.run(
        [uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
         "--constraint", str(constraints), "--build-constraint", str(constraints),
         "--no-cache", str(CLIENT_DIR)],
        capture_output=True, text=True, timeout=480)
    shutil.rmtree(CLIENT_DIR / "build", ignore_errors=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return venv


def run_in(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "python"), *args], capture_output=True,
                          text=True, timeout=120, cwd=venv)  # cwd: not the checkout


def test_fresh_venv_has_no_tensorflow_and_generated_stubs(sdk_venv):
    code = ("import importlib.util, json, multihead_client, multihead_client._proto as p, "
            "pathlib; pkg = pathlib.Path(multihead_client.__file__).parent; print(json.dumps("
            "{'tf': importlib.util.find_spec('tensorflow') is not None, 'file': str(pkg), "
            "'files': sorted(f.name for f in pathlib.Path(p.__file__).parent.iterdir())}))")
    result = run_in(sdk_venv, "-c", code)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["tf"] is False
    assert info["file"].startswith(str(sdk_venv))  # the installed copy, not the checkout
    assert {"gateway_pb2.py", "gateway_pb2_grpc.py", "gateway_pb2.pyi"} <= set(info["files"])
    assert (Path(info["file"]) / "py.typed").is_file()
    pip_list = run_in(sdk_venv, "-c", "import importlib.metadata as m; print(sorted("
                      "d.metadata['Name'].lower() for d in m.distributions()))")
    assert "tensorflow" not in pip_list.stdout and "multihead-client" in pip_list.stdout


@EMBEDDED
def test_sdk_from_fresh_venv_works_against_live_gateway(sdk_venv, gateway: Gateway):
    grpc_url = f"grpc://{gateway.grpc_target}"
    result = run_in(sdk_venv, "-c", SCRIPT, gateway.http_url, grpc_url)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    raw = httpx.post(gateway.http_url + "/v1/similarity", timeout=30, json={
        "pairs": [["How old are you?", "What is your age?"]]}).json()["scores"][0]
    for transport in ("http", "grpc"):
        assert out[transport]["similarity"] == pytest.approx(raw, abs=1e-5)
        assert sorted(out[transport]["models"]) == sorted(SAMPLES)
        assert out[transport]["predict"] == pytest.approx(out["http"]["predict"], abs=1e-5)
    assert out["grpc"]["age"] == pytest.approx(out["http"]["age"], abs=1e-5)
    assert out["error"] == "NOT_FOUND"


@EMBEDDED
def test_console_script_installed_in_fresh_venv(sdk_venv, gateway: Gateway):
    result = subprocess.run([str(sdk_venv / "bin" / "mh-client"), "--url", gateway.http_url,
                             "--json", "models"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted(m["name"] for m in json.loads(result.stdout)) == sorted(SAMPLES)
