"""What a protocol's REST views take from the transport: the service of this app, its
settings, the request's `Origin`, and the request body (read once, with the size limit
enforced, for every protocol).

The request's deadline counts from when the gateway's worker had it whole (`RECEIVED_AT`
in the WSGI environ, serving/gunicorn_worker.py; now, under any other server) and is
shortened by the caller's own timeout in `X-Envoy-Expected-Rq-Timeout-Ms` (milliseconds):
Envoy, and so Istio, sets it on every request it forwards, "so that the upstream host
receiving the request can make decisions based on the request timeout, e.g., early exit"
(Envoy's router filter documentation); any client may send it too.

`Exchange` is the same for one request in plain WSGI terms, for views that the fast path
(serving/rest/fast.py) answers without Flask; the accessors below are its Flask
spelling, and both read the body through `read_body`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request

from serving import request_context
from serving.config import Settings
from serving.core.calls import Origin
from serving.core.deadline import Deadline
from serving.core.service import InferenceService
from serving.errors import InvalidInput, PayloadTooLarge
from serving.jsonio import kind_of, loads
from serving.rest.errors import BODY_ERRORS, bad_body

EXTENSION_KEY = "multihead"
# What the gateway's gunicorn worker puts in the WSGI environ of each request: when it had
# the request whole (time.monotonic()), and a check that its client has gone.
RECEIVED_AT = "multihead.received_at"
CLIENT_GONE = "multihead.client_gone"
TIMEOUT_HEADER = "X-Envoy-Expected-Rq-Timeout-Ms"
_TIMEOUT_KEY = "HTTP_" + TIMEOUT_HEADER.upper().replace("-", "_")
log = logging.getLogger(__name__)


def service() -> InferenceService:
    return current_app.extensions[EXTENSION_KEY]


def settings() -> Settings:
    return current_app.config["MULTIHEAD_SETTINGS"]


def origin(protocol: str) -> Origin:
    return origin_of(request.environ, settings(), protocol)


def origin_of(environ: dict[str, Any], settings: Settings, protocol: str) -> Origin:
    """The request's protocol and transport labels, its deadline (request_timeout_s or
    the caller's timeout, from when the request was received), its record (opened by
    serving/rest/access.py) and its departure check."""
    record = request_context.current() or request_context.RequestRecord(transport="rest")
    record.protocol = protocol
    return Origin(protocol, "rest",
                  Deadline.start(settings.request_timeout_s, client_timeout_s(environ),
                                 environ.get(RECEIVED_AT)),
                  record, environ.get(CLIENT_GONE))


def client_timeout_s(environ: dict[str, Any]) -> float | None:
    """The caller's timeout in seconds from TIMEOUT_HEADER; None when absent. A value that
    is no whole number of milliseconds is ignored (logged): a hint, not the request."""
    raw = environ.get(_TIMEOUT_KEY)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        log.info("ignoring %s: %r is not a whole number of milliseconds", TIMEOUT_HEADER,
                 raw[:40])
        return None
    return int(raw) / 1000.0


def body() -> bytes:
    """The request body, read once through the transport's bounds (`read_body`)."""
    return read_body(request.environ, request.max_content_length, request.method,
                     request.path)


def read_body(environ: dict[str, Any], limit: int | None, method: str = "POST",
              path: str = "") -> bytes:
    """The body of the request `environ` describes: over `limit` (MAX_REQUEST_BYTES) is
    PayloadTooLarge (413), a body gunicorn cannot decode is InvalidInput (400), so a
    protocol room (and the core's counting) only ever sees gateway errors."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    too_large = PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes "
                                "(max_request_bytes).")
    try:
        if length:
            try:
                size = int(length)
            except ValueError:
                raise InvalidInput("The Content-Length header is not a number.") from None
            if limit is not None and size > limit:
                raise too_large
            return stream.read(size) if size > 0 else b""
        if limit is None:
            return stream.read()
        # Chunked (no Content-Length): read up to the limit; one more byte tells a body
        # that goes on beyond it.
        data = stream.read(limit)
        if len(data) >= limit and stream.read(1):
            raise too_large
        return data
    except BODY_ERRORS as exc:
        raise bad_body(exc, method, path) from None


def json_object() -> dict[str, Any]:
    value = loads(body())
    if not isinstance(value, dict):
        raise InvalidInput(f"The request body must be a JSON object, got {kind_of(value)}.")
    return value


def path_of(environ: dict[str, Any]) -> str:
    """The path as the client sent it, so that %2F inside a name is not a separator."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    return urlsplit(raw).path if raw else environ.get("PATH_INFO", "")


def raw_path() -> str:
    return path_of(request.environ) or request.path


@dataclass(frozen=True)
class Exchange:
    """One request as a view needs it, in WSGI terms (the fast path's `context`)."""

    service: InferenceService
    settings: Settings
    environ: dict[str, Any]

    def origin(self, protocol: str) -> Origin:
        return origin_of(self.environ, self.settings, protocol)

    def body(self) -> bytes:
        return read_body(self.environ, self.settings.max_request_bytes,
                         self.environ.get("REQUEST_METHOD", ""),
                         self.environ.get("PATH_INFO", ""))
