"""Real gateways on loopback for the integration tests.

`start_gateway(model_dir, backend=..., workers=2, env=...)` runs `python -m serving`
(gunicorn, as a user runs it) as a subprocess on free ports, waits until /readyz
answers 200 from every worker, yields a handle and always stops the process
group. The session-wide `gateway` fixture is parametrized over the model runtime:
`embedded`, `tfserving` (the gateway in front of tests/fakes/tfserving_fake.py)
and `tfserving-real` (tensorflow_model_server, only when it is on PATH).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest

from tests.processes import stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = ("qa", "profiler", "similarity", "headline")
GATEWAY_ENV = {
    "MULTIHEAD_MAX_REQUEST_BYTES": "1000000",
    "MULTIHEAD_THREADS": "8",
    # The default (0) merges only what queued during the previous call; a short wait makes
    # the batching test's "some call ran more than one example" deterministic.
    "MULTIHEAD_BATCH_TIMEOUT_MICROS": "2000",
    "MULTIHEAD_POLL_INTERVAL_S": "0.5",
    "MULTIHEAD_LOG_LEVEL": "INFO",
}

# Three examples per model, by input name (serving_default signature).
SAMPLES: dict[str, dict[str, list[Any]]] = {
    "qa": {
        "text": ["anna has a dog named rex. ben lives in oslo.",
                 "carl plays the piano. dana works as a nurse.",
                 "emma was born in may. finn likes to eat plums."],
        "question": ["where does ben live", "what does carl play", "when was emma born"],
    },
    "profiler": {
        "posts": ["my toddler starts daycare\nthe mortgage is due",
                  "exam week on campus\nmy roommate found a thrift store",
                  "retirement party at the golf club\nthe grandchild loves the greenhouse"],
    },
    "similarity": {
        "left": ["how do i learn python quickly", "where can i buy a cheap laptop",
                 "is tokyo a good place to live"],
        "right": ["what is the best way to study python", "how do i fix a broken bike",
                  "what is it like to live in tokyo"],
    },
    "headline": {
        "headline": ["shocking secret revealed after the election",
                     "quarterly committee minutes update", "amazing football match"],
        "aux": [[0.5, 0.1, 0.3, 0.9, 0.2], [0.0, 0.0, 1.0, 0.0, 0.0], [1, 2, 3, 4, 5]],
    },
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gateway:
    """A running gateway: `http_url`, `grpc_target`, `process`; HTTP helpers."""

    http_url: str
    grpc_target: str
    process: subprocess.Popen
    log_path: Path
    model_dir: Path
    backend: str
    metrics_dir: str | None = None
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.http_url, timeout=60.0)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        if body is not None:
            kw["json"] = body
        return self.client.post(path, **kw)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples whose labels include `labels`."""
        return metric_value(self.get("/metrics").text, name, **labels)

    def log(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        self.client.close()
        stop_process(self.process, grace_s=30)  # SIGTERM: gunicorn's graceful shutdown


def metric_value(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v
                                           for k, v in labels.items()):
                total += sample.value
    return total


@contextlib.contextmanager
def start_gateway(model_dir: str | os.PathLike[str], backend: str = "embedded",
                  workers: int = 2, env: dict[str, str] | None = None,
                  timeout_s: float = 180.0, args: tuple[str, ...] = ()) -> Iterator[Gateway]:
    """Run the real gunicorn gateway on free loopback ports until the block ends.

    `args` are command-line flags of `python -m serving`. PROMETHEUS_MULTIPROC_DIR is left
    unset (so `python -m serving` makes its own) unless `env` names one."""
    http_port, grpc_port = free_port(), free_port()
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("MULTIHEAD_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    full_env.update(GATEWAY_ENV)
    full_env.update({
        "MULTIHEAD_BACKEND": backend, "MULTIHEAD_MODEL_DIR": str(model_dir),
        "MULTIHEAD_HOST": "127.0.0.1", "MULTIHEAD_HTTP_PORT": str(http_port),
        "MULTIHEAD_GRPC_PORT": str(grpc_port), "MULTIHEAD_WORKERS": str(workers),
        "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                    os.environ.get("PYTHONPATH")])),
    })
    full_env.update(env or {})
    log = tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "-m", "serving", *args], cwd=REPO_ROOT,
                               env=full_env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    gw = Gateway(f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}", process,
                 Path(log.name), Path(model_dir), backend,
                 full_env.get("PROMETHEUS_MULTIPROC_DIR"))
    try:
        _wait_ready(gw, workers, timeout_s)
        yield gw
    finally:
        gw.stop()
        log.close()
        Path(log.name).unlink(missing_ok=True)


