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


def error_response(message: str, code: str, status: int,
                   headers: dict[str, str] | None = None, **extra: object) -> Response:
    # safe_text: a message may quote what the client sent; it must stay encodable.
    return json_response({"error": safe_text(message), "code": code, **extra}, status,
                         headers)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(GatewayError, _gateway_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _gateway_error(exc: GatewayError) -> Response:
    if exc.status >= 500 and not exc.shed:  # sheds are counted, not logged one by one
        log.warning("%s %s -> %s: %s", request.method, request.path, exc.code, exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return error_response(exc.message, exc.code, exc.status, headers or None)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "www-authenticate")}
    return error_response(_sentence(exc, status), code_for_http_status(status),
                          status, headers)


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, BODY_ERRORS):
        return _gateway_error(bad_body(exc))
    # Kept for genuine bugs only: bad input is rejected as InvalidInput long before.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(f"Internal error while serving {request.method} {request.path}; "
                          "see the gateway log.", "INTERNAL", 500)


BODY_ERRORS = (ParseException, NoMoreData)


def bad_body(exc: Exception) -> InvalidInput:
    """A body gunicorn could not decode (bad chunk size, missing chunk terminator, bad
    trailer, client gone mid-body): the client's fault, a 400. gunicorn closes the
    connection after it (the body's end is unknown), whatever headers say."""
    what = type(exc).__name__
    detail = safe_text(str(exc))[:120]
    log.info("%s %s: malformed request body (%s: %s)", request.method, request.path, what,
             detail)
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
