"""Open Inference Protocol v2 (KServe v2 / Triton): REST under `/v2` and gRPC
`inference.GRPCInferenceService`, over the core.

| module | job |
| --- | --- |
| `codec.py` | OIP JSON, raw/binary bytes and gRPC typed contents <-> numpy |
| `config.py` | model metadata and Triton's model configuration from a signature |
| `infer.py` | what a call means, for both transports: checks naming the OIP field, then the core |
| `rest.py` | the Flask blueprint (binary tensor data extension included) |
| `grpc.py` | the gRPC servicer (tritonclient's generated stubs) |
| `repository.py` | Triton's model repository extension: load parameters, the index as JSON |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving.config import Settings

# The health-like routes and RPCs stay open when API keys are set (KServe and Triton leave
# their health endpoints open): probes need no secret.
REST_OPEN_PATHS = ("/v2/health/live", "/v2/health/ready")
GRPC_AUTH_SERVICES = ("inference.GRPCInferenceService",)
GRPC_OPEN_METHODS = tuple(f"/inference.GRPCInferenceService/{m}"
                          for m in ("ServerLive", "ServerReady", "ModelReady"))
# Triton's model repository extension needs an admin key (closed without one).
REST_ADMIN_PREFIXES = ("/v2/repository/",)
GRPC_ADMIN_METHODS = tuple(f"/inference.GRPCInferenceService/{m}" for m in (
    "RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload"))
# The request id of a call without `x-request-id` metadata (serving/grpc/access.py): OIP's
# own `id`, which the REST room adopts the same way (serving/protocols/v2/infer.py).
GRPC_REQUEST_IDS = {"/inference.GRPCInferenceService/ModelInfer": lambda request: request.id}
# What GET /v2 and ServerMetadata answer, on both transports. Only extensions that work end
# to end: no "statistics" (perf_analyzer would then require /stats), no "classification".
SERVER_NAME = "multihead"
EXTENSIONS = ("binary_tensor_data", "model_configuration")
MODEL_REPOSITORY = "model_repository"


def extensions(settings: Settings) -> list[str]:
    """EXTENSIONS, and `model_repository` when load and unload work: an admin key is set
    and the gateway runs in model control mode explicit."""
    usable = bool(settings.admin_keys) and settings.model_control_mode == "explicit"
    return [*EXTENSIONS, *([MODEL_REPOSITORY] if usable else [])]


def server_version() -> str:
    try:
        from importlib.metadata import version

        return version("multihead")
    except Exception:  # noqa: BLE001 - a source checkout without installed metadata
        return "0.1.0"


def rest_blueprint(settings: Settings) -> Any:
    from serving.protocols.v2.rest import rest_blueprint as build

    return build(settings)


def add_grpc_services(server: Any, settings: Settings, service: Any) -> list[str]:
    from serving.protocols.v2.grpc import add_grpc_services as add

    return add(server, settings, service)
