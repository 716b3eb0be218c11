"""gRPC transport: `multihead.v1.Gateway` over a few channels of one connection each (grpc
for sync, grpc.aio for async), TLS for grpcs://, the API key as "authorization: Bearer ..."
metadata.

Why several connections: each gateway worker runs its own gRPC server on the shared port,
and the kernel hands a whole connection to one of them, so every call of one connection is
served by one worker. grpcio lets the channels to one target share a single connection (its
global subchannel pool) unless a channel asks for its own; the calls go round the channels.

Requests are built and responses parsed by the functions below, shared by both
transports. `grpc.RpcError` never leaves this module unmapped.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import grpc

from . import _codec
from ._errors import ServerError, from_transport
from ._ops import PredictArgs
from ._proto import gateway_pb2 as pb
from ._proto import gateway_pb2_grpc as pb_grpc
from ._types import (
    Answer,
    Head,
    LabelProbability,
    ModelInfo,
    ModelMetadata,
    ModelVersion,
    Profile,
    ScoredAnswer,
    SignatureInfo,
    TensorSpec,
)

_MAX_MESSAGE = 64 * 1024 * 1024
_OPTIONS = [("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.use_local_subchannel_pool", 1)]  # this channel's own connection


def _model_spec(model: str, version: int | None = None, label: str | None = None,
                signature: str = "") -> Any:
    spec = pb.ModelSpec(name=model, signature_name=signature)
    if version is not None:
        spec.version = version
    elif label is not None:
        spec.version_label = label
    return spec


def _heads(items: Any) -> tuple[Head, ...]:
    return tuple(Head(h.name, h.kind, tuple(h.labels)) for h in items)


def _spec(info: Any) -> TensorSpec:
    shape = None if info.unknown_rank else tuple(None if d < 0 else int(d) for d in info.shape)
    return TensorSpec(_codec.dtype_name(pb.DataType.Name(info.dtype)), shape)


def _metadata(r: Any) -> ModelMetadata:
    signatures = {
        name: SignatureInfo({k: _spec(v) for k, v in s.inputs.items()},
                            {k: _spec(v) for k, v in s.outputs.items()})
        for name, s in r.signatures.items()}
    version = r.model_spec.version if r.model_spec.HasField("version") else None
    card = json.loads(r.model_card_json) if r.model_card_json else None
    return ModelMetadata(r.model_spec.name, version, signatures, _heads(r.heads), card)


def _model_info(m: Any) -> ModelInfo:
    return ModelInfo(m.name, tuple(ModelVersion(v.version, v.state) for v in m.versions),
                     tuple(m.inputs), _heads(m.heads), dict(m.version_labels))


def _lp(x: Any) -> LabelProbability:
    return LabelProbability(x.label, float(x.probability), dict(x.distribution))


def _predict_request(a: PredictArgs) -> Any:
    return pb.PredictRequest(
        model_spec=_model_spec(a.model, a.version, a.label, a.signature),
        inputs={k: _codec.to_tensor(k, _codec.tf_default_dtype(v) if k in a.python_inputs
                                    else v) for k, v in a.inputs.items()},
        output_filter=list(a.heads))


# op name -> (RPC method, request builder, result parser)
OPS: dict[str, tuple[str, Callable[..., Any], Callable[..., Any]]] = {
    "similarity": (
        "Similarity",
        lambda spec, pairs: pb.SimilarityRequest(
            pairs=[pb.SentencePair(left=a, right=b) for a, b in pairs],
            model_spec=_model_spec(spec[0] or "", spec[1], spec[2])),
        lambda r: ([float(s) for s in r.scores], int(r.model_version))),
    "profile": (
        "Profile",
        lambda spec, authors: pb.ProfileRequest(
            authors=[pb.Posts(posts=a) for a in authors],
            model_spec=_model_spec(spec[0] or "", spec[1], spec[2])),
        lambda r: [Profile(float(p.age), _lp(p.income), _lp(p.gender), int(r.model_version))
                   for p in r.profiles]),
    "answer": (
        "Answer",
        lambda spec, text, question, top_k: pb.AnswerRequest(
            text=text, question=question, top_k=top_k,
            model_spec=_model_spec(spec[0] or "", spec[1], spec[2])),
        lambda r: Answer(tuple(ScoredAnswer(a.answer, float(a.score)) for a in r.answers),
                         int(r.model_version))),
    "predict": (
        "Predict", _predict_request,
        lambda r: {k: _codec.from_tensor(k, t) for k, t in r.outputs.items()}),
    "models": ("ListModels", lambda: pb.ListModelsRequest(),
               lambda r: [_model_info(m) for m in r.models]),
    "metadata": (
        "GetModelMetadata",
        lambda model, version=None, label=None: pb.GetModelMetadataRequest(
            model_spec=_model_spec(model, version, label)),
        _metadata),
}


def _parse(op: str, response: Any) -> Any:
    try:
        return OPS[op][2](response)
    except (ValueError, KeyError, TypeError) as exc:
        raise ServerError(f"unexpected {op} response from the server: {exc!r}") from exc


def _credentials(verify: bool | str) -> Any:
    roots = None
    if isinstance(verify, str):
        with open(verify, "rb") as f:
            roots = f.read()
    return grpc.ssl_channel_credentials(root_certificates=roots)


def _channels(api: Any, target: str, tls: bool, verify: bool | str, n: int) -> list[Any]:
    """`n` channels of `api` (`grpc` or `grpc.aio`), each with a connection of its own."""
    credentials = _credentials(verify) if tls else None
    return [api.secure_channel(target, credentials, options=_OPTIONS) if tls
            else api.insecure_channel(target, options=_OPTIONS) for _ in range(n)]


class GrpcTransport:
    """Synchronous gRPC transport over `connections` `grpc.Channel`s, each opening its
    connection on first use."""

    def __init__(self, target: str, *, tls: bool, api_key: str | None,
                 verify: bool | str, connections: int) -> None:
        self._channels = _channels(grpc, target, tls, verify, connections)
        self._stubs = itertools.cycle([pb_grpc.GatewayStub(c) for c in self._channels])
        self._metadata = (("authorization", f"Bearer {api_key}"),) if api_key else None

    def call(self, op: str, *args: Any, timeout: float) -> Any:
        """Run one op; raises only MultiheadError."""
        method, build, _ = OPS[op]
        request = build(*args)
        try:
            response = getattr(next(self._stubs), method)(request, timeout=timeout,
                                                          metadata=self._metadata)
        except grpc.RpcError as exc:
            raise from_transport(exc, timeout) from exc
        return _parse(op, response)

    def close(self) -> None:
        """Close the channels."""
        for channel in self._channels:
            channel.close()


class AsyncGrpcTransport:
    """Asynchronous gRPC transport over `connections` `grpc.aio.Channel`s, opened on first
    use so that they belong to the running event loop."""

    def __init__(self, target: str, *, tls: bool, api_key: str | None,
                 verify: bool | str, connections: int) -> None:
        self._target, self._tls, self._verify = target, tls, verify
        self._connections = connections
        self._channels: list[Any] = []
        self._stubs: Any = None
        self._metadata = (("authorization", f"Bearer {api_key}"),) if api_key else None

    def _open(self) -> Any:
        if self._stubs is None:
            self._channels = _channels(grpc.aio, self._target, self._tls, self._verify,
                                       self._connections)
            self._stubs = itertools.cycle([pb_grpc.GatewayStub(c) for c in self._channels])
        return next(self._stubs)

    async def call(self, op: str, *args: Any, timeout: float) -> Any:
        """Run one op; raises only MultiheadError."""
        method, build, _ = OPS[op]
        request = build(*args)
        try:
            response = await getattr(self._open(), method)(request, timeout=timeout,
                                                           metadata=self._metadata)
        except grpc.RpcError as exc:  # grpc.aio.AioRpcError is one
            raise from_transport(exc, timeout) from exc
        return _parse(op, response)

    async def close(self) -> None:
        """Close the channels."""
        channels, self._channels, self._stubs = self._channels, [], None
        for channel in channels:
            await channel.close()
