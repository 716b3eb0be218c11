"""A request that is not a valid protobuf message is INVALID_ARGUMENT, on every service.

grpcio runs a method's `request_deserializer` itself (grpc/_server.py,
`_unary_request` / `_RequestIterator`); when it raises, grpcio logs "Exception
deserializing request!" and ends the call with INTERNAL, and offers no hook to
pick another status from inside the deserializer. So `guard_handler` wraps every
handler the server registers (every protocol's servicer, health, reflection;
serving/grpc/guards.py): the wrapped deserializer turns a failure into an
`Undecodable` value instead of raising, and the wrapped behaviour aborts with
INVALID_ARGUMENT naming the message type before the servicer sees it.

What the library does not let us change: a message over
`grpc.max_receive_message_length` is refused by gRPC core before Python runs
(RESOURCE_EXHAUSTED, which is right), and bytes that are not HTTP/2 at all never
reach a handler (the transport closes the connection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from serving.errors import InvalidInput, safe_text
from serving.grpc.status import to_status


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request message whose bytes did not parse."""

    type_name: str
    reason: str

    def error(self) -> InvalidInput:
        return InvalidInput(f"The request is not a valid {self.type_name} message "
                            f"({self.reason}).")


def _type_name(deserializer: Callable[[bytes], Any]) -> str:
    # The generated stubs pass `Message.FromString`, bound to the message class.
    cls = getattr(deserializer, "__self__", None)
    descriptor = getattr(cls, "DESCRIPTOR", None)
    return getattr(descriptor, "full_name", None) or "protobuf"


def _safe_deserializer(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    type_name = _type_name(deserializer)

    def deserialize(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except Exception as exc:  # noqa: BLE001 - DecodeError, or anything a parser raises
            reason = safe_text(str(exc))[:200] or type(exc).__name__
            return Undecodable(type_name, reason)

    return deserialize


def _abort(context: grpc.ServicerContext, bad: Undecodable) -> None:
    code, message = to_status(bad.error())
    context.abort(code, message)


def _unary(behavior: Callable[..., Any]) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            _abort(context, request)
        return behavior(request, context)

    return call


def _checked_iterator(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
    for request in requests:
        if isinstance(request, Undecodable):
            _abort(context, request)
        yield request


def _streaming(behavior: Callable[..., Any]) -> Callable[..., Any]:
    def call(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
        return behavior(_checked_iterator(requests, context), context)

    return call


def guard_handler(handler: Any) -> Any:
    """`handler` (a grpc.RpcMethodHandler) with a deserializer that never raises."""
    if handler is None or handler.request_deserializer is None:
        return handler
    wrap = _streaming if handler.request_streaming else _unary
    changes: dict[str, Any] = {
        "request_deserializer": _safe_deserializer(handler.request_deserializer)}
    for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behavior = getattr(handler, kind)
        if behavior is not None:
            changes[kind] = wrap(behavior)
    # grpcio's handlers are namedtuples (grpc._utilities.RpcMethodHandler).
    return handler._replace(**changes)
