"""Real gateways on loopback for the integration tests.

`start_gateway(model_dir, backend=..., workers=2, env=...)` runs `python -m serving`
(gunicorn, as a user runs it) as a subprocess on free ports, waits until /readyz
answers 200 from every worker, yields a handle and always stops the process
group. The session-wide `gateway` fixture is parametrized over the model runtime:
`embedded`, `tfserving` (the gateway in front of tests/fakes/tfserving_fake.py)
and `tfserving-real` (tensorflow_model_server, only when it is on PATH).

`inprocess` is the same gateway's code in the pytest process (tests/integration/
inprocess.py), for what does not depend on the transport: decoding, field messages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx
import numpy as np
import pytest

from tests.fakes.tfserving_fake import InProcessTFServing
from tests.integration.inprocess import InProcessGateway
from tests.processes import REPO_ROOT, free_port, stop_process, subprocess_env, wait_until

T = TypeVar("T")
MODELS = ("qa", "profiler", "similarity", "headline")
GATEWAY_ENV = {
    "MULTIHEAD_MAX_REQUEST_BYTES": "1000000",
    "MULTIHEAD_THREADS": "8",
    # The default (0) merges only what queued during the previous call; a short wait makes
    # the batching test's "some call ran more than one example" deterministic.
    "MULTIHEAD_BATCH_TIMEOUT_MICROS": "2000",
    "MULTIHEAD_POLL_INTERVAL_S": "0.5",
    # These gateways share two cores with the test process (and, on a developer's machine,
    # with other work): the default 1 s queue budget would shed requests whose answers the
    # tests check. Shedding is tested where it is the subject (test_overload.py).
    "MULTIHEAD_MAX_QUEUE_WAIT_S": "10",
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
                  "what is the weather like in tokyo"],
    },
    "headline": {
        "headline": ["shocking secret revealed after the election",
                     "quarterly committee minutes update", "amazing football match"],
        "aux": [[0.5, 0.1, 0.3, 0.9, 0.2], [0.0, 0.0, 1.0, 0.0, 0.0], [1, 2, 3, 4, 5]],
    },
}


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

    def wait_until(self, predicate: Callable[[], T], timeout_s: float, what: str,
                   interval_s: float = 0.05) -> T:
        """`wait_until` that fails at once, with the log, if the gateway exits."""
        def alive_and() -> T:
            if self.process.poll() is not None:
                raise AssertionError(f"gateway exited with {self.process.returncode} "
                                     f"while waiting for {what}:\n{self.log()}")
            return predicate()

        return wait_until(alive_and, timeout_s, interval_s, what=what, diagnose=self.log)

    def wait_ready(self, workers: int, timeout_s: float = 180.0) -> None:
        """/readyz 200 on enough fresh connections in a row that every worker answered."""
        self.wait_until(lambda: ready_on_fresh_connections(self, probes=6 * workers), timeout_s,
                        "ready", interval_s=0.2)

    def stop(self) -> None:
        self.client.close()
        stop_process(self.process, grace_s=30)  # SIGTERM: gunicorn's graceful shutdown

    def close(self) -> None:
        """Stop it and remove its log."""
        self.stop()
        self.log_path.unlink(missing_ok=True)


def metric_value(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v
                                           for k, v in labels.items()):
                total += sample.value
    return total


def launch_gateway(model_dir: str | os.PathLike[str], backend: str = "embedded",
                   workers: int = 2, env: dict[str, str] | None = None,
                   args: tuple[str, ...] = ()) -> Gateway:
    """`python -m serving` (gunicorn, as a user runs it) on free loopback ports, returning
    at once: the caller waits for what it needs (`wait_ready`, or less).

    `args` are command-line flags of `python -m serving`. PROMETHEUS_MULTIPROC_DIR is left
    unset (so `python -m serving` makes its own) unless `env` names one."""
    http_port, grpc_port = free_port(), free_port()
    full_env = subprocess_env({
        **GATEWAY_ENV,
        "MULTIHEAD_BACKEND": backend, "MULTIHEAD_MODEL_DIR": str(model_dir),
        "MULTIHEAD_HOST": "127.0.0.1", "MULTIHEAD_HTTP_PORT": str(http_port),
        "MULTIHEAD_GRPC_PORT": str(grpc_port), "MULTIHEAD_WORKERS": str(workers),
        **(env or {})})
    with tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False) as log:
        process = subprocess.Popen([sys.executable, "-m", "serving", *args], cwd=REPO_ROOT,
                                   env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return Gateway(f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}", process,
                   Path(log.name), Path(model_dir), backend,
                   full_env.get("PROMETHEUS_MULTIPROC_DIR"))


@contextlib.contextmanager
def start_gateway(model_dir: str | os.PathLike[str], backend: str = "embedded",
                  workers: int = 2, env: dict[str, str] | None = None,
                  timeout_s: float = 180.0, args: tuple[str, ...] = ()) -> Iterator[Gateway]:
    """Run the real gunicorn gateway on free loopback ports until the block ends, ready
    on every worker when the block starts."""
    gw = launch_gateway(model_dir, backend, workers, env, args)
    try:
        gw.wait_ready(workers, timeout_s)
        yield gw
    finally:
        gw.close()


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
        # The stand-in only answers here, never dies: it runs in this process.
        with InProcessTFServing(repo, model_config=model_config).start() as fake:
            env["MULTIHEAD_TFSERVING_ADDR"] = fake.address
            with start_gateway(repo, "tfserving", env=env) as gw:
                yield gw
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


@pytest.fixture(scope="session")
def inprocess_gateways(gateway_repo: Repo) -> Iterator[dict[str, InProcessGateway]]:
    """One in-process gateway per model runtime, built on first use and kept for the
    session (both at once: no test order tears one down to build the other)."""
    built: dict[str, InProcessGateway] = {}
    try:
        yield built
    finally:
        for gw in built.values():
            gw.close()


@pytest.fixture(params=["embedded", "tfserving"])
def inprocess(request: pytest.FixtureRequest, inprocess_gateways: dict[str, InProcessGateway],
              gateway_repo: Repo) -> InProcessGateway:
    """The session gateway's protocol code in this process (tests/integration/
    inprocess.py), for each model runtime: what a request means, not how it travels."""
    if request.param not in inprocess_gateways:
        inprocess_gateways[request.param] = InProcessGateway(
            request.param, gateway_repo.path, gateway_repo.config, GATEWAY_ENV)
    return inprocess_gateways[request.param]


# The strict gateway's limits, given as `python -m serving` flags: small, so that the
# transport's limit and deadline cases are quick to provoke.
STRICT_MAX_REQUEST_BYTES = 2000
STRICT_REQUEST_TIMEOUT_S = 2


@pytest.fixture(scope="session")
def strict_gateway(source_models: Path) -> Iterator[Gateway]:
    """One worker (embedded) whose body limit and read deadline come from the command line
    (tests/integration/test_settings_reach_workers.py), shared with the broken-HTTP cases
    of tests/integration/test_bad_input_barrage.py."""
    env = {"MULTIHEAD_MAX_REQUEST_BYTES": "", "MULTIHEAD_REQUEST_TIMEOUT_S": ""}
    with start_gateway(source_models, workers=1, env=env,
                       args=("--max-request-bytes", str(STRICT_MAX_REQUEST_BYTES),
                             "--request-timeout-s", str(STRICT_REQUEST_TIMEOUT_S))) as gw:
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