def _wait_ready(gw: Gateway, workers: int, timeout_s: float) -> None:
    """/readyz 200 on enough fresh connections that every worker has answered."""
    deadline = time.monotonic() + timeout_s
    streak, needed = 0, 6 * workers
    while time.monotonic() < deadline:
        if gw.process.poll() is not None:
            raise RuntimeError(f"gateway exited with {gw.process.returncode}:\n{gw.log()}")
        try:
            ok = httpx.get(gw.http_url + "/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= needed:
            return
        time.sleep(0.05 if ok else 0.3)
    raise RuntimeError(f"gateway not ready after {timeout_s}s:\n{gw.log()}")


# -- model repository -------------------------------------------------------------------


@pytest.fixture(scope="session")
def source_models(model_repo: Path) -> Path:
    """The exported default models (read-only), trained once per session."""
    return Path(model_repo)


def versions_of(model_dir: Path, name: str) -> list[int]:
    return sorted(int(p.name) for p in (model_dir / name).iterdir() if p.name.isdigit())


def copy_repository(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".tmp-export-*"))
    return dest


def add_version(model_dir: Path, name: str) -> int:
    """A new version of `name` (a copy of its newest), written as an export writes it:
    into a temporary directory, then renamed to the next integer."""
    newest = versions_of(model_dir, name)[-1]
    new = newest + 1
    tmp = model_dir / name / f".tmp-export-test{new}"
    shutil.copytree(model_dir / name / str(newest), tmp)
    os.rename(tmp, model_dir / name / str(new))
    return new


def write_model_config(model_dir: Path, labels: dict[str, dict[str, int]],
                       all_versions: tuple[str, ...] = ()) -> Path:
    """A TF Serving model config file for every model under model_dir, written beside it
    (a file inside the repository would be scanned as a model)."""
    entries = []
    for name in sorted(p.name for p in model_dir.iterdir() if p.is_dir()):
        lines = [f'    name: "{name}"', f'    base_path: "{model_dir / name}"',
                 '    model_platform: "tensorflow"']
        if name in all_versions:
            lines.append("    model_version_policy { all {} }")
        for key, version in labels.get(name, {}).items():
            lines.append(f'    version_labels {{ key: "{key}" value: {version} }}')
        entries.append("  config {\n" + "\n".join(lines) + "\n  }")
    path = model_dir.parent / f"{model_dir.name}.config"
    path.write_text("model_config_list {\n" + "\n".join(entries) + "\n}\n")
    return path


@dataclass(frozen=True)
class Repo:
    """The session gateway's repository: similarity has two versions and two labels."""

    path: Path
    config: Path
    stable: int
    canary: int


