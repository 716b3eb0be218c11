"""The gateway's gRPC server: `multihead.v1.Gateway`, health and reflection.

`serve(settings, service)` is called in each gunicorn worker after fork (see
serving/gunicorn.conf.py): every worker runs one gRPC server on the same port,
which grpc binds with SO_REUSEPORT by default on Linux, so the kernel spreads
connections over the workers the way it spreads HTTP connections. One process
per worker keeps one `InferenceService` (one loaded model set, one batcher) per
process for both protocols, and needs no second supervisor.

Health (`grpc.health.v1.Health`) says NOT_SERVING for "" and
"multihead.v1.Gateway" until `service.readiness()` is empty; a small watcher
thread keeps it current, so it turns NOT_SERVING again when the runtime goes
away and back to SERVING when it returns.
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from serving.auth import ApiKeys
from serving.config import Settings
from serving.core.service import InferenceService
from serving.grpc.guards import GuardedRegistry, Guards

log = logging.getLogger(__name__)

HEALTH_POLL_S = 0.5
DEFAULT_GRACE_S = 10.0


def server_options(settings: Settings) -> list[tuple[str, Any]]:
    return [
        # Over the limit, grpc itself answers RESOURCE_EXHAUSTED (REST's 413).
        ("grpc.max_receive_message_length", settings.max_request_bytes),
        ("grpc.max_send_message_length", -1),
        ("grpc.so_reuseport", 1),
    ]


class _HealthWatcher(threading.Thread):
    """Mirrors `service.readiness()` into the health service."""

    def __init__(self, service: InferenceService, servicer: health.HealthServicer,
                 names: tuple[str, ...]) -> None:
        super().__init__(name="grpc-health-watcher", daemon=True)
        self._service = service
        self._names = names  # "" (the whole server) and every mounted service
        self._health = servicer
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
                self._health.set(name, status)
            self._last = status

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.check()
            self._stop_event.wait(HEALTH_POLL_S)

    def stop(self) -> None:
        self._stop_event.set()


class GatewayServer(grpc.Server):
    """A started grpc.Server that also stops its health watcher on `stop`.

    `stop(grace)` first reports NOT_SERVING (so balancers move away), then lets
    in-flight calls finish for up to `grace` seconds while refusing new ones.
    """

    def __init__(self, server: grpc.Server, watcher: _HealthWatcher,
                 health_servicer: health.HealthServicer, port: int) -> None:
        self._server = server
        self._watcher = watcher
        self._health = health_servicer
        self.port = port

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(generic_rpc_handlers)

    def add_registered_method_handlers(self, service_name: str, method_handlers: Any) -> None:
        self._server.add_registered_method_handlers(service_name, method_handlers)

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: Any) -> int:
        return self._server.add_secure_port(address, server_credentials)

    def start(self) -> None:
        self._server.start()

    def stop(self, grace: float | None = DEFAULT_GRACE_S) -> threading.Event:
        self._watcher.stop()
        self._health.enter_graceful_shutdown()
        return self._server.stop(grace)

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout)


def serve(settings: Settings, service: InferenceService) -> GatewayServer:
    """Start the gRPC server on settings.host:settings.grpc_port; returns at once."""
    from serving import protocols

    rooms = protocols.rooms(settings.protocols)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max(4, settings.threads),
                                   thread_name_prefix="grpc"),
        options=server_options(settings))
    # Every handler is guarded as it is registered (serving/grpc/guards.py): request ids
    # and the access line, API keys, undecodable bytes, arrivals; no per-call interceptors.
    registry = GuardedRegistry(server, Guards(
        service.arrivals, ApiKeys(settings.api_keys, settings.admin_keys),
        tuple(s for room in rooms for s in room.grpc_auth_services),
        tuple(m for room in rooms for m in room.grpc_open_methods),
        tuple(m for room in rooms for m in room.grpc_admin_methods),
        access_log=settings.access_log,
        request_ids={method: id_of for room in rooms
                     for method, id_of in room.grpc_request_ids.items()}))
    services: list[str] = []
    for room in rooms:
        services.extend(room.add_grpc_services(registry, settings, service))
    names = ("", *services)

    health_servicer = health.HealthServicer(
        experimental_non_blocking=True,
        experimental_thread_pool=futures.ThreadPoolExecutor(max_workers=1))
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, registry)
    for name in names:
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    reflection.enable_server_reflection(
        (*services, health.SERVICE_NAME, reflection.SERVICE_NAME), registry)

    address = f"{settings.host}:{settings.grpc_port}"
    port = server.add_insecure_port(address)
    if not port:
        raise RuntimeError(f"gRPC server could not bind {address}")
    watcher = _HealthWatcher(service, health_servicer, names)
    watcher.check()
    server.start()
    watcher.start()
    log.info("gRPC gateway listening on %s:%d", settings.host, port)
    return GatewayServer(server, watcher, health_servicer, port)
