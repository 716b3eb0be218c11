"""Model metadata and Triton's model configuration, derived from a signature.

One derivation, two renderings: the REST views answer the JSON, the gRPC servicer
fills `ModelMetadataResponse` / `ModelConfigResponse` from the same values.

- Metadata shapes are the signature's with -1 for unknown sizes (the batch dim
  first); an unknown-rank TF input (`TensorSpec(shape=None)`) is described as
  `[-1]`, the convention this gateway documents (README).
- The configuration (`inference.ModelConfig`, Triton common/protobuf/model_config.proto)
  has `max_batch_size` = the gateway's `max_batch_size` when every input and output
  has a free leading batch dim (the core then merges requests), else 0; dims
  exclude the batch dim then. A tensor that is only the batch dim (`[-1]`) is
  written the way Triton writes such a TF model, `dims: [1]` with `reshape {}`, so
  that the config is one Triton itself would accept. perf_analyzer reads shapes
  from the metadata and names, `max_batch_size`, `platform` from this
  (triton-inference-server/perf_analyzer src/model_parser.cc), so it starts without
  `--shape` flags.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2

from serving.dtypes import BY_TF
from serving.protocols.v2.codec import oip_datatype
from serving.types import ModelVersion, SignatureSpec, TensorSpec

PLATFORM = "tensorflow_savedmodel"


def shape_of(t: TensorSpec) -> list[int]:
    if t.shape is None:
        return [-1]
    return [-1 if d is None else int(d) for d in t.shape]


def input_shape(t: TensorSpec, batched: bool) -> list[int]:
    """An input's metadata shape. A batch-only input (`[-1]`) of a batching model is
    `[-1, 1]`, as Triton describes a TF input whose config says `dims: [1]` with an empty
    `reshape`: perf_analyzer drops the batch dim and must be left with a shape to fill
    ("unable to set shape for the input" otherwise). Requests may send `[N, 1]` (reshaped
    to `[N]`, as Triton does) or `[N]`."""
    shape = shape_of(t)
    return [-1, 1] if batched and shape == [-1] else shape


def _tensors(specs: Any, batched: bool | None = None) -> list[dict[str, Any]]:
    return [{"name": name, "datatype": oip_datatype(t.dtype),
             "shape": input_shape(t, batched) if batched is not None else shape_of(t)}
            for name, t in sorted(specs.items())]


def metadata(mv: ModelVersion, versions: list[int], sig: SignatureSpec) -> dict[str, Any]:
    """The OIP model metadata JSON (`GET /v2/models/M[/versions/V]`)."""
    return {"name": mv.name, "versions": [str(v) for v in versions], "platform": PLATFORM,
            "inputs": _tensors(sig.inputs, sig.batchable), "outputs": _tensors(sig.outputs)}


def _triton_type(tf_dtype: str) -> int:
    dt = BY_TF.get(tf_dtype)
    name = dt.triton if dt is not None and dt.oip else "TYPE_STRING"
    return model_config_pb2.DataType.Value(name)


def _dims(t: TensorSpec, batched: bool) -> tuple[list[int], bool]:
    """(dims, needs an empty reshape) without the batch dim when `batched`."""
    dims = shape_of(t)[1:] if batched else shape_of(t)
    if not dims:
        return [1], True
    return dims, False


def model_config(mv: ModelVersion, sig: SignatureSpec, max_batch_size: int
                 ) -> model_config_pb2.ModelConfig:
    batched = sig.batchable
    cfg = model_config_pb2.ModelConfig(name=mv.name, platform=PLATFORM,
                                       max_batch_size=max_batch_size if batched else 0)
    for name, t in sorted(sig.inputs.items()):
        dims, reshape = _dims(t, batched)
        item = cfg.input.add(name=name, data_type=_triton_type(t.dtype), dims=dims)
        if reshape:
            item.reshape.SetInParent()
    for name, t in sorted(sig.outputs.items()):
        dims, reshape = _dims(t, batched)
        item = cfg.output.add(name=name, data_type=_triton_type(t.dtype), dims=dims)
        if reshape:
            item.reshape.SetInParent()
    return cfg


def config_json(cfg: model_config_pb2.ModelConfig) -> dict[str, Any]:
    """The JSON of `inference.ModelConfig` as Triton's `/config` answers it: proto field
    names, every field printed, dims as JSON integers (proto3 JSON would write int64 as
    strings; Triton's answers and its docs' examples carry numbers)."""
    doc = json_format.MessageToDict(cfg, preserving_proto_field_name=True,
                                    always_print_fields_with_no_presence=True)
    for key in ("input", "output"):
        for item in doc.get(key, []):
            item["dims"] = [int(d) for d in item.get("dims", [])]
            if "reshape" in item:
                item["reshape"]["shape"] = [int(d) for d in item["reshape"].get("shape", [])]
    return doc
