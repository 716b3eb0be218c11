"""The gateway's exception tree. Each class carries its gRPC code name; HTTP status
and gRPC status are derived from that code in one place (`http_status`, and
`serving/grpc/status.py`), mirroring TF Serving's mapping
(tensorflow_serving/model_servers/http_rest_api_handler.cc -> ToHTTPStatusCode).

    GatewayError                      (INTERNAL, 500)
    ├── InvalidInput                  (INVALID_ARGUMENT, 400)
    ├── FailedPrecondition            (FAILED_PRECONDITION, 400)  unknown signature (gRPC)
    ├── NotFound                      (NOT_FOUND, 404)            unknown model / version
    ├── PayloadTooLarge               (RESOURCE_EXHAUSTED, 413)   body over MAX_REQUEST_BYTES
    ├── Overloaded                    (RESOURCE_EXHAUSTED, 429)   batch queue full
    ├── Unauthenticated               (UNAUTHENTICATED, 401)
    ├── PermissionDenied              (PERMISSION_DENIED, 403)    management without an admin key
    ├── Unavailable                   (UNAVAILABLE, 503)          runtime not ready / unreachable
    │   └── Shed                      (UNAVAILABLE, 503)          overload (Retry-After)
    ├── Cancelled                     (CANCELLED, 499)            the client went away
    ├── DeadlineExceeded              (DEADLINE_EXCEEDED, 504)
    │   └── RequestTimeout            (DEADLINE_EXCEEDED, 408)    request not sent in time
    ├── Unimplemented                 (UNIMPLEMENTED, 501)
    └── Unknown                       (UNKNOWN, 500)              a model did not become available

An error raised to drop a request before its model ran carries `shed`, the reason
(`queue_time`, `deadline`, `client_gone`, `runtime_busy`, `runtime_unavailable`): the core
counts it in `multihead_shed_requests_total`. `retry_after_s` becomes REST's `Retry-After`
and gRPC's `grpc-retry-pushback-ms` (gRFC A6).

Every message passes through `safe_text`, and client-chosen names are quoted with
`quote`: a message never carries a lone UTF-16 surrogate or a control character,
so it can always be written as UTF-8 (JSON body, gRPC status details, log line).
"""

from __future__ import annotations

# The one table of gRPC code names and HTTP statuses. Code -> status as TF Serving maps
# them (http_rest_api_handler.cc, ToHTTPStatusCode); the first code of a status is what
# an error raised below the gateway's own (werkzeug's routing, gunicorn's parser) reports.
_CODES_AND_STATUSES: tuple[tuple[str, int], ...] = (
    ("OK", 200),
    ("CANCELLED", 499),
    ("INVALID_ARGUMENT", 400),
    ("FAILED_PRECONDITION", 400),
    ("OUT_OF_RANGE", 400),
    ("NOT_FOUND", 404),
    ("ALREADY_EXISTS", 409),
    ("PERMISSION_DENIED", 403),
    ("UNAUTHENTICATED", 401),
    ("RESOURCE_EXHAUSTED", 429),
    ("UNIMPLEMENTED", 501),
    ("UNAVAILABLE", 503),
    ("DEADLINE_EXCEEDED", 504),
    ("INTERNAL", 500),
)
_HTTP_BY_CODE: dict[str, int] = dict(_CODES_AND_STATUSES)
# HTTP-only statuses (no gRPC code maps to them) and the code the gateway reports for each.
_CODE_BY_STATUS: dict[int, str] = {
    405: "UNIMPLEMENTED", 408: "DEADLINE_EXCEEDED", 411: "INVALID_ARGUMENT",
    413: "RESOURCE_EXHAUSTED", 414: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT",
    417: "FAILED_PRECONDITION", 431: "RESOURCE_EXHAUSTED",
    **{status: code for code, status in reversed(_CODES_AND_STATUSES)},
}


# What `quote` keeps of a client-chosen name before it marks the cut: as much as TF
# Serving keeps of a whole gRPC message (serving/grpc/status.py MESSAGE_LIMIT), so a
# message echoing a longer name is cut the way TF Serving cuts it.
QUOTE_LIMIT = 1024


def safe_text(text: str) -> str:
    """`text` with lone surrogates and control characters written as escapes.

    A JSON parser that accepts `"\\ud800"` (Python's json does) hands the gateway a
    str that UTF-8 cannot encode; echoing it in an error used to turn a 400 into a
    500. Newlines and tabs are escaped too, so a message stays one line.
    """
    if text.isprintable():  # fast path: isprintable() is False for surrogates and controls
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A client-chosen name (input, head, signature, model, label) quoted for a message:
    escaped by `safe_text` and cut at `limit` characters."""
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) \
        else str(value)
    text = safe_text(text)
    if len(text) > limit:
        text = text[:limit] + f"...({len(text)} characters)"
    return f"'{text}'"


def http_status_for_code(code: str) -> int:
    """HTTP status for a gRPC code name; anything unknown is a 500, as in TF Serving."""
    return _HTTP_BY_CODE.get(code, 500)


def code_for_http_status(status: int) -> str:
    """The gRPC code name an HTTP error status is reported with; "UNKNOWN" if none."""
    return _CODE_BY_STATUS.get(status, "UNKNOWN")


class GatewayError(Exception):
    """Base of every error the gateway reports to a client."""

    code: str = "INTERNAL"
    http_status: int | None = None  # None: derived from `code`
    retry_after_s: int | None = None  # when a client may try again (overload)

    def __init__(self, message: str, shed: str = "") -> None:
        message = safe_text(message)
        super().__init__(message)
        self.message = message
        self.shed = shed  # why the request was dropped before its model ran ("": it was not)

    @property
    def status(self) -> int:
        return self.http_status if self.http_status is not None else http_status_for_code(self.code)

    def to_json(self) -> dict[str, str]:
        return {"error": self.message, "code": self.code}


class InvalidInput(GatewayError):
    code = "INVALID_ARGUMENT"


class FailedPrecondition(GatewayError):
    code = "FAILED_PRECONDITION"


class NotFound(GatewayError):
    code = "NOT_FOUND"


class PayloadTooLarge(GatewayError):
    code = "RESOURCE_EXHAUSTED"
    http_status = 413


class Overloaded(GatewayError):
    code = "RESOURCE_EXHAUSTED"


class Unauthenticated(GatewayError):
    code = "UNAUTHENTICATED"


class PermissionDenied(GatewayError):
    code = "PERMISSION_DENIED"


class Unavailable(GatewayError):
    code = "UNAVAILABLE"


class Shed(Unavailable):
    """Refused before the model ran so that the requests admitted are answered in time:
    it waited past its queue budget, or the runtime is saturated or not answering."""

    retry_after_s = 1


class Cancelled(GatewayError):
    """The client closed its connection or cancelled its call; nobody reads the answer."""

    code = "CANCELLED"


class DeadlineExceeded(GatewayError):
    code = "DEADLINE_EXCEEDED"


class RequestTimeout(DeadlineExceeded):
    """The client did not send its request (headers and body) within REQUEST_TIMEOUT_S."""

    http_status = 408


class Unimplemented(GatewayError):
    code = "UNIMPLEMENTED"


class Unknown(GatewayError):
    """TF Serving's UNKNOWN: what its ReloadConfig answers when a model it was asked to load
    did not become available (tensorflow_serving/model_servers/server_core.cc)."""

    code = "UNKNOWN"
