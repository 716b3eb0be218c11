"""`serving.errors` -> gRPC status, in one place.

Every `GatewayError` carries its gRPC code name, so the gRPC status mirrors the
REST table (serving/errors.py) by construction: INVALID_ARGUMENT and
FAILED_PRECONDITION where REST says 400, NOT_FOUND for 404, RESOURCE_EXHAUSTED
for 413/429, UNAVAILABLE for 503, DEADLINE_EXCEEDED for 504. Anything that is not
a `GatewayError` is a bug: INTERNAL with a generic message, details in the log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc

from serving import request_context
from serving.errors import GatewayError
from serving.request_context import METADATA_KEY

log = logging.getLogger(__name__)

# TF Serving cuts error messages at 1024 characters and marks the cut
# (tensorflow_serving/model_servers/grpc_status_util.cc, ToGRPCStatus).
MESSAGE_LIMIT = 1024
TRUNCATED = "...TRUNCATED"

F = TypeVar("F", bound=Callable[..., Any])
PUSHBACK_KEY = "grpc-retry-pushback-ms"


def truncate(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + TRUNCATED


def code_for(error: GatewayError) -> grpc.StatusCode:
    """gRPC status code of a gateway error (its `code` name; unknown names are INTERNAL)."""
    return getattr(grpc.StatusCode, error.code, grpc.StatusCode.INTERNAL)


def to_status(exc: BaseException, remap: Mapping[str, grpc.StatusCode] | None = None
              ) -> tuple[grpc.StatusCode, str]:
    """(code, message) a client sees for an exception raised while serving a call.

    `remap`: a protocol's own codes for some of ours (OIP v2 has no FAILED_PRECONDITION).
    """
    if isinstance(exc, GatewayError):
        code = (remap or {}).get(exc.code) or code_for(exc)
        return code, truncate(exc.message)
    return (grpc.StatusCode.INTERNAL,
            "Internal error while serving the request; see the gateway log.")


def error_handler(remap: Mapping[str, grpc.StatusCode] | None = None) -> Callable[[F], F]:
    """A decorator for servicer methods: gateway errors become the matching gRPC status."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return method(self, request, context)
            except GatewayError as exc:
                code, message = to_status(exc, remap)
                retry_after = exc.retry_after_s
            except Exception as exc:  # noqa: BLE001 - the one place a bug becomes INTERNAL
                log.exception("unhandled error in %s", method.__name__)
                code, message = to_status(exc, remap)
                retry_after = None
            if retry_after is not None:
                # gRFC A6 server pushback: a retrying client waits this long. Setting
                # trailing metadata replaces it: the request id (serving/grpc/access.py)
                # goes again.
                record = request_context.current()
                context.set_trailing_metadata((
                    *(((METADATA_KEY, record.id),) if record is not None else ()),
                    (PUSHBACK_KEY, str(int(retry_after * 1000)))))
            # abort() raises; it is called outside the except blocks so the traceback
            # of the gateway error does not chain into grpc's own exception.
            context.abort(code, message)

        return wrapper  # type: ignore[return-value]

    return decorate


handle_errors = error_handler()
