"""The SDK's one exception tree, and the one place transport errors are mapped onto it.

    MultiheadError                 base: .message, .code (gRPC code name), .status (HTTP)
    ├── InvalidInput               INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE / 400
    │                              (also a ValueError; raised client-side before a call)
    ├── PayloadTooLarge            413, or gRPC RESOURCE_EXHAUSTED "message larger than max"
    ├── Unauthenticated            UNAUTHENTICATED / 401
    ├── PermissionDenied           PERMISSION_DENIED / 403
    ├── ModelNotFound              NOT_FOUND / 404
    ├── Overloaded                 RESOURCE_EXHAUSTED / 429            (retried)
    ├── Unavailable                UNAVAILABLE / 503, connection refused (retried)
    ├── DeadlineExceeded           DEADLINE_EXCEEDED / 504, client timeout
    ├── Unimplemented              UNIMPLEMENTED / 501
    └── ServerError                INTERNAL, UNKNOWN, any other code / 5xx
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "DeadlineExceeded",
    "InvalidInput",
    "ModelNotFound",
    "MultiheadError",
    "Overloaded",
    "PayloadTooLarge",
    "PermissionDenied",
    "ServerError",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
]


class MultiheadError(Exception):
    """Base of every error the SDK raises.

    `message` is the server's message (or the SDK's own for client-side checks),
    `code` the gRPC status code name, `status` the HTTP status (None when the
    error never reached a server), `retry_after` the delay in seconds the server
    asked for (Retry-After), if any.
    """

    default_code = "UNKNOWN"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
                f"status={self.status!r})")


class InvalidInput(MultiheadError, ValueError):
    """The request is malformed: bad or missing input, unknown signature, head or label."""

    default_code = "INVALID_ARGUMENT"


class PayloadTooLarge(MultiheadError):
    """The request body is larger than the server accepts."""

    default_code = "RESOURCE_EXHAUSTED"


class Unauthenticated(MultiheadError):
    """No API key, or one the server does not accept."""

    default_code = "UNAUTHENTICATED"


class PermissionDenied(MultiheadError):
    """The API key is valid but may not do this."""

    default_code = "PERMISSION_DENIED"


class ModelNotFound(MultiheadError):
    """The model, or the version asked for, is not served."""

    default_code = "NOT_FOUND"


class Overloaded(MultiheadError):
    """The server's queue is full (429 / RESOURCE_EXHAUSTED); retried with backoff."""

    default_code = "RESOURCE_EXHAUSTED"


class Unavailable(MultiheadError):
    """The server or its model runtime cannot answer now (503 / UNAVAILABLE); retried."""

    default_code = "UNAVAILABLE"


class DeadlineExceeded(MultiheadError):
    """No answer within the timeout (client side) or the server's deadline (504)."""

    default_code = "DEADLINE_EXCEEDED"


class Unimplemented(MultiheadError):
    """The server does not implement this call."""

    default_code = "UNIMPLEMENTED"


class ServerError(MultiheadError):
    """The server failed (INTERNAL, UNKNOWN or another unexpected code)."""

    default_code = "INTERNAL"


# The only table of code -> exception; HTTP statuses are looked up through it too.
_BY_CODE: dict[str, type[MultiheadError]] = {
    "INVALID_ARGUMENT": InvalidInput,
    "FAILED_PRECONDITION": InvalidInput,
    "OUT_OF_RANGE": InvalidInput,
    "UNAUTHENTICATED": Unauthenticated,
    "PERMISSION_DENIED": PermissionDenied,
    "NOT_FOUND": ModelNotFound,
    "RESOURCE_EXHAUSTED": Overloaded,
    "UNAVAILABLE": Unavailable,
    "DEADLINE_EXCEEDED": DeadlineExceeded,
    "UNIMPLEMENTED": Unimplemented,
}
# TF Serving's code -> HTTP status (http_rest_api_handler.cc), read backwards for
# servers or proxies that send a status without a JSON "code".
_CODE_BY_HTTP: dict[int, str] = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 501: "UNIMPLEMENTED",
    502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
RETRYABLE: tuple[type[MultiheadError], ...] = (Overloaded, Unavailable)


def error_for(code: str, message: str, *, status: int | None = None,
              retry_after: float | None = None) -> MultiheadError:
    """The exception for a gRPC code name (and HTTP status, where there was one)."""
    code = (code or "UNKNOWN").upper()
    if status == 413 or (code == "RESOURCE_EXHAUSTED" and "larger than max" in message):
        cls: type[MultiheadError] = PayloadTooLarge
    else:
        cls = _BY_CODE.get(code, ServerError)
    return cls(message, code=code, status=status, retry_after=retry_after)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def from_http(status: int, body: bytes, headers: Mapping[str, str]) -> MultiheadError:
    """Map an HTTP error response ({"error": ..., "code": ...}) to its exception."""
    message, code = "", None
    try:
        payload: Any = json.loads(body)
        if isinstance(payload, dict):
            message = str(payload.get("error", ""))
            code = payload.get("code")
    except ValueError:
        message = body.decode("utf-8", "replace").strip()[:500]
    if not message:
        message = f"HTTP {status} with no error message"
    if not isinstance(code, str) or not code:
        code = _CODE_BY_HTTP.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
    return error_for(code, message, status=status,
                     retry_after=parse_retry_after(headers.get("retry-after")))


def from_transport(exc: BaseException, timeout: float | None = None) -> MultiheadError:
    """Map an httpx or grpc exception to the tree: the one place they are translated.

    Callers `raise from_transport(exc) from exc`, so the original stays in __cause__.
    """
    if isinstance(exc, MultiheadError):
        return exc
    code_fn = getattr(exc, "code", None)
    if callable(code_fn) and callable(getattr(exc, "details", None)):  # grpc.RpcError
        return _from_grpc(exc, timeout)
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return DeadlineExceeded(f"no answer within {timeout:g} s ({type(exc).__name__})"
                                if timeout else f"timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        return Unavailable(f"cannot reach the server: {exc or type(exc).__name__}")
    return ServerError(f"{type(exc).__name__}: {exc}", code="UNKNOWN")


def _from_grpc(exc: Any, timeout: float | None) -> MultiheadError:
    code = getattr(exc.code(), "name", "UNKNOWN")
    message = exc.details() or code
    if code == "DEADLINE_EXCEEDED" and message == "Deadline Exceeded" and timeout:
        message = f"no answer within {timeout:g} s"
    retry_after = None
    try:
        trailers = dict(exc.trailing_metadata() or ())
    except Exception:  # noqa: BLE001 - an aio error without trailers
        trailers = {}
    if "retry-after" in trailers:
        retry_after = parse_retry_after(str(trailers["retry-after"]))
    elif "grpc-retry-pushback-ms" in trailers:  # gRFC A6's standard pushback trailer
        pushback = parse_retry_after(str(trailers["grpc-retry-pushback-ms"]))
        retry_after = None if pushback is None else pushback / 1000
    return error_for(code, message, retry_after=retry_after)
