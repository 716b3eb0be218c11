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
    ├── Unavailable                   (UNAVAILABLE, 503)          runtime not ready / unreachable
    └── DeadlineExceeded              (DEADLINE_EXCEEDED, 504)
"""

from __future__ import annotations

# gRPC code name -> HTTP status, as TF Serving maps them.
_HTTP_BY_CODE: dict[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def http_status_for_code(code: str) -> int:
    """HTTP status for a gRPC code name; anything unknown is a 500, as in TF Serving."""
    return _HTTP_BY_CODE.get(code, 500)


class GatewayError(Exception):
    """Base of every error the gateway reports to a client."""

    code: str = "INTERNAL"
    http_status: int | None = None  # None: derived from `code`

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

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


class Unavailable(GatewayError):
    code = "UNAVAILABLE"


class DeadlineExceeded(GatewayError):
    code = "DEADLINE_EXCEEDED"


class Unimplemented(GatewayError):
    code = "UNIMPLEMENTED"
