"""One room per wire protocol; `MULTIHEAD_PROTOCOLS` chooses which are mounted.

| name | REST | gRPC |
| --- | --- | --- |
| `tfserving` | TF Serving REST (`/v1/models/...`) | `PredictionService`, `ModelService` |
| `v2` | Open Inference Protocol v2 (`/v2/...`) | `inference.GRPCInferenceService` |
| `multihead` | the typed task API (`/v1/similarity`, ...) | `multihead.v1.Gateway` |

Each protocol is a package `serving/protocols/<name>/` that talks only to
`serving/core/` and the shared vocabulary (`serving/types.py`, `dtypes.py`,
`errors.py`), never to a backend or another protocol. It may offer:

- `rest_blueprint(settings) -> flask.Blueprint`: its REST routes, mounted by
  `serving/rest/create_app`;
- `add_grpc_services(server, settings, service) -> list[str]`: registers its
  servicers on the one gRPC server (`serving/grpc/server.py`) and returns their
  full service names (for health and reflection).

Adding a protocol is a new folder here plus its name in `PROTOCOLS`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Mount order: multihead first, so its /v1/models/NAME/diagram routes are registered
# before TF Serving's catch-all model path.
PROTOCOLS: tuple[str, ...] = ("multihead", "tfserving", "v2")


def chosen(names: tuple[str, ...]) -> tuple[str, ...]:
    """The protocols to mount: `names` checked against the known ones; empty means all."""
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise ValueError(f"MULTIHEAD_PROTOCOLS names unknown protocol '{unknown[0]}'; "
                         f"known: {', '.join(PROTOCOLS)}.")
    return tuple(n for n in PROTOCOLS if n in names) if names else PROTOCOLS


def packages(names: tuple[str, ...]) -> list[ModuleType]:
    """The protocol packages to mount, in `PROTOCOLS` order (rooms not built yet skipped)."""
    found = []
    for name in chosen(names):
        try:
            found.append(importlib.import_module(f"serving.protocols.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"serving.protocols.{name}":
                raise
    return found
