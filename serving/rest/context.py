"""What a protocol's REST views take from the transport: the service of this app, its
settings, the request's `Origin`, and the request body (read once, with the size limit
enforced, for every protocol)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from serving import request_context
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
    """This request's protocol and transport labels, its deadline (request_timeout_s
    from now) and its record (opened by serving/rest/access.py)."""
    record = request_context.current() or request_context.RequestRecord(transport="rest")
    record.protocol = protocol
    return Origin(protocol, "rest", Deadline.start(settings().request_timeout_s), record)


def body() -> bytes:
    """The request body, read once through the transport's bounds: over MAX_REQUEST_BYTES
    is PayloadTooLarge (413), a body gunicorn cannot decode is InvalidInput (400), so a
    protocol room (and the core's counting) only ever sees gateway errors."""
    limit = request.max_content_length
    too_large = PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes "
                                "(max_request_bytes).")
    try:
        data = request.get_data(cache=False)
        # A chunked body: werkzeug stops reading at the limit without a word, so a larger
        # body would arrive cut. One more byte from the server's stream tells.
        if request.content_length is None and limit is not None and len(data) >= limit \
                and request.environ["wsgi.input"].read(1):
            raise too_large
    except RequestEntityTooLarge:  # Flask's MAX_CONTENT_LENGTH against Content-Length
        raise too_large from None
    except BODY_ERRORS as exc:
        raise bad_body(exc) from None
    return data


def json_object() -> dict[str, Any]:
    value = loads(body())
    if not isinstance(value, dict):
        raise InvalidInput(f"The request body must be a JSON object, got {kind_of(value)}.")
    return value


def raw_path() -> str:
    """The path as the client sent it, so that %2F inside a name is not a separator."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return urlsplit(raw).path if raw else request.path
