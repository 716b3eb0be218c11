"""Request ids, trace headers and the access log line of every REST request.

Before a view runs, the request gets its record (serving/request_context.py): the
client's `X-Request-ID` or a new id, and its W3C `traceparent` / `tracestate`. Every
answer carries `X-Request-ID` back; the access line is written when the answer is built,
and a traced request's span ends there (its encode span covers the room's rendering).
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from serving import logs, request_context
from serving.errors import code_for_http_status
from serving.request_context import HEADER, RequestRecord


def install_request_records(app: Flask, access_log: bool) -> None:
    def open_record() -> None:
        headers = request.headers
        record = RequestRecord.open(headers.get(HEADER), headers.get("traceparent", ""),
                                    headers.get("tracestate", ""), "rest")
        g.multihead_record = record
        g.multihead_token = request_context.enter(record)

    def close_record(response: Response) -> Response:
        record: RequestRecord | None = g.get("multihead_record")
        if record is None:  # a hook before ours answered
            return response
        response.headers[HEADER] = record.id
        record.finish_trace()
        if access_log:
            logs.access(record, f"{request.method} {request.path}", response.status_code,
                        record.code or _code(response.status_code))
        return response

    def leave(_exc: BaseException | None) -> None:
        token = g.pop("multihead_token", None)
        if token is not None:
            request_context.leave(token)

    # First of the before_request hooks: auth's 401 carries the id too.
    app.before_request_funcs.setdefault(None, []).insert(0, open_record)
    app.after_request(close_record)
    app.teardown_request(leave)


def _code(status: int) -> str:
    return "OK" if status < 400 else code_for_http_status(status)
