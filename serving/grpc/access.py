"""Request ids, trace context and the access log line of every unary gRPC call.

`RequestInterceptor` runs first, around every other interceptor, so that even a call
refused for undecodable bytes or a missing key has its id and its access line. The id is
the `x-request-id` metadata when the client sent a usable one, else the protocol's own
request id where a protocol package declares one for a method (`GRPC_REQUEST_IDS`: OIP's
`ModelInferRequest.id`), else a new one; it goes back in the trailing metadata
(`x-request-id`), which every outcome carries, aborts included, at no extra round of the
completion queue. `traceparent` / `tracestate` metadata is the call's W3C trace context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc

from serving import logs, request_context
from serving.request_context import METADATA_KEY, RequestRecord

RequestIdOf = Callable[[Any], Any]


class RequestInterceptor(grpc.ServerInterceptor):
    def __init__(self, access_log: bool, request_ids: Mapping[str, RequestIdOf]) -> None:
        self._access_log = access_log
        self._ids = dict(request_ids)

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        behavior, method = handler.unary_unary, details.method
        id_of = self._ids.get(method)
        client_id = traceparent = tracestate = ""
        for key, value in details.invocation_metadata or ():
            if key == METADATA_KEY:
                client_id = value
            elif key == "traceparent":
                traceparent = value
            elif key == "tracestate":
                tracestate = value

        def served(request: Any, context: grpc.ServicerContext) -> Any:
            given = client_id
            if not request_context.usable_id(given) and id_of is not None:
                given = _protocol_id(id_of, request)
            record = RequestRecord.open(given, traceparent, tracestate, "grpc")
            token = request_context.enter(record)
            context.set_trailing_metadata(((METADATA_KEY, record.id),))
            failed = True
            try:
                response = behavior(request, context)
                failed = False
                return response
            finally:
                record.finish_trace()
                if self._access_log:
                    code = context.code()
                    name = code.name if code is not None else ("UNKNOWN" if failed else "OK")
                    logs.access(record, method, name, name)
                request_context.leave(token)

        return handler._replace(unary_unary=served)


def _protocol_id(id_of: RequestIdOf, request: Any) -> str:
    try:
        return id_of(request)
    except AttributeError:  # an undecodable message (serving/grpc/decode.py Undecodable)
        return ""
