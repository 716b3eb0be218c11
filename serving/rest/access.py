"""Request ids, trace headers and the access log line of every REST request.

Before a view runs, the request gets its record (serving/request_context.py): the
client's `X-Request-ID` or a new id, and its W3C `traceparent` / `tracestate`. Every
answer carries `X-Request-ID` back; the access line is written when the answer is built,
and a traced request's span ends there (its encode span covers the room's rendering).
Flask's routes get this from the hooks `install_request_records` adds; the fast path
(serving/rest/fast.py) calls `open_record` and `close_record` itself.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request

from serving import logs, request_context
from serving.errors import code_for_http_status
from serving.request_context import HEADER, RequestRecord

_ENVIRON_KEYS = ("HTTP_" + HEADER.upper().replace("-", "_"), "HTTP_TRACEPARENT",
                 "HTTP_TRACESTATE")
_TOKEN = "multihead.record_token"


def open_record(environ: dict[str, Any]) -> RequestRecord:
    """The record of the request `environ` describes, entered as the current one until
    `leave(environ)`."""
    client_id, traceparent, tracestate = (environ.get(k, "") for k in _ENVIRON_KEYS)
    record = RequestRecord.open(client_id or None, traceparent, tracestate, "rest")
    environ[_TOKEN] = request_context.enter(record)
    return record


def close_record(record: RequestRecord, access_log: bool, method: str, path: str,
                 status: int) -> None:
    """Ends the record's trace and writes its access line (the answer is built)."""
    record.finish_trace()
    if access_log:
        logs.access(record, f"{method} {path}", status, record.code or _code(status))


def leave(environ: dict[str, Any]) -> None:
    token = environ.pop(_TOKEN, None)
    if token is not None:
        request_context.leave(token)


def install_request_records(app: Flask, access_log: bool) -> None:
    def open_hook() -> None:
        g.multihead_record = open_record(request.environ)

    def close_hook(response: Response) -> Response:
        record: RequestRecord | None = g.get("multihead_record")
        if record is None:  # a hook before ours answered
            return response
        response.headers[HEADER] = record.id
        close_record(record, access_log, request.method, request.path,
                     response.status_code)
        return response

    def leave_hook(_exc: BaseException | None) -> None:
        leave(request.environ)

    # First of the before_request hooks: auth's 401 carries the id too.
    app.before_request_funcs.setdefault(None, []).insert(0, open_hook)
    app.after_request(close_hook)
    app.teardown_request(leave_hook)


def _code(status: int) -> str:
    return "OK" if status < 400 else code_for_http_status(status)
