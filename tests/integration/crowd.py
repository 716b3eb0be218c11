"""Crowds of clients for the overload tests: many REST connections and gRPC channels from
one asyncio loop (a thread per client would cost more than the gateway under test), and a
prober that times /healthz, /readyz and gRPC health on fresh connections.

Each client runs a closed loop for the crowd's duration and records every call:
`Call(kind, started, seconds, status, error)`, `status` being the HTTP status or the gRPC
code name, `error` the transport failure ("" for an answer): a refused, reset or timed-out
connection is an error, a 503 is an answer. After an answer other than 200/OK a client
pauses PAUSE_S, as a client backing off would (one that retried at once would only measure
how fast the gateway can refuse).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from serving.rest.probes import PROBE_ANSWER_S

PAUSE_S = 0.05
# How long a probe may take here: what a kubelet waits (its timeout is twice what the gateway
# promises, tests/unit/k8s/test_gateway_rollout.py). The prober shares the cores with the
# crowd and the gateway, so its clock also counts its own wait for a core.
KUBELET_PROBE_S = 2 * PROBE_ANSWER_S
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Call:
    kind: str        # "rest" | "grpc" | a probe path | "grpc-health"
    started: float   # time.monotonic()
    seconds: float
    status: str      # "200", "503", "OK", "UNAVAILABLE", "SERVING", ...
    error: str = ""  # transport failure: "timeout", "reset", "refused", ...
    retry_after: str | None = None


@dataclass
class Crowd:
    """`rest` REST clients and `grpc_clients` gRPC clients calling until `stop` is set."""

    host: str
    http_port: int
    path: str
    body: bytes
    rest: int = 0
    grpc_target: str = ""
    grpc_call: Callable[[grpc.aio.Channel], Any] | None = None  # one call; raises RpcError
    grpc_clients: int = 0
    timeout_s: float = 5.0
    headers: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        thread.start()
        return thread

    async def _run(self) -> None:
        tasks = [asyncio.create_task(self._rest_client()) for _ in range(self.rest)]
        channels = []
        if self.grpc_clients:
            channels = [grpc.aio.insecure_channel(self.grpc_target)
                        for _ in range(max(1, self.grpc_clients // 25))]
            tasks += [asyncio.create_task(self._grpc_client(channels[i % len(channels)]))
                      for i in range(self.grpc_clients)]
        self.ready.set()
        await asyncio.gather(*tasks)
        for channel in channels:
            await channel.close()

    def _request(self) -> bytes:
        extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        return (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n"
                f"{extra}\r\n").encode() + self.body

    async def _rest_client(self) -> None:
        request = self._request()
        reader = writer = None
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(self.host, self.http_port), self.timeout_s)
                writer.write(request)
                status, headers, keep = await asyncio.wait_for(_read_response(reader),
                                                               self.timeout_s)
                self.calls.append(Call("rest", started, time.monotonic() - started, status,
                                       retry_after=headers.get("retry-after")))
                if not keep:
                    writer.close()
                    reader = writer = None
                if status != "200":
                    await asyncio.sleep(PAUSE_S)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.calls.append(Call("rest", started, time.monotonic() - started, "",
                                       error=_error_kind(exc)))
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(PAUSE_S)
        if writer is not None:
            writer.close()

    async def _grpc_client(self, channel: grpc.aio.Channel) -> None:
        assert self.grpc_call is not None
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                await self.grpc_call(channel)
                status = "OK"
            except grpc.aio.AioRpcError as exc:
                status = exc.code().name
            self.calls.append(Call("grpc", started, time.monotonic() - started, status))
            if status != "OK":
                await asyncio.sleep(PAUSE_S)


async def _read_response(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1]
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if line)}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, headers.get("connection", "").lower() != "close"


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | asyncio.IncompleteReadError):
        return "reset"
    return type(exc).__name__


class Prober(threading.Thread):
    """Times /healthz, /readyz and gRPC health every `every_s`, each on a fresh connection
    (as a kubelet probes), until stopped."""

    def __init__(self, host: str, http_port: int, grpc_target: str = "",
                 every_s: float = 0.1, timeout_s: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.host, self.http_port, self.grpc_target = host, http_port, grpc_target
        self.every_s, self.timeout_s = every_s, timeout_s
        self.calls: list[Call] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every_s):
            for path in ("/healthz", "/readyz"):
                self.calls.append(self._http(path))
            if self.grpc_target:
                self.calls.append(self._grpc_health())

    def _http(self, path: str) -> Call:
        started = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.http_port, timeout=self.timeout_s)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            json.loads(resp.read())
            return Call(path, started, time.monotonic() - started, str(resp.status))
        except (OSError, ValueError) as exc:
            return Call(path, started, time.monotonic() - started, "", error=_error_kind(exc))
        finally:
            conn.close()

    def _grpc_health(self) -> Call:
        started = time.monotonic()
        with grpc.insecure_channel(self.grpc_target) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=self.timeout_s)
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError as exc:
                status = exc.code().name
        return Call("grpc-health", started, time.monotonic() - started, status)

    def stop(self) -> list[Call]:
        self.halt.set()
        self.join(self.timeout_s * 3 + 5)
        return self.calls


class ProberProcess:
    """A `Prober` in a process of its own, as a kubelet is: a crowd in the test process
    must not delay the probes' own clock (one GIL)."""

    def __init__(self, host: str, http_port: int, grpc_target: str = "",
                 every_s: float = 0.1) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.crowd", host, str(http_port),
             grpc_target, str(every_s)], cwd=REPO_ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "probing"

    def stop(self) -> list[Call]:
        """The probes so far (their `started` on this process's clock: the same monotonic
        clock of the machine)."""
        out, _ = self.process.communicate("stop\n", timeout=60)
        return [Call(**json.loads(line)) for line in out.splitlines() if line.strip()]


def _probe_main(argv: list[str]) -> None:
    host, port, target, every = argv
    prober = Prober(host, int(port), target, float(every))
    prober.start()
    print("probing", flush=True)
    sys.stdin.readline()
    for call in prober.stop():
        print(json.dumps(dataclasses.asdict(call)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


if __name__ == "__main__":  # the prober process: HOST PORT GRPC_TARGET EVERY_S
    _probe_main(sys.argv[1:])
