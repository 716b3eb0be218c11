"""GET /openapi.json: the OpenAPI 3 description of the REST API, collected, not written here.

The transport's own part (probes, metrics, this document, the error shape every room
refers to) is serving/rest/openapi.yaml; each mounted protocol room adds its
`openapi.yaml` (serving/protocols/__init__.py). Only what depends on the running gateway
is filled in here: the body limit, `maxItems` of the lists a request batches
(`x-max-batch-size: true` in a room's schema), the served model names as examples, and
the bearer security when API keys are set (open paths excepted) and on the rooms'
management routes (an admin key).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from serving.config import Settings
from serving.protocols import Room

TRANSPORT_OPENAPI = Path(__file__).with_name("openapi.yaml")
BATCH_MARKER = "x-max-batch-size"


@cache
def _transport_part() -> dict[str, Any]:
    return yaml.safe_load(TRANSPORT_OPENAPI.read_text())


def build_openapi(settings: Settings, rooms: Iterable[Room], open_paths: Iterable[str] = (),
                  model_names: list[str] | None = None) -> dict[str, Any]:
    """The document for the mounted `rooms`; `model_names` (served now) become examples,
    `open_paths` stay open when `settings.api_keys` asks for a bearer key elsewhere."""
    rooms = list(rooms)
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    for part in [_transport_part(), *(room.openapi for room in rooms)]:
        paths.update(copy.deepcopy(part.get("paths", {})))
        for kind, items in part.get("components", {}).items():
            components.setdefault(kind, {}).update(copy.deepcopy(items))
    _set_batch_limits(components, settings.max_batch_size)
    if model_names:
        model_name = components["parameters"]["ModelName"]
        model_name["schema"]["example"] = model_names[0]
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "multihead gateway", "version": "1",
                 "description": "TF Serving-compatible REST API for multi-head models, with "
                                "extensions. Every error is {\"error\": sentence, \"code\": "
                                f"gRPC code name}}. Bodies over {settings.max_request_bytes} "
                                "bytes get 413."},
        "paths": paths,
        "components": components,
    }
    admin_prefixes = tuple(p for room in rooms for p in room.rest_admin_prefixes)
    if settings.api_keys or admin_prefixes:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    if settings.api_keys:
        doc["security"] = [{"bearer": []}]
        for path in set(open_paths) & set(paths):
            for operation in paths[path].values():
                operation["security"] = []
    # Management routes need an admin key whatever else does (serving/rest/auth.py).
    for path in [p for p in paths if admin_prefixes and p.startswith(admin_prefixes)]:
        for operation in paths[path].values():
            operation["security"] = [{"bearer": []}]
    return doc


def _set_batch_limits(node: Any, max_batch_size: int) -> None:
    if isinstance(node, dict):
        if node.pop(BATCH_MARKER, False):
            node["maxItems"] = max_batch_size
        for value in node.values():
            _set_batch_limits(value, max_batch_size)
    elif isinstance(node, list):
        for value in node:
            _set_batch_limits(value, max_batch_size)
