"""`tensorflow.serving.PredictionService` and `ModelService` over the gateway's core.

A program written for TF Serving with `tensorflow-serving-api` works unchanged: the
methods parse TF Serving's messages, call `InferenceService` (resolution, validation,
batching, metrics with protocol="tfserving") and answer TF Serving's messages, with TF
Serving's status codes (tensorflow_serving/model_servers/prediction_service_impl.cc and
the files cited below):

| case | code |
| --- | --- |
| no model_spec | INVALID_ARGUMENT "Missing ModelSpec" |
| unknown model or version | NOT_FOUND (core/basic_manager.cc) |
| unknown version label | INVALID_ARGUMENT (model_servers/server_core.cc) |
| unknown signature | FAILED_PRECONDITION (servables/tensorflow/predict_util.cc) |
| bad input / output_filter | INVALID_ARGUMENT, naming the input alias |
| Classify, Regress, MultiInference | UNIMPLEMENTED |
| HandleReloadConfigRequest | serving/core/management.py: TF Serving's checks and codes |

Stricter than TF Serving where that helps the client: an input's dtype must equal the
signature's (TF Serving's runtime reports "Expects arg[0] to be ...", a position, not
the alias) and shapes are checked against the signature before the graph runs (the
core's validation). Outputs are written in the typed `*_val` fields, as TF Serving does
by default (kAsProtoField; `tf.make_ndarray` reads either encoding). Error messages are
cut at 1024 characters (serving/grpc/status.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
import numpy as np
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import dtypes
from serving.auth import key_id
from serving.config import Settings
from serving.core.calls import FilterWording, ModelRef, OutputFilter, PredictCall
from serving.core.service import InferenceService
from serving.core.validation import SignaturePlan
from serving.errors import InvalidInput, NotFound, Unimplemented
from serving.grpc.context import origin
from serving.grpc.status import handle_errors
from serving.tensor_proto import array_to_proto, proto_to_array
from serving.types import SignatureSpec, TensorSpec

PROTOCOL = "tfserving"
SIGNATURE_DEF = "signature_def"  # the one metadata field (get_model_metadata_impl.cc)
_STATE = get_model_status_pb2.ModelVersionStatus.State
_ERROR_CODE = (get_model_status_pb2.ModelVersionStatus.DESCRIPTOR.fields_by_name["status"]
               .message_type.fields_by_name["error_code"].enum_type)


_SPEC_FIELDS = ("model_spec.name", "model_spec.version", "model_spec.version_label")


def _model_spec(request: Any) -> tuple[ModelRef, str]:
    """The request's ModelSpec and signature name; TF Serving's "Missing ModelSpec" when
    it is absent."""
    if not request.HasField("model_spec"):
        raise InvalidInput("Missing ModelSpec")
    spec = request.model_spec
    choice = spec.WhichOneof("version_choice")
    ref = ModelRef.check(spec.name, spec.version.value if choice == "version" else None,
                         spec.version_label if choice == "version_label" else None,
                         _SPEC_FIELDS)
    return ref, spec.signature_name


class _AliasWording(FilterWording):
    """TF Serving's own sentences for a bad output_filter (servables/tensorflow/
    predict_util.cc, PreProcessPrediction), which its clients may match."""

    def unknown(self, index: int, name: str, plan: SignaturePlan) -> str:
        expected = ",".join(sorted(plan.spec.outputs))
        return (f"output tensor alias not found in signature: {name} Outputs expected to be "
                f"in the set {{{expected}}}.")

    def duplicate(self, index: int, name: str) -> str:
        return f"duplicate output tensor alias: {name}"


def _output_filter(request: predict_pb2.PredictRequest) -> OutputFilter:
    """TF Serving answers exactly the aliases asked for, and rejects a repeated one."""
    return OutputFilter(tuple(request.output_filter), with_labels=False,
                        allow_duplicates=False, wording=_AliasWording())


def _decode_inputs(plan: SignaturePlan, inputs: Mapping[str, tensor_pb2.TensorProto]
                   ) -> dict[str, np.ndarray]:
    """TensorProtos -> arrays. A known alias must carry the signature's dtype exactly; names,
    shapes and batch sizes are the core's validation (its messages name the alias too)."""
    arrays = {}
    for alias, proto in inputs.items():
        field = f"inputs['{alias}']"
        want = plan.spec.inputs.get(alias)
        if want is not None and dtypes.tf_name_for_enum(proto.dtype) != want.dtype:
            raise InvalidInput(f"{field} has dtype {dtypes.tf_name_for_enum(proto.dtype)}; "
                               f"signature '{plan.signature}' of model '{plan.model}' expects "
                               f"{want.dtype}.")
        arrays[alias] = proto_to_array(proto, field)
    return arrays


def _tensor_info(spec: TensorSpec, out: meta_graph_pb2.TensorInfo) -> None:
    """A typed TensorSpec as SignatureDef's TensorInfo (dims -1 where unknown)."""
    out.name = spec.tensor_name
    known = dtypes.BY_TF.get(spec.dtype)
    out.dtype = known.tf_enum if known is not None else _tf_enum(spec.dtype)
    if spec.shape is None:
        out.tensor_shape.unknown_rank = True
        return
    for dim in spec.shape:
        out.tensor_shape.dim.add(size=-1 if dim is None else int(dim))


def _tf_enum(name: str) -> int:
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Value(name) if name in types_pb2.DataType.keys() else 0


