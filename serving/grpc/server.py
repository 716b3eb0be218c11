"""The gateway's gRPC server: every mounted room's services, health and reflection.

`serve(settings, service)` is called in each gunicorn worker after fork (see
serving/gunicorn_config.py): every worker runs one gRPC server on the same port,
which grpc binds with SO_REUSEPORT by default on Linux, so the kernel spreads
connections over the workers the way it spreads HTTP connections. One process
per worker keeps one `InferenceService` (one loaded model set, one batcher) per
process for both protocols, and needs no second supervisor.

The server is grpc.aio's, on an event loop of its own thread, beside the worker's HTTP
threads. grpcio's plain server handles every call's events in Python threads (grpc/
_server.py: the polling thread, then a pool thread per call); make profile put about a
third of a worker's GIL time there at c=8. grpc.aio handles them in its Cython event
loop, and only the rooms' handlers, which block (the core batches and calls the model in
the calling thread), run in a thread pool (serving/grpc/guards.py `in_pool`).

Health (`grpc.health.v1.Health`) says NOT_SERVING for "" and every mounted service
until `service.readiness()` is empty; a small watcher thread keeps it current, so it
turns NOT_SERVING again when the runtime goes away and back to SERVING when it returns.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from serving.config import Settings
from serving.core.service import InferenceService
from serving.grpc.guards import GuardedRegistry, Guards

log = logging.getLogger(__name__)

HEALTH_POLL_S = 0.5
DEFAULT_GRACE_S = 10.0
START_TIMEOUT_S = 60.0


def server_options(settings: Settings) -> list[tuple[str, Any]]:
    return [
        # Over the limit, grpc itself answers RESOURCE_EXHAUSTED (REST's 413).
        ("grpc.max_receive_message_length", settings.max_request_bytes),
        ("grpc.max_send_message_length", -1),
        ("grpc.so_reuseport", 1),
    ]


class _HealthWatcher(threading.Thread):
    """Mirrors `service.readiness()` into the (asyncio) health service."""

    def __init__(self, service: InferenceService, servicer: Any, names: tuple[str, ...],
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name="grpc-health-watcher", daemon=True)
        self._service = service
        self._names = names  # "" (the whole server) and every mounted service
        self._health = servicer
        self._loop = loop
        self._stop_event = threading.Event()
        self._last: int | None = None

    def check(self) -> None:
        try:
            reasons = self._service.readiness()
        except Exception:  # noqa: BLE001 - a failing readiness check means not ready
            log.exception("readiness check failed")
            reasons = ["readiness check failed"]
        status = (health_pb2.HealthCheckResponse.SERVING if not reasons
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        if status != self._last:
            if reasons:
                log.info("gRPC health NOT_SERVING: %s", "; ".join(reasons))
            for name in self._names:
                asyncio.run_coroutine_threadsafe(self._health.set(name, status),
                                                 self._loop).result(START_TIMEOUT_S)
            self._last = status

    def run(self) -> None:
        while not self._stop_event.wait(HEALTH_POLL_S):
            try:
                self.check()
            except RuntimeError:  # the loop stopped under it: the server is gone
                return

    def stop(self) -> None:
        self._stop_event.set()


class GatewayServer:
    """The started server: `port`, and `stop(grace)`, which first reports NOT_SERVING (so
    balancers move away), then lets in-flight calls finish for up to `grace` seconds
    while refusing new ones, and returns an Event set once the server is down."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread,
                 server: grpc.aio.Server, watcher: _HealthWatcher, health_servicer: Any,
                 pool: futures.ThreadPoolExecutor, port: int) -> None:
        self._loop = loop
        self._thread = thread
        self._server = server
        self._watcher = watcher
        self._health = health_servicer
        self._pool = pool
        self._stopped = threading.Event()
        self._stopping = False
        self.port = port

    def stop(self, grace: float | None = DEFAULT_GRACE_S) -> threading.Event:
        if self._stopping:
            return self._stopped
        self._stopping = True
        self._watcher.stop()

        async def shutdown() -> None:
            await self._health.enter_graceful_shutdown()
            await self._server.stop(grace)

        def finished(_: Any) -> None:  # in the loop's thread
            self._loop.stop()
            self._pool.shutdown(wait=False)
            self._stopped.set()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).add_done_callback(finished)
        return self._stopped

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """True once the server has stopped (False if `timeout` passed first)."""
        return self._stopped.wait(timeout)


async def _start(settings: Settings, service: InferenceService,
                 pool: futures.ThreadPoolExecutor) -> tuple[grpc.aio.Server, Any, tuple, int]:
    """Build, register and start the server, in the loop's thread."""
    from serving import protocols

    rooms = protocols.rooms(settings.protocols)
    server = grpc.aio.server(options=server_options(settings))
    # Every handler is guarded as it is registered (serving/grpc/guards.py): API keys,
    # undecodable bytes, arrivals; the rooms' blocking handlers run in `pool`.
    registry = GuardedRegistry(server, Guards(
        service.arrivals, settings.api_keys,
        tuple(s for room in rooms for s in room.grpc_auth_services),
        tuple(m for room in rooms for m in room.grpc_open_methods), pool=pool))
    services: list[str] = []
    for room in rooms:
        services.extend(room.add_grpc_services(registry, settings, service))
    names = ("", *services)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, registry)
    for name in names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    # What reflection.enable_server_reflection does for a grpc.aio server, through the
    # registry (undecodable bytes are INVALID_ARGUMENT there too).
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer(
            (*services, health.SERVICE_NAME, reflection.SERVICE_NAME)), registry)

    address = f"{settings.host}:{settings.grpc_port}"
    port = server.add_insecure_port(address)
    if not port:
        raise RuntimeError(f"gRPC server could not bind {address}")
    await server.start()
    return server, health_servicer, names, port


def serve(settings: Settings, service: InferenceService) -> GatewayServer:
    """Start the gRPC server on settings.host:settings.grpc_port; returns once it listens."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="grpc-loop", daemon=True)
    thread.start()
    pool = futures.ThreadPoolExecutor(max_workers=max(4, settings.threads),
                                      thread_name_prefix="grpc")
    try:
        server, health_servicer, names, port = asyncio.run_coroutine_threadsafe(
            _start(settings, service, pool), loop).result(START_TIMEOUT_S)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        pool.shutdown(wait=False)
        raise
    watcher = _HealthWatcher(service, health_servicer, names, loop)
    watcher.check()
    watcher.start()
    log.info("gRPC gateway listening on %s:%d", settings.host, port)
    return GatewayServer(loop, thread, server, watcher, health_servicer, pool, port)
