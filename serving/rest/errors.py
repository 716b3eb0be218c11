"""The one place errors become HTTP responses: `{"error": "...", "code": "..."}`.

`serving.errors` types carry their gRPC code and HTTP status; werkzeug's own
errors (404 unmatched route, 405, 413) and anything unexpected get the same
JSON shape, so a client never has to parse HTML.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from serving.errors import GatewayError, InvalidInput, code_for_http_status, safe_text
from serving.jsonio import dumps

try:  # the errors gunicorn's parser raises while the app reads a request body
    from gunicorn.http.errors import NoMoreData, ParseException
except ImportError:  # pragma: no cover - gunicorn is a run-time dependency
    ParseException = NoMoreData = ()  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)


def json_response(payload: object, status: int = 200,
                  headers: dict[str, str] | None = None, finite: bool | None = None
                  ) -> Response:
    return Response(dumps(payload, finite), status=status, headers=headers,
                    mimetype="application/json")


def error_payload(message: str, code: str, **extra: object) -> dict[str, object]:
    # safe_text: a message may quote what the client sent; it must stay encodable.
    return {"error": safe_text(message), "code": code, **extra}


def error_response(message: str, code: str, status: int,
                   headers: dict[str, str] | None = None, **extra: object) -> Response:
    return json_response(error_payload(message, code, **extra), status, headers)


def gateway_error(exc: GatewayError, method: str, path: str
                  ) -> tuple[int, dict[str, object], dict[str, str] | None]:
    """(status, payload, headers) of the answer to a gateway error on `method` `path`."""
    if exc.status >= 500 and not exc.shed:  # sheds are counted, not logged one by one
        log.warning("%s %s -> %s: %s", method, path, exc.code, exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return exc.status, error_payload(exc.message, exc.code), headers or None


def unexpected_error(exc: Exception, method: str, path: str
                     ) -> tuple[int, dict[str, object], dict[str, str] | None]:
    """(status, payload, headers) for an exception that is not a gateway error: a body
    gunicorn could not decode is the client's (400), anything else a bug (500)."""
    if isinstance(exc, BODY_ERRORS):
        return gateway_error(bad_body(exc, method, path), method, path)
    # Kept for genuine bugs only: bad input is rejected as InvalidInput long before.
    log.exception("unhandled error on %s %s", method, path)
    return 500, error_payload(f"Internal error while serving {method} {path}; see the "
                              "gateway log.", "INTERNAL"), None


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(GatewayError, _gateway_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _gateway_error(exc: GatewayError) -> Response:
    status, payload, headers = gateway_error(exc, request.method, request.path)
    return json_response(payload, status, headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "www-authenticate")}
    return error_response(_sentence(exc, status), code_for_http_status(status),
                          status, headers)


def _unexpected(exc: Exception) -> Response:
    status, payload, headers = unexpected_error(exc, request.method, request.path)
    return json_response(payload, status, headers)


BODY_ERRORS = (ParseException, NoMoreData)


def bad_body(exc: Exception, method: str, path: str) -> InvalidInput:
    """A body gunicorn could not decode (bad chunk size, missing chunk terminator, bad
    trailer, client gone mid-body): the client's fault, a 400. gunicorn closes the
    connection after it (the body's end is unknown), whatever headers say."""
    what = type(exc).__name__
    detail = safe_text(str(exc))[:120]
    log.info("%s %s: malformed request body (%s: %s)", method, path, what, detail)
    return InvalidInput(f"The request body is not valid HTTP/1.1 ({what}: {detail}).")


def _sentence(exc: HTTPException, status: int) -> str:
    method, path = request.method, request.path
    if status == 404:
        return f"No route matches {method} {path}; GET /openapi.json lists the API."
    if status == 405:
        allowed = ", ".join(sorted(exc.valid_methods or [])) if hasattr(exc, "valid_methods") \
            else ""
        return f"Method {method} is not allowed on {path}; allowed: {allowed or 'none'}."
    if status == 413:
        limit = request.max_content_length
        return f"The request body is larger than the limit of {limit} bytes (max_request_bytes)."
    return (exc.description or exc.name).split("\n")[0]