def signature_def_map(signatures: Mapping[str, SignatureSpec]
                      ) -> get_model_metadata_pb2.SignatureDefMap:
    """Every signature of a version as TF Serving's SignatureDefMap."""
    out = get_model_metadata_pb2.SignatureDefMap()
    for name, sig in sorted(signatures.items()):
        sig_def = out.signature_def[name]
        sig_def.method_name = sig.method_name
        for alias, spec in sorted(sig.inputs.items()):
            _tensor_info(spec, sig_def.inputs[alias])
        for alias, spec in sorted(sig.outputs.items()):
            _tensor_info(spec, sig_def.outputs[alias])
    return out


def _unimplemented(method: str, instead: str) -> Unimplemented:
    return Unimplemented(f"{method} is not implemented by this gateway; {instead}")


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, settings: Settings, service: InferenceService) -> None:
        self._settings = settings
        self._service = service

    @handle_errors
    def Predict(self, request: predict_pb2.PredictRequest,
                context: grpc.ServicerContext) -> predict_pb2.PredictResponse:
        def call() -> PredictCall:  # parsed inside the core's counting
            ref, signature = _model_spec(request)
            return PredictCall(ref, lambda plan: _decode_inputs(plan, request.inputs),
                               signature=signature, outputs=_output_filter(request))

        result = self._service.predict(origin(context, self._settings, PROTOCOL), call)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = result.model
        response.model_spec.version.value = result.version
        response.model_spec.signature_name = result.signature
        for alias, array in result.outputs.items():
            array_to_proto(array, typed_fields=True, out=response.outputs[alias])
        return response

    @handle_errors
    def GetModelMetadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest,
                         context: grpc.ServicerContext
                         ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        # Checks and messages of model_servers/get_model_metadata_impl.cc.
        ref, _ = _model_spec(request)
        if not request.metadata_field:
            raise InvalidInput("GetModelMetadataRequest must specify at least one "
                               "metadata_field")
        for field in request.metadata_field:
            if field != SIGNATURE_DEF:
                raise InvalidInput(f"Metadata field {field} is not supported")
        mv = self._service.resolve(ref.name, ref.version, ref.label)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        # TF Serving echoes the name and the served version; signature_name stays empty.
        response.model_spec.name = mv.name
        response.model_spec.version.value = mv.version
        response.metadata[SIGNATURE_DEF].Pack(signature_def_map(mv.signatures))
        return response

    @handle_errors
    def Classify(self, request: Any, context: grpc.ServicerContext) -> Any:
        raise _unimplemented("PredictionService.Classify",
                             "the models export predict signatures only: call "
                             "PredictionService.Predict (classification heads answer scores "
                             "and an H_label output).")

    @handle_errors
    def Regress(self, request: Any, context: grpc.ServicerContext) -> Any:
        raise _unimplemented("PredictionService.Regress",
                             "the models export predict signatures only: call "
                             "PredictionService.Predict.")

    @handle_errors
    def MultiInference(self, request: Any, context: grpc.ServicerContext) -> Any:
        raise _unimplemented("PredictionService.MultiInference",
                             "call PredictionService.Predict, which answers every head "
                             "of a model in one call (output_filter chooses heads).")


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, settings: Settings, service: InferenceService) -> None:
        self._settings = settings
        self._service = service

    @handle_errors
    def GetModelStatus(self, request: get_model_status_pb2.GetModelStatusRequest,
                       context: grpc.ServicerContext
                       ) -> get_model_status_pb2.GetModelStatusResponse:
        # As model_servers/get_model_status_impl.cc: a version answers only that version, a
        # version_label is ignored (every version), and the NOT_FOUND messages are its own.
        if not request.HasField("model_spec"):
            raise InvalidInput("Missing ModelSpec")
        name = request.model_spec.name
        version = (request.model_spec.version.value
                   if request.model_spec.WhichOneof("version_choice") == "version" else None)
        try:
            statuses = self._service.model_status(name, version)
        except NotFound:
            if version is None:
                raise NotFound(f"Could not find any versions of model {name}") from None
            raise NotFound(f"Could not find version {version} of model {name}") from None
        response = get_model_status_pb2.GetModelStatusResponse()
        for status in statuses:
            item = response.model_version_status.add(version=status.version)
            item.state = _STATE.Value(status.state) if status.state in _STATE.keys() \
                else _STATE.UNKNOWN
            code = _ERROR_CODE.values_by_name.get(status.error_code)
            item.status.error_code = code.number if code is not None else \
                _ERROR_CODE.values_by_name["UNKNOWN"].number
            item.status.error_message = status.error_message
        return response

    @handle_errors
    def HandleReloadConfigRequest(self, request: model_management_pb2.ReloadConfigRequest,
                                  context: grpc.ServicerContext
                                  ) -> model_management_pb2.ReloadConfigResponse:
        # Serve exactly request.config, with TF Serving's checks, codes and messages
        # (model_servers/model_service_impl.cc, server_core.cc ReloadConfig); an admin key
        # opens it (serving/grpc/server.py). Unlike TF Serving, a config that fails a check
        # changes nothing (TF Serving has stored it by the time it checks the labels).
        credential = next((v for k, v in context.invocation_metadata() or ()
                           if k == "authorization"), None)
        self._service.management.reload_config(origin(context, self._settings, PROTOCOL),
                                               key_id(credential), request.config)
        # On success TF Serving also writes the OK status into the response.
        return model_management_pb2.ReloadConfigResponse()
