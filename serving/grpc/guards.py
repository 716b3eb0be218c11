"""What every gRPC call passes before its servicer, wrapped around each method handler once.

In this order:

0. **Request record** (serving/grpc/access.py): the call's id, trace context and access
   line, around everything below so that a refused call has them too.
1. **API key** (serving/auth.py): on the services a mounted room lists in
   `GRPC_AUTH_SERVICES`, less its `GRPC_OPEN_METHODS`, when `MULTIHEAD_API_KEYS` is set;
   an **admin key** on its `GRPC_ADMIN_METHODS` (model management), closed without
   `MULTIHEAD_ADMIN_KEYS`; health and reflection stay open, like /healthz and
   /openapi.json. The key travels as `authorization: Bearer <key>` metadata; a call
   without a good one is UNAUTHENTICATED (PERMISSION_DENIED: an API key on management),
   whatever its bytes.
2. **Decoding** (serving/grpc/decode.py): request bytes that are not the method's message
   are INVALID_ARGUMENT, on every method of every service.
3. **Arrivals**: a unary call counts as on its way to the batcher while its handler runs
   (serving/core/batching.py `Arrivals`); its message is decoded whole by then.

They wrap the handlers when the rooms register them (`GuardedRegistry`), not on every
call as `grpc.ServerInterceptor`s would: grpcio runs a server's interceptor pipeline for
each call, and looks registered methods up directly only when it has none (grpc/
_server.py, `_find_method_handler`). Three pass-through interceptors cost a third of the
empty-Predict floor's throughput here (make bench's floor-grpc, h2load, c=32).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import grpc

from serving.auth import ApiKeys
from serving.core.batching import Arrivals
from serving.errors import GatewayError
from serving.grpc.access import RequestIdOf, recorded
from serving.grpc.decode import guard_handler
from serving.grpc.status import to_status

_KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")


class Guards:
    """The checks of one server: which methods need a key, and this process's arrivals."""

    def __init__(self, arrivals: Arrivals, keys: ApiKeys | None = None,
                 auth_services: Iterable[str] = (), open_methods: Iterable[str] = (),
                 admin_methods: Iterable[str] = (), access_log: bool = False,
                 request_ids: Mapping[str, RequestIdOf] | None = None) -> None:
        self._arrivals = arrivals
        self._access_log = access_log
        self._ids = dict(request_ids or {})
        self._keys = keys if keys is not None else ApiKeys(())
        self._prefixes = tuple(f"/{s}/" for s in auth_services)
        self._open = frozenset(open_methods)
        self._admin = frozenset(admin_methods)

    def needs_key(self, method: str) -> bool:
        return method in self._admin or (bool(self._keys) and method.startswith(
            self._prefixes) and method not in self._open)

    def wrap(self, method: str, handler: Any) -> Any:
        """`handler` (a grpc.RpcMethodHandler of `method`, "/pkg.Service/Name") guarded."""
        if handler is None:
            return None
        if handler.unary_unary is not None:
            handler = handler._replace(unary_unary=self._counted(handler.unary_unary))
        handler = guard_handler(handler)
        if self.needs_key(method):
            # grpcio's handlers are namedtuples (grpc._utilities.RpcMethodHandler).
            management = method in self._admin
            handler = handler._replace(**{kind: self._keyed(getattr(handler, kind), management)
                                          for kind in _KINDS if getattr(handler, kind)})
        if handler.unary_unary is not None:
            handler = handler._replace(unary_unary=recorded(
                handler.unary_unary, method, self._access_log, self._ids.get(method)))
        return handler

    def _counted(self, behavior: Callable[..., Any]) -> Callable[..., Any]:
        arrivals = self._arrivals

        def counted(request: Any, context: grpc.ServicerContext) -> Any:
            with arrivals.request():
                return behavior(request, context)

        return counted

    def _keyed(self, behavior: Callable[..., Any], management: bool) -> Callable[..., Any]:
        keys = self._keys

        def keyed(request: Any, context: grpc.ServicerContext) -> Any:
            credential = next((v for k, v in context.invocation_metadata() or ()
                               if k == "authorization"), None)
            try:
                keys.check(credential, "the authorization metadata", management)
            except GatewayError as exc:
                context.abort(*to_status(exc))
            return behavior(request, context)

        return keyed


class _GuardedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose answers are guarded, each method's once."""

    def __init__(self, inner: grpc.GenericRpcHandler, guards: Guards) -> None:
        self._inner = inner
        self._guards = guards
        self._wrapped: dict[str, tuple[Any, Any]] = {}  # method -> (handler, guarded)
        self._lock = threading.Lock()

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        method = handler_call_details.method
        handler = self._inner.service(handler_call_details)
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        guarded = self._guards.wrap(method, handler)
        with self._lock:
            self._wrapped[method] = (handler, guarded)
        return guarded


class GuardedRegistry:
    """What a room's `add_grpc_services` registers on: the server, with every handler
    guarded on its way in (the generated `add_*Servicer_to_server` functions call these
    two methods)."""

    def __init__(self, server: Any, guards: Guards) -> None:
        self._server = server
        self._guards = guards

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_GuardedGeneric(h, self._guards) for h in handlers))

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Any]
                                       ) -> None:
        self._server.add_registered_method_handlers(
            service, {name: self._guards.wrap(f"/{service}/{name}", h)
                      for name, h in handlers.items()})