@pytest.fixture(scope="session")
def gateway_repo(source_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    repo = copy_repository(source_models, tmp_path_factory.mktemp("gateway") / "models")
    stable = versions_of(repo, "similarity")[-1]
    canary = add_version(repo, "similarity")
    config = write_model_config(repo, {"similarity": {"stable": stable, "canary": canary}},
                                all_versions=("similarity",))
    return Repo(repo, config, stable, canary)


# -- gateways ---------------------------------------------------------------------------


def _tfserving_fake() -> Any:
    try:
        from tests.fakes import tfserving_fake
    except ImportError as exc:
        pytest.skip(f"tests/fakes/tfserving_fake.py is not importable ({exc})")
    return tfserving_fake


@contextlib.contextmanager
def runtime_gateway(backend: str, repo: Path, model_config: Path | None,
                    env: dict[str, str] | None = None) -> Iterator[Gateway]:
    """A gateway on `repo` with the given runtime, TF Serving started first where needed."""
    env = dict(env or {})
    if model_config is not None:
        env["MULTIHEAD_MODEL_CONFIG"] = str(model_config)
    if backend == "embedded":
        with start_gateway(repo, "embedded", env=env) as gw:
            yield gw
        return
    if backend == "tfserving":
        fake = _tfserving_fake().start_fake_tfserving(repo, model_config=model_config)
        try:
            env["MULTIHEAD_TFSERVING_ADDR"] = fake.address
            with start_gateway(repo, "tfserving", env=env) as gw:
                yield gw
        finally:
            fake.stop()
        return
    if backend == "tfserving-real":
        binary = shutil.which("tensorflow_model_server")
        if binary is None:
            pytest.skip("tensorflow_model_server is not on PATH (not installable here; "
                        "the tfserving param covers the protocol with the stand-in)")
        port = free_port()
        args = [binary, f"--port={port}", "--rest_api_port=0",
                "--file_system_poll_wait_seconds=1",
                f"--model_config_file={model_config or write_model_config(repo, {})}",
                "--allow_version_labels_for_unavailable_models"]
        server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            env["MULTIHEAD_TFSERVING_ADDR"] = f"127.0.0.1:{port}"
            with start_gateway(repo, "tfserving", env=env) as gw:
                yield gw
        finally:
            server.terminate()
            server.wait(30)
        return
    raise ValueError(backend)


@pytest.fixture(scope="session", params=["embedded", "tfserving", "tfserving-real"])
def gateway(request: pytest.FixtureRequest, gateway_repo: Repo,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The session's gateway (2 gunicorn workers) for one model runtime."""
    metrics_dir = tmp_path_factory.mktemp(f"metrics-{request.param}")
    with runtime_gateway(request.param, gateway_repo.path, gateway_repo.config,
                         env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}) as gw:
        yield gw


# -- in-process reference ---------------------------------------------------------------


class Reference:
    """Direct in-process calls of a signature through `tf.saved_model.load`."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self._loaded: dict[tuple[str, int], Any] = {}

    def __call__(self, model: str, inputs: dict[str, Any], signature: str = "serving_default",
                 version: int | None = None) -> dict[str, np.ndarray]:
        import tensorflow as tf

        version = version or versions_of(self.model_dir, model)[-1]
        key = (model, version)
        if key not in self._loaded:
            self._loaded[key] = tf.saved_model.load(str(self.model_dir / model / str(version)))
        fn = self._loaded[key].signatures[signature]
        feeds = {}
        for name, spec in fn.structured_input_signature[1].items():
            value = inputs[name]
            feeds[name] = tf.constant(value, dtype=spec.dtype)
        return {k: v.numpy() for k, v in fn(**feeds).items()}


@pytest.fixture(scope="session")
def reference(gateway_repo: Repo) -> Reference:
    return Reference(gateway_repo.path)


def assert_outputs_equal(got: dict[str, Any], want: dict[str, np.ndarray],
                         atol: float = 1e-5) -> None:
    assert set(got) == set(want), f"heads {sorted(got)} != {sorted(want)}"
    for name, expected in want.items():
        actual = got[name]
        if expected.dtype.kind in "OSU":
            decoded = np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b,
                                   otypes=[object])(expected)
            assert np.asarray(actual, dtype=object).tolist() == decoded.tolist(), name
        else:
            np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                                       expected.astype(np.float64), atol=atol, rtol=0,
                                       err_msg=f"head {name}")


def rows_to_columns(predictions: list[Any], single_output: str | None = None) -> dict[str, Any]:
    """TF Serving's row answer as name -> list (a bare list is the one output)."""
    if predictions and isinstance(predictions[0], dict):
        return {k: [p[k] for p in predictions] for k in predictions[0]}
    assert single_output is not None
    return {single_output: predictions}


@pytest.fixture(scope="module")
def channel(gateway: Gateway) -> Iterator[grpc.Channel]:
    """A gRPC channel to the session gateway's port (every protocol's services)."""
    with grpc.insecure_channel(gateway.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch


def ready_on_fresh_connections(gw: Gateway, probes: int = 6, timeout_s: float = 2) -> bool:
    """/readyz answers 200 on `probes` fresh connections (so, from whichever worker)."""
    try:
        return all(httpx.get(gw.http_url + "/readyz", timeout=timeout_s).status_code == 200
                   for _ in range(probes))
    except httpx.HTTPError:
        return False
