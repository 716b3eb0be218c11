"""Open Inference Protocol v2 over gRPC: `inference.GRPCInferenceService`.

Uses tritonclient's generated stubs (Triton common/protobuf/grpc_service.proto and
model_config.proto, a superset of KServe's grpc_predict_v2.proto with ModelConfig,
which perf_analyzer needs). ModelInfer accepts `raw_input_contents` and typed
`contents`, and always answers `raw_output_contents` (tritonclient's `as_numpy`
reads only those). RPCs the gateway does not offer answer UNIMPLEMENTED naming the
RPC. Errors become status codes in `_abort` only, as Triton's src/grpc/grpc_utils.cc
maps its own: INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE, UNIMPLEMENTED.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc

from serving.auth import key_id
from serving.config import Settings
from serving.core.service import InferenceService
from serving.errors import InvalidInput, Unimplemented, quote
from serving.grpc.context import origin
from serving.grpc.status import error_handler
from serving.protocols.v2 import SERVER_NAME, codec, config, extensions, infer, server_version
from serving.protocols.v2 import repository as repo

SERVICE_NAME = service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
IMPLEMENTED = ("ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata",
               "ModelInfer", "ModelConfig", "RepositoryIndex", "RepositoryModelLoad",
               "RepositoryModelUnload")
# Triton has no FAILED_PRECONDITION: an unknown signature is a bad argument there
# (src/grpc/grpc_utils.cc).
_abort = error_handler({"FAILED_PRECONDITION": grpc.StatusCode.INVALID_ARGUMENT})


class InferenceServicer(service_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, settings: Settings, service: InferenceService) -> None:
        self._settings = settings
        self._service = service

    @_abort
    def ServerLive(self, request: Any, context: grpc.ServicerContext) -> Any:
        return service_pb2.ServerLiveResponse(live=True)

    @_abort
    def ServerReady(self, request: Any, context: grpc.ServicerContext) -> Any:
        return service_pb2.ServerReadyResponse(ready=not self._service.readiness())

    @_abort
    def ModelReady(self, request: Any, context: grpc.ServicerContext) -> Any:
        # Unknown model or version: not ready, as Triton's gRPC ModelReady answers
        # (triton-inference-server/server src/grpc/grpc_server.cc).
        return service_pb2.ModelReadyResponse(
            ready=infer.is_ready(self._service, request.name, request.version))

    @_abort
    def ServerMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        return service_pb2.ServerMetadataResponse(name=SERVER_NAME, version=server_version(),
                                                  extensions=extensions(self._settings))

    @_abort
    def ModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        mv = infer.resolve(self._service, request.name, request.version)
        doc = config.metadata(mv, self._service.available_versions(request.name),
                              self._service.signature(mv))
        tensor = service_pb2.ModelMetadataResponse.TensorMetadata
        return service_pb2.ModelMetadataResponse(
            name=doc["name"], versions=doc["versions"], platform=doc["platform"],
            inputs=[tensor(**t) for t in doc["inputs"]],
            outputs=[tensor(**t) for t in doc["outputs"]])

    @_abort
    def ModelConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        mv = infer.resolve(self._service, request.name, request.version)
        cfg = config.model_config(mv, self._service.signature(mv),
                                  self._settings.max_batch_size)
        return service_pb2.ModelConfigResponse(config=cfg)

    @_abort
    def ModelInfer(self, request: Any, context: grpc.ServicerContext) -> Any:
        answer = infer.infer(self._service, origin(context, self._settings, infer.PROTOCOL),
                             request.model_name, request.model_version,
                             lambda: _decode(request))
        response = service_pb2.ModelInferResponse(
            model_name=answer.model, model_version=str(answer.version), id=request.id)
        for out in answer.outputs:
            response.outputs.add(name=out.name, datatype=out.datatype,
                                 shape=list(out.array.shape))
            response.raw_output_contents.append(codec.to_raw(out.array, out.datatype))
        return response


    # -- the model repository extension (an admin key: serving/grpc/server.py) ------------
    @_abort
    def RepositoryIndex(self, request: Any, context: grpc.ServicerContext) -> Any:
        _no_repository_name(request)
        index = self._service.management.index(request.ready)
        model = service_pb2.RepositoryIndexResponse.ModelIndex
        return service_pb2.RepositoryIndexResponse(models=[
            model(name=e.name, version=e.version, state=e.state, reason=e.reason)
            for e in index])

    @_abort
    def RepositoryModelLoad(self, request: Any, context: grpc.ServicerContext) -> Any:
        _no_repository_name(request)
        cfg = None
        for key, param in request.parameters.items():
            if key == repo.CONFIG_PARAMETER and \
                    param.WhichOneof("parameter_choice") == "string_param":
                cfg = param.string_param
            elif key == repo.CONFIG_PARAMETER:
                raise InvalidInput("parameters['config'] must be a string_param holding the "
                                   "JSON of an inference.ModelConfig.")
            else:
                raise InvalidInput(f"parameters[{quote(key)}] is not supported by this "
                                   "gateway's load (only 'config'; no override files).")
        policy, labels = repo.load_options(request.model_name, cfg, "parameters['config']")
        self._service.management.load(origin(context, self._settings, infer.PROTOCOL),
                                      _who(context), request.model_name, policy, labels)
        return service_pb2.RepositoryModelLoadResponse()

    @_abort
    def RepositoryModelUnload(self, request: Any, context: grpc.ServicerContext) -> Any:
        _no_repository_name(request)
        param = request.parameters.get(repo.UNLOAD_DEPENDENTS)
        if param is not None and param.WhichOneof("parameter_choice") != "bool_param":
            raise InvalidInput("parameters['unload_dependents'] must be a bool_param.")
        # No model depends on another here (no ensembles): with or without dependents is one.
        self._service.management.unload(origin(context, self._settings, infer.PROTOCOL),
                                        _who(context), request.model_name)
        return service_pb2.RepositoryModelUnloadResponse()


def _no_repository_name(request: Any) -> None:
    if request.repository_name:
        # Triton's own answer (src/grpc/grpc_server.cc): UNSUPPORTED, as UNIMPLEMENTED
        raise Unimplemented("'repository_name' specification is not supported")


def _who(context: grpc.ServicerContext) -> str:
    return key_id(next((v for k, v in context.invocation_metadata() or ()
                        if k == "authorization"), None))


def _decode(request: Any) -> infer.Request:
    if not request.inputs:
        raise InvalidInput("inputs must hold at least one tensor.")
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(f"raw_input_contents has {len(raw)} entries but inputs has "
                           f"{len(request.inputs)}; give one per input, in order.")
    signature = ""
    if infer.SIGNATURE_PARAMETER in request.parameters:
        param = request.parameters[infer.SIGNATURE_PARAMETER]
        if param.WhichOneof("parameter_choice") != "string_param":
            raise InvalidInput(f"parameters.{infer.SIGNATURE_PARAMETER} must be a "
                               "string_param naming a signature.")
        signature = param.string_param
    decoded = []
    for i, item in enumerate(request.inputs):
        where = f"inputs[{i}]"
        if not item.name:
            raise InvalidInput(f"{where}.name must be a non-empty string.")
        dt = codec.dtype_for(item.datatype, f"{where}.datatype")
        shape = codec.check_shape(list(item.shape), f"{where}.shape")
        has_contents = item.HasField("contents")
        if raw:
            if has_contents:
                raise InvalidInput(f"{where}.contents is set while raw_input_contents is "
                                   "used; give every input one way.")
            array = codec.from_raw(raw[i], dt, shape,
                                   f"raw_input_contents[{i}] (input '{item.name[:80]}')")
        else:
            array = codec.from_contents(item.contents, dt, shape, f"{where}.contents")
        decoded.append(infer.Input(item.name, dt.oip or "", array, where))
    return infer.Request(decoded, [o.name for o in request.outputs], signature, request.id)


def _unimplemented(name: str) -> Callable[..., Any]:
    message = (f"{SERVICE_NAME}/{name} is not implemented by the multihead gateway; it "
               f"offers {', '.join(IMPLEMENTED)}.")

    def method(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

    method.__name__ = name
    return method


# The generated base class answers "Method not implemented!"; name the RPC instead.
for _name in [n for n in dir(service_pb2_grpc.GRPCInferenceServiceServicer)
              if n[:1].isupper() and n not in IMPLEMENTED]:
    setattr(InferenceServicer, _name, _unimplemented(_name))


def add_grpc_services(server: grpc.Server, settings: Settings,
                      service: InferenceService) -> list[str]:
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceServicer(settings, service), server)
    return [SERVICE_NAME]
