"""`multihead.v1.Gateway`: thin methods over the transport-free `InferenceService`.

Each method parses the request, calls the core (same validation, batching and
metrics as REST, with protocol="multihead", transport="grpc") and serializes the answer. Errors are
`serving.errors` types, turned into gRPC status codes by `status.handle_errors`.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

from serving.backends.base import ModelVersion
from serving.config import Settings
from serving.core import tasks
from serving.core.service import InferenceService, PredictCall
from serving.errors import DeadlineExceeded, InvalidInput, quote
from serving.grpc._gen import gateway_pb2 as pb
from serving.grpc._gen import gateway_pb2_grpc
from serving.grpc.status import handle_errors
from serving.protocols.multihead import codec

PROTOCOL = "multihead"


def _spec_args(spec: pb.ModelSpec, default_model: str = "") -> dict[str, Any]:
    """name/version/label keyword arguments for the core from a wire ModelSpec."""
    name = spec.name or default_model
    if not name:
        raise InvalidInput("model_spec.name must name a model, got an empty string.")
    choice = spec.WhichOneof("version_choice")
    version = spec.version if choice == "version" else None
    label = spec.version_label if choice == "version_label" else None
    if version is not None and version <= 0:
        raise InvalidInput(f"model_spec.version must be a positive integer, got {version}.")
    if choice == "version_label" and not label:
        raise InvalidInput("model_spec.version_label must not be empty when it is set.")
    return {"model" if default_model else "name": name, "version": version, "label": label}


def _heads(mv: ModelVersion) -> list[pb.Head]:
    """Heads from the model card; a model without one is described by its outputs."""
    if mv.card is not None and mv.card.heads:
        return [pb.Head(name=h.name, kind=h.kind, labels=list(h.labels)) for h in mv.card.heads]
    signature = mv.signatures.get("serving_default") or next(iter(mv.signatures.values()), None)
    outputs = signature.outputs if signature is not None else {}
    return [pb.Head(name=name) for name in sorted(outputs) if not name.endswith("_label")]


class GatewayServicer(gateway_pb2_grpc.GatewayServicer):
    def __init__(self, settings: Settings, service: InferenceService) -> None:
        self._settings = settings
        self._service = service

    def _timeout(self, context: grpc.ServicerContext) -> float:
        """The request's budget: the client's deadline, capped by REQUEST_TIMEOUT_S."""
        remaining = context.time_remaining()
        timeout = self._settings.request_timeout_s
        if remaining is not None:
            if remaining <= 0:
                raise DeadlineExceeded("The client's deadline passed before the call started.")
            timeout = min(timeout, remaining)
        return timeout

    @handle_errors
    def Predict(self, request: pb.PredictRequest,
                context: grpc.ServicerContext) -> pb.PredictResponse:
        spec = _spec_args(request.model_spec)
        inputs = {name: codec.to_numpy(tensor, field=f"inputs[{quote(name)}]")
                  for name, tensor in request.inputs.items()}
        call = PredictCall(model=spec["name"], version=spec["version"], label=spec["label"],
                           signature=request.model_spec.signature_name, inputs=inputs,
                           output_filter=tuple(request.output_filter), protocol=PROTOCOL,
                           transport="grpc")
        result = self._service.predict(call, timeout_s=self._timeout(context))
        response = pb.PredictResponse(model_spec=pb.ModelSpec(
            name=result.model, version=result.version, signature_name=result.signature))
        for name, array in result.outputs.items():
            codec.to_tensor(array, out=response.outputs[name])
        return response

    @handle_errors
    def GetModelMetadata(self, request: pb.GetModelMetadataRequest,
                         context: grpc.ServicerContext) -> pb.GetModelMetadataResponse:
        spec = _spec_args(request.model_spec)
        mv = self._service.resolve(spec["name"], spec["version"], spec["label"])
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
        spec = _spec_args(request.model_spec, default_model="similarity")
        pairs = [(p.left, p.right) for p in request.pairs]
        version, scores = self._service.similarity(pairs, protocol=PROTOCOL, transport="grpc",
                                                   **spec)
        return pb.SimilarityResponse(scores=[float(s) for s in scores], model_version=version)

    @handle_errors
    def Profile(self, request: pb.ProfileRequest,
                context: grpc.ServicerContext) -> pb.ProfileResponse:
        spec = _spec_args(request.model_spec, default_model="profiler")
        authors = [list(a.posts) for a in request.authors]
        version, profiles = self._service.profile(authors, protocol=PROTOCOL, transport="grpc",
                                                  **spec)
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
        spec = _spec_args(request.model_spec, default_model="qa")
        # proto3 cannot tell 0 from unset: 0 asks for the default.
        top_k = request.top_k or tasks.DEFAULT_TOP_K
        version, answers = self._service.answer(request.text, request.question, top_k=top_k,
                                                protocol=PROTOCOL, transport="grpc", **spec)
        return pb.AnswerResponse(
            answers=[pb.ScoredAnswer(answer=a.answer, score=a.score) for a in answers],
            model_version=version)
