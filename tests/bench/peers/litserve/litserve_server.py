"""LitServe's server (litserve 0.2) calling the exported signature, with its docs' CPU settings.

Runs in its own bench-only environment (build/bench-venvs/litserve, from
tests/bench/peers/litserve/uv.lock), so it imports nothing of this project but the peers'
shared per-request lines (tests/bench/peers/signature_rows.py, by path):

    python litserve_server.py --port P --workers 2 [--max-batch-size 64] name=export_dir ...

One `LitAPI` per model at `POST /v1/models/NAME:predict` (the gateway's TF Serving
row-format body, the identical wrk payload). The settings are LitServe's documented ones
for a CPU machine: `accelerator="cpu"`, `workers_per_device` = the worker count (its docs:
"for CPU, set to the number of cores"), as many API servers as inference workers (its
default), `fast_queue=True` (its docs: ZeroMQ "for high-throughput scenarios (>100
RPS)"), no per-request logging. `--max-batch-size N` is its batching variant: requests
that queue while a worker is busy are merged into one call, waiting at most
`BATCH_TIMEOUT_S` (2 ms) for company. Not 0: with `batch_timeout=0` LitServe's batched
loop never blocks (litserve/loops/base.py `collate_requests` returns an empty batch at
once and `run_batched_loop` asks again), so each idle inference worker spins a core and
every other contender of the run is measured on what is left (the first run with it
measured the empty-route floor at a third of its usual throughput). With a timeout it
waits on its queue in 1 ms steps, which still costs about a third of a core while it
serves nothing (29–37 % with 2 workers) and took 30 % of the gateway's c=8 throughput when
it idled beside it (1,673 against 2,377 req/s): `make bench` pauses it while the other
contenders are measured (tests/bench/procs.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import litserve as ls

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the peers' shared lines
from signature_rows import predict_rows  # noqa: E402

BATCH_TIMEOUT_S = 0.002


class SignatureAPI(ls.LitAPI):
    def __init__(self, name: str, export_dir: str, max_batch_size: int) -> None:
        super().__init__(max_batch_size=max_batch_size,
                         batch_timeout=BATCH_TIMEOUT_S if max_batch_size > 1 else 0.0,
                         api_path=f"/v1/models/{name}:predict")
        self.export_dir = export_dir
        self.batched = max_batch_size > 1

    def setup(self, device: str) -> None:
        import tensorflow as tf

        self.fn = tf.saved_model.load(self.export_dir).signatures["serving_default"]

    # No annotation on `request`: LitServe reads the body as JSON then (with one, FastAPI
    # would take it from the query string).
    def decode_request(self, request, **kwargs: Any) -> list[Any]:  # noqa: ANN001
        return request["instances"]

    def batch(self, inputs: list[list[Any]]) -> list[list[Any]]:
        return inputs  # one request's rows per element; predict merges them

    def predict(self, x: list[Any], **kwargs: Any) -> Any:
        if not self.batched:
            return predict_rows(self.fn, x)
        rows = predict_rows(self.fn, [row for request in x for row in request])
        out, start = [], 0
        for request in x:  # one list of rows per request, in order
            out.append(rows[start:start + len(request)])
            start += len(request)
        return out

    def encode_response(self, output: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        return {"predictions": output}


def main() -> None:
    p = argparse.ArgumentParser(prog="litserve_server.py")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--max-batch-size", type=int, default=1)
    p.add_argument("models", nargs="+", metavar="NAME=EXPORT_DIR")
    args = p.parse_args()
    apis = [SignatureAPI(name, path, args.max_batch_size)
            for name, _, path in (spec.partition("=") for spec in args.models)]
    server = ls.LitServer(apis, accelerator="cpu", workers_per_device=args.workers,
                          fast_queue=True, healthcheck_path="/healthz")
    server.run(host="127.0.0.1", port=args.port, num_api_servers=args.workers,
               log_level="warning", generate_client_file=False)


if __name__ == "__main__":
    main()
