"""The gateway's one settings object.

Every field is read from an environment variable `MULTIHEAD_<FIELD>` (upper case)
and can be overridden by a CLI flag of `python -m serving` (`--field-name`).
Settings are passed down through constructors; nothing reads the environment
after `Settings.from_env` returns.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

ENV_PREFIX = "MULTIHEAD_"
MODEL_CONTROL_MODES = ("poll", "explicit")


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class Settings:
    backend: str = _doc("Model runtime: `embedded` (TensorFlow in-process) or `tfserving`.",
                        default="embedded")
    model_dir: str = _doc("Model repository in TF Serving's layout (NAME/VERSION/).",
                          default="./models")
    model_config: str = _doc("Optional TF Serving model config file (text format): models, "
                             "version policies and version labels; with MODEL_CONTROL_MODE="
                             "explicit, the effective configuration that model management "
                             "rewrites.", default="")
    tfserving_addr: str = _doc("host:port of TF Serving's gRPC API (tfserving backend).",
                               default="127.0.0.1:8500")
    # Threads of one worker (REST, and gRPC on top) that may wait on TF Serving at once.
    tfserving_max_inflight: int = _doc("Calls one gunicorn worker may have in flight to TF "
                                       "Serving (tfserving backend); one more is refused at "
                                       "once with 503 and Retry-After instead of parking a "
                                       "thread.", default=32)
    host: str = _doc("Address the REST and gRPC servers bind; containers set 0.0.0.0.",
                     default="127.0.0.1")
    http_port: int = _doc("REST port.", default=8000)
    grpc_port: int = _doc("gRPC port.", default=9000)
    workers: int = _doc("gunicorn worker processes.", default=2)
    # Threads mostly wait on the batcher; enough of them lets concurrent requests merge.
    threads: int = _doc("Threads per gunicorn worker.", default=32)
    # Batching knobs carry TF Serving's batching-parameter names.
    enable_batching: bool = _doc("Merge concurrent requests into one model call.", default=True)
    max_batch_size: int = _doc("Largest merged batch, and the largest batch one request may "
                               "send.", default=64)
    # 0: a batch takes whatever queued while the previous call ran, so concurrency still
    # merges requests while a lone request pays no wait (make bench: p50 6.4 -> 3.1 ms).
    batch_timeout_micros: int = _doc("How long a batch waits to fill before it runs.",
                                     default=0)
    max_enqueued_batches: int = _doc("Batches that may wait; beyond that requests get 429.",
                                     default=64)
    # One per process: the workers already use every core, and two batches of one process
    # running at once only trade the GIL (make bench, profiler c=8: 1,750 req/s with 1,
    # 800-1,300 with 2).
    num_batch_threads: int = _doc("Merged batches that may run at once in one worker (the "
                                  "requests' own threads run them).", default=1)
    max_request_bytes: int = _doc("Largest request body accepted (413 above).",
                                  default=4 * 1024 * 1024)
    request_timeout_s: float = _doc("Deadline for one request, runtime call included (a "
                                    "client's shorter gRPC deadline or "
                                    "X-Envoy-Expected-Rq-Timeout-Ms wins); a request must "
                                    "also arrive whole within it (408).", default=30.0)
    # Triton's queue policy (timeout_action REJECT) bounds a queue by time the same way.
    max_queue_wait_s: float = _doc("Longest a request may wait between arriving whole and its "
                                   "model call (for a thread, for its batch); past it, it is "
                                   "refused with 503 and Retry-After before the model runs. "
                                   "0 disables.", default=1.0)
    worker_connections: int = _doc("Connections one gunicorn worker holds at most (idle, "
                                   "reading, served); past it a new connection is answered "
                                   "503 with Retry-After and closed.", default=1000)
    load_timeout_s: float = _doc("How long a gunicorn worker waits for its initial model "
                                 "load before it accepts connections anyway (readiness then "
                                 "says why); a failed load ends the wait at once.",
                                 default=300.0)
    poll_interval_s: float = _doc("How often the embedded runtime scans the repository for "
                                  "new or removed versions.", default=1.0)
    tensorflow_intra_op_parallelism: int = _doc(
        "Threads TensorFlow uses inside one op in the embedded runtime (TF Serving's flag "
        "name); 0 sizes it for the process count (the CPUs this process may use divided "
        "by the workers, at least 1). Applied before the first TF op.", default=0)
    tensorflow_inter_op_parallelism: int = _doc(
        "Ops TensorFlow runs in parallel in the embedded runtime; 0 sizes it like the "
        "intra-op pool.", default=0)
    api_keys: tuple[str, ...] = _doc("Optional bearer tokens; empty disables auth. Comma "
                                     "separated in the environment.", default=())
    admin_keys: tuple[str, ...] = _doc(
        "Bearer tokens that open model management (OIP's repository extension, TF Serving's "
        "HandleReloadConfigRequest); empty keeps management closed. An admin key also "
        "passes where an API key is asked for; an API key never opens management. Comma "
        "separated in the environment.", default=())
    model_control_mode: str = _doc(
        "`poll`: serve what the repository (or MODEL_CONFIG) holds, re-scanned every "
        "POLL_INTERVAL_S; management calls that change models are refused. `explicit`: serve "
        "only what MODEL_CONFIG lists (the start-up list); the management API rewrites that "
        "file and every worker applies it.", default="poll")
    allow_version_labels_for_unavailable_models: bool = _doc(
        "TF Serving's flag: a management call may point a new version label (or keep one) at "
        "a version that is not AVAILABLE yet; moving an existing label still needs an "
        "AVAILABLE version.", default=False)
    protocols: tuple[str, ...] = _doc(
        "Wire protocols to mount, comma separated: tfserving, v2, multihead; empty mounts "
        "all.", default=())
    log_level: str = _doc("Python log level.", default="INFO")
    log_format: str = _doc("Shape of every log line of the master and the workers: `json` "
                           "(one object per line) or `text`.", default="json")
    access_log: bool = _doc("One log line per request (id, protocol, transport, model, "
                            "version, status, latency, batch size).", default=True)
    drift_window: int = _doc("Predictions per model version and head (and inputs per "
                             "input) each worker keeps to compare with the model card's "
                             "training distribution; 0 turns drift monitoring off.",
                             default=1000)
    ui: bool = _doc("Serve the playground page at / and the API docs at /docs.", default=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `MULTIHEAD_*` variables, then explicit overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def problem(self) -> str:
        """Why these settings cannot run a gateway ("" when they can), naming the field."""
        if self.model_control_mode not in MODEL_CONTROL_MODES:
            return (f"{ENV_PREFIX}MODEL_CONTROL_MODE must be one of "
                    f"{', '.join(MODEL_CONTROL_MODES)}; got {self.model_control_mode!r}.")
        if self.model_control_mode == "explicit" and not self.model_config:
            return (f"{ENV_PREFIX}MODEL_CONTROL_MODE=explicit needs {ENV_PREFIX}MODEL_CONFIG: "
                    "the file that lists the models to serve and that model management "
                    "rewrites (it need not exist yet).")
        return ""

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One `--field-name` flag per field; a flag left unset keeps the env value."""
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            help_text = f"{f.metadata['doc']} (env {ENV_PREFIX}{f.name.upper()})"
            parser.add_argument(flag, dest=f.name, default=None, help=help_text,
                                type=lambda raw, f=f: _parse(f, raw))

    @classmethod
    def from_args(cls, args: argparse.Namespace,
                  environ: Mapping[str, str] | None = None) -> Settings:
        overrides = {f.name: getattr(args, f.name, None) for f in fields(cls)}
        return cls.from_env(environ, **overrides)


def _parse(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError:
        raise ValueError(
            f"{ENV_PREFIX}{f.name.upper()} must be a {kind}, got {raw!r}") from None
