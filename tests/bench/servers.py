"""The servers `make bench` loads: one start function per contender, each on free loopback
ports, each waiting until every worker can answer, each returning a `procs.Server`.

All run the same worker count (the gateway's `workers`); per-request logging is
off in all of them. The peers' start-up follows their own documentation: uvicorn
`--workers`, `kserve.ModelServer(workers=...)`, LitServe's CPU settings. KServe and
LitServe run from environments of their own (`peer_python`), each built by `make bench`
from its own lock under tests/bench/peers/NAME/.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tests.bench.procs import Server
from tests.processes import REPO_ROOT, free_port, subprocess_env

PEERS_DIR = Path(__file__).with_name("peers")
PEER_VENVS = REPO_ROOT / "build" / "bench-venvs"
KSERVE_DIR = PEERS_DIR / "kserve"
LITSERVE_DIR = PEERS_DIR / "litserve"


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
    full = subprocess_env({
        "MULTIHEAD_BACKEND": "embedded", "MULTIHEAD_MODEL_DIR": str(model_dir),
        "MULTIHEAD_HOST": "127.0.0.1", "MULTIHEAD_HTTP_PORT": str(http_port),
        "MULTIHEAD_GRPC_PORT": str(grpc_port), **worker_env(workers, threads), **(env or {})})
    return _ready(_spawn(name, [sys.executable, "-m", "serving"], full, http_port, grpc_port,
                         workers), path="/readyz")


def start_naive(runs: dict[str, Path], workers: int, threads: int) -> Server:
    """tests/bench/naive_app.py under gunicorn with the gateway's worker settings."""
    port = free_port()
    full = subprocess_env({"BENCH_NAIVE_RUNS": ",".join(f"{m}={p}" for m, p in runs.items())})
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--timeout", "120", "--keep-alive", "5", "--log-level", "warning",
            "tests.bench.naive_app:create_app()"]
    return _ready(_spawn("naive", argv, full, port, None, workers), path="/healthz")


def start_floor_rest(workers: int, threads: int) -> Server:
    """The empty route (tests/bench/floor_app.py) on the gateway's gunicorn settings."""
    port = free_port()
    full = subprocess_env({**worker_env(workers, threads), "BENCH_FLOOR_BIND": f"127.0.0.1:{port}"})
    argv = [sys.executable, "-m", "gunicorn", "-c", str(Path(__file__).with_name(
        "floor_gunicorn.conf.py")), "tests.bench.floor_app:create_app()"]
    return _ready(_spawn("floor-rest", argv, full, port, None, workers), path="/healthz")


def start_floor_grpc(workers: int, threads: int) -> Server:
    """The empty Predict (tests/bench/floor_grpc.py) on the gateway's gRPC server options."""
    from tests.bench.floor_grpc import READY

    port = free_port()
    argv = [sys.executable, "-m", "tests.bench.floor_grpc", "--port", str(port)]
    return _ready(_spawn("floor-grpc", argv, subprocess_env(worker_env(workers, threads)), None,
                         port, workers), line=READY)


def _model_specs(exports: dict[str, Path]) -> list[str]:
    return [f"{m}={p}" for m, p in exports.items()]


def start_fastapi(exports: dict[str, Path], workers: int) -> Server:
    """tests/bench/fastapi_app.py: uvicorn --workers N, each loading the signatures."""
    port = free_port()
    full = subprocess_env({"BENCH_FASTAPI_MODELS": ",".join(_model_specs(exports))})
    argv = [sys.executable, "-m", "uvicorn", "tests.bench.fastapi_app:app", "--host",
            "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
            "--log-level", "warning"]
    return _ready(_spawn("fastapi", argv, full, port, None, workers), path="/healthz")


def peer_python(peer: str) -> Path | None:
    """A bench-only peer environment's interpreter (kserve, litserve), when `make bench`
    has built it."""
    python = PEER_VENVS / peer / "bin" / "python"
    return python if python.is_file() else None


def _peer_argv(peer: str, script: Path) -> list[str]:
    python = peer_python(peer)
    if python is None:
        raise RuntimeError(f"the {peer} environment {PEER_VENVS / peer} is missing: run make "
                           f"bench (it builds it from tests/bench/peers/{peer}/uv.lock)")
    return [str(python), str(script)]


def _peer_env() -> dict[str, str]:
    # Not the project's PYTHONPATH: a peer sees only its own environment.
    return {k: v for k, v in subprocess_env({}).items() if k != "PYTHONPATH"}


def start_kserve(exports: dict[str, Path], workers: int) -> Server:
    """KServe's ModelServer (tests/bench/peers/kserve/kserve_server.py), V1 protocol."""
    port = free_port()
    argv = [*_peer_argv("kserve", KSERVE_DIR / "kserve_server.py"), "--http-port", str(port),
            "--workers", str(workers), "--log_config_file", str(KSERVE_DIR / "logging.json"),
            *_model_specs(exports)]
    first = next(iter(exports))
    return _ready(_spawn("kserve", argv, _peer_env(), port, None, workers),
                  path=f"/v1/models/{first}")


def start_litserve(exports: dict[str, Path], workers: int, max_batch_size: int = 1,
                   name: str = "litserve") -> Server:
    """LitServe (tests/bench/peers/litserve/litserve_server.py) with its docs' CPU settings;
    `max_batch_size` > 1 is its batching variant."""
    port = free_port()
    argv = [*_peer_argv("litserve", LITSERVE_DIR / "litserve_server.py"), "--port", str(port),
            "--workers", str(workers), "--max-batch-size", str(max_batch_size),
            *_model_specs(exports)]
    # Its health check answers once every inference worker has set its model up.
    return _ready(_spawn(name, argv, _peer_env(), port, None, workers), path="/healthz")


def start_tfserving_fake(model_dir: Path, enable_batching: bool = False) -> Server:
    """The TF Serving stand-in (tests/fakes/tfserving_fake.py) over the bench's exports;
    `enable_batching` as TF Serving's --enable_batching."""
    from tests.fakes.tfserving_fake import READY_PREFIX

    port = free_port()
    argv = [sys.executable, "-m", "tests.fakes.tfserving_fake", "--model-dir", str(model_dir),
            "--port", str(port), *(["--enable-batching"] if enable_batching else [])]
    return _ready(_spawn("tfserving-fake", argv, subprocess_env({}), None, port, 1),
                  line=READY_PREFIX)


def start_gateway_tfserving(model_dir: Path, tfserving: Server, workers: int, threads: int,
                            env: dict[str, str] | None = None,
                            name: str = "gateway-tfs") -> Server:
    """The gateway with the `tfserving` backend in front of the stand-in `tfserving`, whose
    CPU counts as the gateway's (each request runs there too)."""
    server = start_gateway(model_dir, workers, threads, {
        "MULTIHEAD_BACKEND": "tfserving", "MULTIHEAD_TFSERVING_ADDR": tfserving.grpc_target or "",
        **(env or {})}, name=name)
    server.companions.append(tfserving)
    return server
