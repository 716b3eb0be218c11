"""What `make bench` measures: every contender, and the interleaved order it measures them in.

A contender is one server (started once per run, see servers.py) loaded one way
(wrk, the multihead gRPC loader, or one of perf_analyzer's kinds) with batch-1
or 32-example requests. `schedule` puts the measurements in the order that beats
slow drifts of a shared machine: for each model and concurrency, every contender
once, then every contender again (A B C A B C ...), `repeats` times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LIMITS = ("limit-b1", "limit-b32")
PEERS = ("fastapi", "kserve", "litserve", "litserve-batch")
BATCH32 = 32


@dataclass(frozen=True)
class Contender:
    name: str
    server: str  # the servers.py server it loads
    load: str  # wrk | grpc (h2load) | v2-rest | v2-grpc | tfs-grpc (perf_analyzer)
    what: str
    batch: int = 1  # examples per request
    at: str = "all"  # all | b32 (the batch-32 concurrency only) | ends (1 and the top)
    footnote: bool = False


CONTENDERS: tuple[Contender, ...] = (
    Contender("rest", "gateway", "wrk", "gateway REST, TF Serving JSON, batching on (defaults)"),
    Contender("rest-nobatch", "gateway-nobatch", "wrk",
              "gateway REST, MULTIHEAD_ENABLE_BATCHING=false"),
    Contender("fastapi", "fastapi", "wrk",
              "FastAPI + uvicorn, 2 workers, loaded signature per request (30 lines)"),
    Contender("kserve", "kserve", "wrk", "KServe 0.21 Python ModelServer, V1 protocol, 2 workers"),
    Contender("litserve", "litserve", "wrk",
              "LitServe 0.2, docs' CPU settings: 2 inference workers, 2 API servers"),
    Contender("litserve-batch", "litserve-batch", "wrk",
              "LitServe 0.2 as above, batching (max_batch_size 64, batch_timeout 2 ms)"),
    Contender("floor-rest", "floor-rest", "wrk",
              "empty route on the gateway's gunicorn + Flask settings"),
    Contender("grpc", "gateway", "grpc", "gateway multihead.v1 gRPC Predict, batching on"),
    Contender("grpc-nobatch", "gateway-nobatch", "grpc", "gateway multihead.v1 gRPC, batching off"),
    Contender("floor-grpc", "floor-grpc", "grpc", "empty Predict on the gateway's gRPC options"),
    Contender("v2-rest", "gateway", "v2-rest", "gateway OIP v2 REST (perf_analyzer -i http)"),
    Contender("v2-grpc", "gateway", "v2-grpc", "gateway OIP v2 gRPC (perf_analyzer -i grpc)"),
    Contender("tfs-grpc", "gateway", "tfs-grpc",
              "gateway TF Serving gRPC (perf_analyzer --service-kind=tfserving)"),
    Contender("tfsb-gateway", "gateway-tfs", "wrk",
              "gateway REST, tfserving backend (the TF Serving stand-in); the gateway batches"),
    Contender("tfsb-tfserving", "gateway-tfs-nobatch", "wrk",
              "gateway REST, tfserving backend, MULTIHEAD_ENABLE_BATCHING=false; the stand-in "
              "batches (--enable_batching)"),
    Contender("rest-b32", "gateway", "wrk",
              f"gateway REST, {BATCH32} examples per request", batch=BATCH32, at="b32"),
    Contender("naive", "naive", "wrk", "Flask + keras model.predict per request", at="ends",
              footnote=True),
)
BY_NAME = {c.name: c for c in CONTENDERS}
ORDER = {name: i for i, name in enumerate((*LIMITS, *BY_NAME))}


@dataclass(frozen=True)
class Step:
    model: str
    concurrency: int
    rep: int
    contender: Contender


def runs_at(contender: Contender, c: int, concurrencies: list[int], b32_concurrency: int) -> bool:
    if contender.at == "b32":
        return c == b32_concurrency
    if contender.at == "ends":
        return c in (min(concurrencies), max(concurrencies))
    return True


def b32_concurrency(concurrencies: list[int], wanted: int = 8) -> int:
    """Where the 32-example requests are measured: `wanted` if swept, else the top."""
    return wanted if wanted in concurrencies else max(concurrencies)


def schedule(models: Iterable[str], concurrencies: list[int], contenders: Iterable[Contender],
             repeats: int, b32_at: int | None = None) -> list[Step]:
    """Every measurement of the run, interleaved: per (model, concurrency), A B C, A B C..."""
    chosen = list(contenders)
    b32_at = b32_concurrency(concurrencies) if b32_at is None else b32_at
    steps = []
    for model in models:
        for c in concurrencies:
            here = [k for k in chosen if runs_at(k, c, concurrencies, b32_at)]
            for rep in range(repeats):
                steps.extend(Step(model, c, rep, k) for k in here)
    return steps
