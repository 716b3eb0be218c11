"""What a protocol's REST views take from the transport: the service of this app, its
settings, the request's `Origin`, and the request body (read once, with the size limit
enforced, for every protocol).

`Exchange` is the same for one request in plain WSGI terms, for views that the fast path
(serving/rest/fast.py) answers without Flask; the accessors below are its Flask
spelling, and both read the body through `read_body`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request

from serving.config import Settings
from serving.core.calls import Origin
from serving.core.deadline import Deadline
from serving.core.service import InferenceService
from serving.errors import InvalidInput, PayloadTooLarge
from serving.jsonio import kind_of, loads
from serving.rest.errors import BODY_ERRORS, bad_body

EXTENSION_KEY = "multihead"


def service() -> InferenceService:
    return current_app.extensions[EXTENSION_KEY]


def settings() -> Settings:
    return current_app.config["MULTIHEAD_SETTINGS"]


def origin(protocol: str) -> Origin:
    """This request's protocol and transport labels and its deadline (request_timeout_s
    from now)."""
    return Origin(protocol, "rest", Deadline.start(settings().request_timeout_s))


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
        return Origin(protocol, "rest", Deadline.start(self.settings.request_timeout_s))

    def body(self) -> bytes:
        return read_body(self.environ, self.settings.max_request_bytes,
                         self.environ.get("REQUEST_METHOD", ""),
                         self.environ.get("PATH_INFO", ""))
