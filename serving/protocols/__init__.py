"""One room per wire protocol; `MULTIHEAD_PROTOCOLS` chooses which are mounted.

| name | REST | gRPC |
| --- | --- | --- |
| `tfserving` | TF Serving REST (`/v1/models/...`) | `PredictionService`, `ModelService` |
| `v2` | Open Inference Protocol v2 (`/v2/...`) | `inference.GRPCInferenceService` |
| `multihead` | the typed task API (`/v1/similarity`, ...) | `multihead.v1.Gateway` |

Each protocol is a package that talks only to `serving/core/` and the shared vocabulary
(`serving/types.py`, `dtypes.py`, `errors.py`), never to a backend or another protocol,
and describes itself; the transports (serving/rest/, serving/grpc/) only collect what
the mounted rooms declare. A room's `__init__` may define:

- `rest_blueprint(settings) -> flask.Blueprint`: its REST routes;
- `rest_fast_routes(settings) -> list[FastRoute]`: hot routes of those answered in front
  of Flask (serving/rest/fast.py), with the same views;
- `REST_OPEN_PATHS`: REST paths open without an API key (its health routes);
- `REST_ADMIN_PREFIXES`: path prefixes of its model management routes, which need an
  admin key (closed without one; serving/auth.py);
- a file `openapi.yaml` beside `__init__`: its part of /openapi.json (`paths`,
  `components`);
- `add_grpc_services(server, settings, service) -> list[str]`: registers its servicers
  and returns their full names (for health and reflection);
- `GRPC_AUTH_SERVICES`, `GRPC_OPEN_METHODS`: gRPC services that need an API key, and
  methods of those that stay open; `GRPC_ADMIN_METHODS`: its model management methods
  (full names), which need an admin key;
- `GRPC_REQUEST_IDS`: full method name -> the request message's own request id (OIP's
  `id`), the call's id when the client sent no `x-request-id` (serving/grpc/access.py);
- `GRPC_PROTOS`: .proto files under proto/ whose stubs scripts/gen_proto.py generates
  into the room's `_gen/`.

A room's `__init__` imports nothing heavy at module level (scripts/gen_proto.py reads
`GRPC_PROTOS` without importing it). Adding a protocol is a new folder here plus its name
in `PROTOCOLS` (tests/unit/serving/test_fourth_protocol.py mounts one from a fixture).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

# name -> package, in mount order: multihead first, so its /v1/models/NAME/diagram routes
# are registered before TF Serving's catch-all model path.
PROTOCOLS: dict[str, str] = {
    "multihead": "serving.protocols.multihead",
    "tfserving": "serving.protocols.tfserving",
    "v2": "serving.protocols.v2",
}
OPENAPI_FILE = "openapi.yaml"


def chosen(names: tuple[str, ...]) -> tuple[str, ...]:
    """The protocols to mount: `names` checked against the known ones; empty means all."""
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise ValueError(f"MULTIHEAD_PROTOCOLS names unknown protocol '{unknown[0]}'; "
                         f"known: {', '.join(PROTOCOLS)}.")
    return tuple(n for n in PROTOCOLS if n in names) if names else tuple(PROTOCOLS)


@dataclass(frozen=True)
class Room:
    """A mounted protocol as the transports see it, with defaults for what it leaves out."""

    name: str
    package: ModuleType

    def _get(self, attribute: str, default: Any) -> Any:
        return getattr(self.package, attribute, default)

    @property
    def rest_open_paths(self) -> frozenset[str]:
        return frozenset(self._get("REST_OPEN_PATHS", ()))

    @property
    def rest_admin_prefixes(self) -> tuple[str, ...]:
        return tuple(self._get("REST_ADMIN_PREFIXES", ()))

    @property
    def grpc_admin_methods(self) -> tuple[str, ...]:
        return tuple(self._get("GRPC_ADMIN_METHODS", ()))

    @property
    def grpc_auth_services(self) -> tuple[str, ...]:
        return tuple(self._get("GRPC_AUTH_SERVICES", ()))

    @property
    def grpc_open_methods(self) -> tuple[str, ...]:
        return tuple(self._get("GRPC_OPEN_METHODS", ()))

    @property
    def grpc_request_ids(self) -> dict[str, Any]:
        return dict(self._get("GRPC_REQUEST_IDS", {}))

    def rest_blueprint(self, settings: Any) -> Any | None:
        build = self._get("rest_blueprint", None)
        return build(settings) if build is not None else None

    def rest_fast_routes(self, settings: Any) -> list[Any]:
        build = self._get("rest_fast_routes", None)
        return list(build(settings)) if build is not None else []

    def add_grpc_services(self, server: Any, settings: Any, service: Any) -> list[str]:
        add = self._get("add_grpc_services", None)
        return list(add(server, settings, service)) if add is not None else []

    @cached_property
    def openapi(self) -> dict[str, Any]:
        """Its part of the OpenAPI document (`paths`, `components`); empty without one."""
        path = Path(self.package.__file__).with_name(OPENAPI_FILE)
        if not path.exists():
            return {}
        import yaml

        return yaml.safe_load(path.read_text())


_ROOMS: dict[str, Room] = {}


def rooms(names: tuple[str, ...]) -> list[Room]:
    """The rooms to mount (`chosen(names)`), in mount order; each imported once."""
    out = []
    for name in chosen(names):
        module = PROTOCOLS[name]
        room = _ROOMS.get(module)
        if room is None:
            room = _ROOMS[module] = Room(name, importlib.import_module(module))
        out.append(room)
    return out
