"""gRPC load generator (ghz-style, closed loop) over grpc.aio, run in its own process.

No packaged gRPC load tool is installable here (ghz is not in Debian or PyPI), so
this is the small loop the issue allows: `--concurrency` coroutines, each
sending `multihead.v1.Gateway/Predict` back to back for `--duration` seconds
over a pool of channels (one TCP connection each: gunicorn workers share the
gRPC port through SO_REUSEPORT, so one connection would reach one worker only).
Prints one JSON line: requests, duration, errors and latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import grpc
import numpy as np

from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.multihead._gen import gateway_pb2_grpc

MAX_CHANNELS = 8


def build_requests(model: str, rows: list[dict[str, Any]]) -> list[pb.PredictRequest]:
    """One batch-1 PredictRequest per example (string inputs; float lists as FLOAT32)."""
    out = []
    for row in rows:
        req = pb.PredictRequest(model_spec=pb.ModelSpec(name=model))
        for name, value in row.items():
            t = req.inputs[name]
            if isinstance(value, str):
                t.dtype = pb.DataType.DATA_TYPE_STRING
                t.shape.append(1)
                t.string_values.append(value.encode())
            else:
                arr = np.asarray([value], dtype=np.float32)
                t.dtype = pb.DataType.DATA_TYPE_FLOAT32
                t.shape.extend(arr.shape)
                t.float_values.extend(arr.ravel().tolist())
        out.append(req)
    return out


async def _run(target: str, requests: list[pb.PredictRequest], concurrency: int,
               duration_s: float) -> dict[str, Any]:
    n_channels = max(1, min(concurrency, MAX_CHANNELS))
    # A local subchannel pool per channel: separate connections to the same target.
    channels = [grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(n_channels)]
    stubs = [gateway_pb2_grpc.GatewayStub(c) for c in channels]
    for c in channels:
        await asyncio.wait_for(c.channel_ready(), 30)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    end = time.perf_counter() + duration_s

    async def loop(k: int) -> None:
        stub, i = stubs[k % n_channels], k
        while True:
            req = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            try:
                await stub.Predict(req, timeout=60)
            except grpc.aio.AioRpcError as exc:
                errors[exc.code().name] = errors.get(exc.code().name, 0) + 1
            else:
                latencies.append(time.perf_counter() - t0)
            if time.perf_counter() >= end:
                return

    start = time.perf_counter()
    await asyncio.gather(*(loop(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - start
    for c in channels:
        await c.close()
    return _summary(latencies, errors, elapsed)


def _summary(latencies: list[float], errors: dict[str, int], elapsed: float) -> dict[str, Any]:
    lat = np.asarray(latencies or [float("nan")]) * 1e3
    return {"requests": len(latencies), "duration_s": elapsed,
            "errors": sum(errors.values()), "error_codes": errors, "non_2xx": 0,
            "p50_ms": float(np.percentile(lat, 50)), "p90_ms": float(np.percentile(lat, 90)),
            "p99_ms": float(np.percentile(lat, 99)), "mean_ms": float(lat.mean()),
            "max_ms": float(lat.max())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.grpc_load")
    p.add_argument("--target", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--inputs", required=True, help="JSON list of examples keyed by input name")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=5.0)
    args = p.parse_args(argv)
    with open(args.inputs, encoding="utf-8") as fh:
        requests = build_requests(args.model, json.load(fh))
    result = asyncio.run(_run(args.target, requests, args.concurrency, args.duration))
    print("BENCH_JSON " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
