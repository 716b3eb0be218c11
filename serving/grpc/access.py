"""Request ids, trace context and the access log line of every unary gRPC call.

`recorded` is the outermost guard of every unary handler (serving/grpc/guards.py), so that
even a call refused for undecodable bytes or a missing key has its id and its access line.
The id is the `x-request-id` metadata when the client sent a usable one, else the
protocol's own request id where a protocol package declares one for a method
(`GRPC_REQUEST_IDS`: OIP's `ModelInferRequest.id`), else a new one; it goes back in the
trailing metadata (`x-request-id`), which every outcome carries, aborts included, at no
extra round of the completion queue. `traceparent` / `tracestate` metadata is the call's
W3C trace context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from serving import logs, request_context
from serving.request_context import METADATA_KEY, RequestRecord

RequestIdOf = Callable[[Any], Any]


def recorded(behavior: Callable[..., Any], method: str, access_log: bool,
             id_of: RequestIdOf | None) -> Callable[..., Any]:
    """`behavior` (a unary handler of `method`) inside its request record."""

    def served(request: Any, context: grpc.ServicerContext) -> Any:
        client_id = traceparent = tracestate = ""
        for key, value in context.invocation_metadata() or ():
            if key == METADATA_KEY:
                client_id = value
            elif key == "traceparent":
                traceparent = value
            elif key == "tracestate":
                tracestate = value
        if not request_context.usable_id(client_id) and id_of is not None:
            client_id = _protocol_id(id_of, request)
        record = RequestRecord.open(client_id, traceparent, tracestate, "grpc")
        token = request_context.enter(record)
        context.set_trailing_metadata(((METADATA_KEY, record.id),))
        failed = True
        try:
            response = behavior(request, context)
            failed = False
            return response
        finally:
            record.finish_trace()
            if access_log:
                code = context.code()
                name = code.name if code is not None else ("UNKNOWN" if failed else "OK")
                logs.access(record, method, name, name)
            request_context.leave(token)

    return served


def _protocol_id(id_of: RequestIdOf, request: Any) -> str:
    try:
        return id_of(request)
    except AttributeError:  # an undecodable message (serving/grpc/decode.py Undecodable)
        return ""
