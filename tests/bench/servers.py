"""The servers `make bench` loads: one start function per contender, each on free loopback
ports, each waiting until every worker can answer, each returning a `procs.Server`.

All run the same worker count (the gateway's `workers`); per-request logging is
off in all of them. The peers' start-up follows their own documentation: uvicorn
`--workers`, `kserve.ModelServer(workers=...)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.bench.procs import REPO_ROOT, Server, free_port

KSERVE_VENV = REPO_ROOT / "build" / "bench-venvs" / "kserve"
KSERVE_DIR = Path(__file__).with_name("peers") / "kserve"


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MULTIHEAD_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                            os.environ.get("PYTHONPATH")]))})
    env.update(extra)
    return env


def _spawn(name: str, argv: list[str], env: dict[str, str], http_port: int | None,
           grpc_port: int | None, workers: int) -> Server:
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
    process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return Server(name, process, f"http://127.0.0.1:{http_port}" if http_port else None,
                  f"127.0.0.1:{grpc_port}" if grpc_port else None, Path(log.name), workers)


def _ready(server: Server, path: str | None = None, line: str | None = None) -> Server:
    try:
        if path:
            server.wait_ready(path)
        if line:
            server.wait_line(line)
    except BaseException:
        server.stop()
        raise
    return server


def worker_env(workers: int, threads: int) -> dict[str, str]:
    """The gateway's worker settings, as every Flask/gunicorn contender reads them."""
    # Per-request logging off in every contender: the gateway's access log too.
    return {"MULTIHEAD_WORKERS": str(workers), "MULTIHEAD_THREADS": str(threads),
            "MULTIHEAD_LOG_LEVEL": "WARNING", "MULTIHEAD_ACCESS_LOG": "false"}


def start_gateway(model_dir: Path, workers: int, threads: int,
                  env: dict[str, str] | None = None, name: str = "gateway") -> Server:
    """`python -m serving` (gunicorn, embedded runtime) exactly as a user runs it."""
    http_port, grpc_port = free_port(), free_port()
    full = clean_env({
        "MULTIHEAD_BACKEND": "embedded", "MULTIHEAD_MODEL_DIR": str(model_dir),
        "MULTIHEAD_HOST": "127.0.0.1", "MULTIHEAD_HTTP_PORT": str(http_port),
        "MULTIHEAD_GRPC_PORT": str(grpc_port), **worker_env(workers, threads), **(env or {})})
    return _ready(_spawn(name, [sys.executable, "-m", "serving"], full, http_port, grpc_port,
                         workers), path="/readyz")


def start_naive(runs: dict[str, Path], workers: int, threads: int) -> Server:
    """tests/bench/naive_app.py under gunicorn with the gateway's worker settings."""
    port = free_port()
    full = clean_env({"BENCH_NAIVE_RUNS": ",".join(f"{m}={p}" for m, p in runs.items())})
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--timeout", "120", "--keep-alive", "5", "--log-level", "warning",
            "tests.bench.naive_app:create_app()"]
    return _ready(_spawn("naive", argv, full, port, None, workers), path="/healthz")


def start_floor_rest(workers: int, threads: int) -> Server:
    """The empty route (tests/bench/floor_app.py) on the gateway's gunicorn settings."""
    port = free_port()
    full = clean_env({**worker_env(workers, threads), "BENCH_FLOOR_BIND": f"127.0.0.1:{port}"})
    argv = [sys.executable, "-m", "gunicorn", "-c", str(Path(__file__).with_name(
        "floor_gunicorn.conf.py")), "tests.bench.floor_app:create_app()"]
    return _ready(_spawn("floor-rest", argv, full, port, None, workers), path="/healthz")


def start_floor_grpc(workers: int, threads: int) -> Server:
    """The empty Predict (tests/bench/floor_grpc.py) on the gateway's gRPC server options."""
    from tests.bench.floor_grpc import READY

    port = free_port()
    argv = [sys.executable, "-m", "tests.bench.floor_grpc", "--port", str(port)]
    return _ready(_spawn("floor-grpc", argv, clean_env(worker_env(workers, threads)), None,
                         port, workers), line=READY)


def _model_specs(exports: dict[str, Path]) -> list[str]:
    return [f"{m}={p}" for m, p in exports.items()]


def start_fastapi(exports: dict[str, Path], workers: int) -> Server:
    """tests/bench/fastapi_app.py: uvicorn --workers N, each loading the signatures."""
    port = free_port()
    full = clean_env({"BENCH_FASTAPI_MODELS": ",".join(_model_specs(exports))})
    argv = [sys.executable, "-m", "uvicorn", "tests.bench.fastapi_app:app", "--host",
            "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
            "--log-level", "warning"]
    return _ready(_spawn("fastapi", argv, full, port, None, workers), path="/healthz")


def kserve_python() -> Path | None:
    """The bench-only KServe environment's interpreter, when `make bench` has built it."""
    python = KSERVE_VENV / "bin" / "python"
    return python if python.is_file() else None


def start_kserve(exports: dict[str, Path], workers: int) -> Server:
    """KServe's ModelServer (tests/bench/peers/kserve/kserve_server.py), V1 protocol."""
    python = kserve_python()
    if python is None:
        raise RuntimeError(f"the KServe environment {KSERVE_VENV} is missing: run make bench "
                           "(it builds it from tests/bench/peers/kserve/uv.lock)")
    port = free_port()
    argv = [str(python), str(KSERVE_DIR / "kserve_server.py"), "--http-port", str(port),
            "--workers", str(workers), "--log_config_file", str(KSERVE_DIR / "logging.json"),
            *_model_specs(exports)]
    # Not the project's PYTHONPATH: the peer sees only its own environment.
    env = {k: v for k, v in clean_env({}).items() if k != "PYTHONPATH"}
    first = next(iter(exports))
    return _ready(_spawn("kserve", argv, env, port, None, workers),
                  path=f"/v1/models/{first}")
