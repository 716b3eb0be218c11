"""KServe's Python model server (kserve 0.21) calling the exported signature, V1 protocol.

Runs in its own bench-only environment (build/bench-venvs/kserve, from
tests/bench/peers/kserve/uv.lock), so it imports nothing of this project but the peers'
shared per-request lines (tests/bench/peers/signature_rows.py, by path):

    python kserve_server.py --http-port P --workers 2 --log_config_file logging.json \
        name=export_dir ...

Per-request logging (uvicorn's access log, KServe's latency trace) is off through
KServe's own `--log_config_file` (logging.json beside this file), as it is off in
every other contender.

`POST /v1/models/NAME:predict` takes the gateway's TF Serving row-format body.
With `--workers 2` KServe spawns its REST workers (multiprocessing "spawn",
kserve/protocol/rest/multiprocess/server.py) and pickles the registered models
into them, so a loaded TensorFlow function cannot travel: `load()` only marks the
model ready, pickling drops the signature, and unpickling (in each spawned worker)
starts loading it anew in a thread -- not inline: KServe's parent pings each
worker (5 s timeout) and kills one whose ping thread has not started yet. Until
it has loaded, the worker's model reports not ready (`healthy`), so readiness
checks wait for every worker; a call loads it where no unpickling happened.
`predict` is a plain `def`, as KServe's own model examples write it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import kserve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the peers' shared lines
from signature_rows import predict_rows  # noqa: E402


class SignatureModel(kserve.Model):
    def __init__(self, name: str, export_dir: str) -> None:
        super().__init__(name)
        self.export_dir = export_dir
        self._fn: Any = None
        self._lock = threading.Lock()
        self._in_worker = False
        self._loader: threading.Thread | None = None

    def load(self) -> bool:
        self.ready = True  # the signature itself loads in each serving process
        return self.ready

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_fn=None, _lock=None, _loader=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._in_worker = True
        self._loader = threading.Thread(target=self._load_here, name="load", daemon=True)
        self._loader.start()

    def _load_here(self) -> None:
        # A worker KServe respawns gets no --log_config_file (multiprocess/server.py,
        # keep_subprocess_alive): quiet the per-request loggers here too.
        for name in ("uvicorn.access", "kserve.trace"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.signature()

    async def healthy(self) -> bool:
        return self.ready and (self._fn is not None or not self._in_worker)

    def signature(self) -> Any:
        with self._lock:
            if self._fn is None:
                import tensorflow as tf

                self._fn = tf.saved_model.load(self.export_dir).signatures["serving_default"]
            return self._fn

    def predict(self, payload: dict[str, Any], headers: dict[str, str] | None = None
                ) -> dict[str, Any]:
        return {"predictions": predict_rows(self.signature(), payload["instances"])}


def main() -> None:
    p = argparse.ArgumentParser(prog="kserve_server.py")
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("models", nargs="+", metavar="NAME=EXPORT_DIR")
    args, _ = p.parse_known_args()
    models = []
    for spec in args.models:
        name, _, path = spec.partition("=")
        model = SignatureModel(name, path)
        model.load()
        models.append(model)
    kserve.ModelServer(http_port=args.http_port, workers=args.workers, enable_grpc=False,
                       enable_latency_logging=False).start(models)


if __name__ == "__main__":
    main()
