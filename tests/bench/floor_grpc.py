"""The gRPC floor: an empty `multihead.v1.Gateway/Predict` on the gateway's server options.

`python -m tests.bench.floor_grpc --port P` starts MULTIHEAD_WORKERS child
processes (as gunicorn runs one gRPC server per worker), each a `grpc.server`
with the gateway's `server_options(settings)` (SO_REUSEPORT included, so all
bind P) and its thread-pool size, answering every Predict with an empty
response. The difference to the gateway's gRPC point is what the gateway adds.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from concurrent import futures
from typing import Any

READY = "floor-grpc ready"


def serve_one(port: int) -> None:
    import grpc

    from serving.config import Settings
    from serving.grpc.server import server_options
    from serving.protocols.multihead._gen import gateway_pb2, gateway_pb2_grpc

    class Empty(gateway_pb2_grpc.GatewayServicer):
        def Predict(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's naming)
            return gateway_pb2.PredictResponse()

    settings = Settings.from_env()
    # The same pool size as serving/grpc/server.py serve() gives the gateway's server.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max(4, settings.threads)),
                         options=server_options(settings))
    gateway_pb2_grpc.add_GatewayServicer_to_server(Empty(), server)
    if not server.add_insecure_port(f"127.0.0.1:{port}"):
        raise SystemExit(f"floor-grpc could not bind 127.0.0.1:{port}")
    server.start()
    print(READY, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(1).wait(5)


def main(argv: list[str] | None = None) -> int:
    from serving.config import Settings

    p = argparse.ArgumentParser(prog="python -m tests.bench.floor_grpc")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        serve_one(args.port)
        return 0
    workers = Settings.from_env().workers
    kids = [subprocess.Popen([sys.executable, "-m", "tests.bench.floor_grpc", "--port",
                              str(args.port), "--child"], stdout=subprocess.PIPE, text=True)
            for _ in range(workers)]
    for kid in kids:
        line = kid.stdout.readline() if kid.stdout else ""
        if READY not in line:
            for k in kids:
                k.terminate()
            raise SystemExit(f"a floor-grpc child failed to start: {line!r}")
    print(READY, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for kid in kids:
        kid.terminate()
    for kid in kids:
        kid.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
