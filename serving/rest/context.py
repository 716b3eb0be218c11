"""What a protocol's REST views take from the transport: the service of this app, its
settings, and the request body (read once, with the size limit enforced)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request

from serving.config import Settings
from serving.core.service import InferenceService
from serving.errors import InvalidInput, PayloadTooLarge
from serving.jsonio import kind_of, loads

EXTENSION_KEY = "multihead"


def service() -> InferenceService:
    return current_app.extensions[EXTENSION_KEY]


def settings() -> Settings:
    return current_app.config["MULTIHEAD_SETTINGS"]


def body() -> bytes:
    # Flask's MAX_CONTENT_LENGTH turns an oversized body into werkzeug's 413 here.
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        # A chunked body: werkzeug stops reading at the limit without a word, so a larger
        # body would arrive cut. One more byte from the server's stream tells.
        if request.environ["wsgi.input"].read(1):
            raise PayloadTooLarge(f"The request body is larger than the limit of {limit} "
                                  "bytes (max_request_bytes).")
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
