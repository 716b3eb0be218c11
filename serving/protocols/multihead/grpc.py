"""`multihead.v1.Gateway`: thin methods over the transport-free `InferenceService`.

Each method parses the request, calls the core (same validation, batching and
metrics as REST, with protocol="multihead", transport="grpc") and serializes the answer. Errors are
`serving.errors` types, turned into gRPC status codes by `status.handle_errors`.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

from serving.config import Settings
from serving.core import tasks
from serving.core.calls import ModelRef, Origin, OutputFilter, PredictCall
from serving.core.service import InferenceService
from serving.core.signatures import default_signature
from serving.errors import quote
from serving.grpc.context import origin
from serving.grpc.status import handle_errors
from serving.protocols.multihead import codec
from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.multihead._gen import gateway_pb2_grpc
from serving.types import ModelVersion

PROTOCOL = "multihead"


_SPEC_FIELDS = ("model_spec.name", "model_spec.version", "model_spec.version_label")


def _model_ref(spec: pb.ModelSpec, default_model: str = "") -> ModelRef:
    """The core's model reference from a wire ModelSpec (`default_model` for the tasks)."""
    choice = spec.WhichOneof("version_choice")
    return ModelRef.check(spec.name or default_model,
                          spec.version if choice == "version" else None,
                          spec.version_label if choice == "version_label" else None,
                          _SPEC_FIELDS)


def _heads(mv: ModelVersion) -> list[pb.Head]:
    """Heads from the model card; a model without one is described by its outputs."""
    if mv.card is not None and mv.card.heads:
        return [pb.Head(name=h.name, kind=h.kind, labels=list(h.labels)) for h in mv.card.heads]
    outputs = list(default_signature(mv).outputs)
    return [pb.Head(name=h.name) for h in tasks.list_heads(None, outputs)]


class GatewayServicer(gateway_pb2_grpc.GatewayServicer):
    def __init__(self, settings: Settings, service: InferenceService) -> None:
        self._settings = settings
        self._service = service

    def _origin(self, context: grpc.ServicerContext) -> Origin:
        return origin(context, self._settings, PROTOCOL)

    @handle_errors
    def Predict(self, request: pb.PredictRequest,
                context: grpc.ServicerContext) -> pb.PredictResponse:
        def decode(plan: Any) -> dict[str, Any]:
            return {name: codec.to_numpy(tensor, field=f"inputs[{quote(name)}]")
                    for name, tensor in request.inputs.items()}

        result = self._service.predict(self._origin(context), lambda: PredictCall(
            _model_ref(request.model_spec), decode,
            signature=request.model_spec.signature_name,
            outputs=OutputFilter(tuple(request.output_filter))))
        response = pb.PredictResponse(model_spec=pb.ModelSpec(
            name=result.model, version=result.version, signature_name=result.signature))
        for name, array in result.outputs.items():
            codec.to_tensor(array, out=response.outputs[name])
        return response

    @handle_errors
    def GetModelMetadata(self, request: pb.GetModelMetadataRequest,
                         context: grpc.ServicerContext) -> pb.GetModelMetadataResponse:
        ref = _model_ref(request.model_spec)
        mv = self._service.resolve(ref.name, ref.version, ref.label)
        signatures = dict(mv.signatures)
        wanted = request.model_spec.signature_name
        if wanted:
            # Same check (and FailedPrecondition) as Predict for an unknown signature.
            signatures = {wanted: self._service.signature(mv, wanted)}
        response = pb.GetModelMetadataResponse(
            model_spec=pb.ModelSpec(name=mv.name, version=mv.version, signature_name=wanted),
            heads=_heads(mv),
            model_card_json=json.dumps(dict(mv.card.raw), sort_keys=True) if mv.card else "")
        for sig_name, sig in signatures.items():
            info = response.signatures[sig_name]
            for name, spec_ in sig.inputs.items():
                codec.tensor_info(spec_.dtype, spec_.shape, out=info.inputs[name])
            for name, spec_ in sig.outputs.items():
                codec.tensor_info(spec_.dtype, spec_.shape, out=info.outputs[name])
        return response

    @handle_errors
    def ListModels(self, request: pb.ListModelsRequest,
                   context: grpc.ServicerContext) -> pb.ListModelsResponse:
        response = pb.ListModelsResponse()
        for m in self._service.list_models():
            info = response.models.add(name=m.name)
            for v in m.versions:
                info.versions.add(version=v.version, state=v.state)
            info.inputs.extend(i.name for i in m.inputs)
            info.heads.extend(pb.Head(name=h.name, kind=h.kind, labels=list(h.labels))
                              for h in m.heads)
            for label, version in m.labels.items():
                info.version_labels[label] = version
        return response

    @handle_errors
    def Similarity(self, request: pb.SimilarityRequest,
                   context: grpc.ServicerContext) -> pb.SimilarityResponse:
        version, scores = self._service.similarity(self._origin(context), lambda: (
            tasks.SimilarityTask(_model_ref(request.model_spec, "similarity"),
                                 [(p.left, p.right) for p in request.pairs])))
        return pb.SimilarityResponse(scores=[float(s) for s in scores], model_version=version)

    @handle_errors
    def Profile(self, request: pb.ProfileRequest,
                context: grpc.ServicerContext) -> pb.ProfileResponse:
        version, profiles = self._service.profile(self._origin(context), lambda: (
            tasks.ProfileTask(_model_ref(request.model_spec, "profiler"),
                              [list(a.posts) for a in request.authors])))
        response = pb.ProfileResponse(model_version=version)
        for item in profiles:
            profile = response.profiles.add(age=item.age)
            for target, score in ((profile.income, item.income), (profile.gender, item.gender)):
                target.label = score.label
                target.probability = score.probability
                target.distribution.update(score.distribution)
        return response

    @handle_errors
    def Answer(self, request: pb.AnswerRequest,
               context: grpc.ServicerContext) -> pb.AnswerResponse:
        # proto3 cannot tell 0 from unset: 0 asks for the default.
        version, answers = self._service.answer(self._origin(context), lambda: (
            tasks.AnswerTask(_model_ref(request.model_spec, "qa"), request.text,
                             request.question, request.top_k or tasks.DEFAULT_TOP_K)))
        return pb.AnswerResponse(
            answers=[pb.ScoredAnswer(answer=a.answer, score=a.score) for a in answers],
            model_version=version)
