"""Describe a SavedModel's signatures the way TF Serving's metadata does.

TF Serving answers GetModelMetadata with the `SignatureDef`s stored in the
export's `saved_model.pb` (tensorflow_serving/servables/tensorflow/
get_model_metadata_impl.cc copies `meta_graph_def.signature_def()`), so the
specs here are read from that file rather than re-derived from the loaded
functions: dtype enum names, `-1` dims and graph tensor names then match what a
TF Serving client sees. Imports TensorFlow's protos, so it is only imported from
`embedded.py` after the backend has started, and by the tfserving backend (which has
TensorFlow's protos anyway).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from serving.backends.base import SignatureSpec, TensorSpec
from serving.backends.repository import WARMUP_FILE
from serving.types import DEFAULT_SIGNATURE

# TF2 exports carry this pseudo-signature; it runs initializers, is not callable
# through `loaded.signatures`, and is no use to a client, so it is not served.
INIT_OP_SIGNATURE = "__saved_model_init_op"
SERVE_TAG = "serve"


def signature_spec(name: str, sig: Any) -> SignatureSpec:
    """A `SignatureDef` (from saved_model.pb, or TF Serving's GetModelMetadata) as the
    gateway's typed spec: the one reading of a SignatureDef."""
    return SignatureSpec(
        name=name,
        inputs={k: _tensor_spec(k, v) for k, v in sorted(sig.inputs.items())},
        outputs={k: _tensor_spec(k, v) for k, v in sorted(sig.outputs.items())},
        method_name=sig.method_name or "tensorflow/serving/predict",
    )


def _tensor_spec(alias: str, info: Any) -> TensorSpec:
    from tensorflow.core.framework import types_pb2

    shape_proto = info.tensor_shape
    shape: tuple[int | None, ...] | None
    if shape_proto.unknown_rank:
        shape = None
    else:
        shape = tuple(None if d.size < 0 else int(d.size) for d in shape_proto.dim)
    return TensorSpec(name=alias, dtype=types_pb2.DataType.Name(info.dtype), shape=shape,
                      tensor_name=info.name)


def read_signature_specs(export_dir: str) -> dict[str, SignatureSpec]:
    """SignatureSpecs of the `serve` meta graph in `export_dir/saved_model.pb`."""
    from tensorflow.core.protobuf import saved_model_pb2

    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as fh:
        saved_model = saved_model_pb2.SavedModel.FromString(fh.read())
    meta_graphs = list(saved_model.meta_graphs)
    if not meta_graphs:
        raise ValueError(f"{export_dir}/saved_model.pb holds no meta graph")
    chosen = next((mg for mg in meta_graphs if SERVE_TAG in mg.meta_info_def.tags),
                  meta_graphs[0])
    return {sig_name: signature_spec(sig_name, sig)
            for sig_name, sig in sorted(chosen.signature_def.items())
            if sig_name != INIT_OP_SIGNATURE}


def specs_from_functions(functions: Mapping[str, Any]) -> dict[str, SignatureSpec]:
    """Fallback: SignatureSpecs from loaded concrete functions (no graph tensor names)."""
    import tensorflow as tf
    from tensorflow.core.framework import types_pb2

    def spec(alias: str, t: Any) -> TensorSpec:
        dtype = types_pb2.DataType.Name(tf.as_dtype(t.dtype).as_datatype_enum)
        dims = t.shape.as_list() if t.shape.rank is not None else None
        return TensorSpec(alias, dtype, None if dims is None else tuple(dims))

    out: dict[str, SignatureSpec] = {}
    for name, fn in sorted(functions.items()):
        inputs = fn.structured_input_signature[1]
        outputs = fn.structured_outputs
        out[name] = SignatureSpec(
            name=name,
            inputs={k: spec(k, v) for k, v in sorted(inputs.items())},
            outputs={k: spec(k, v) for k, v in sorted(outputs.items())},
        )
    return out


# TF Serving reads at most this many warm-up records
# (tensorflow_serving/servables/tensorflow/saved_model_warmup_util.cc).
MAX_WARMUP_RECORDS = 1000


def read_warmup_requests(export_dir: str) -> list[tuple[str, dict[str, Any]]]:
    """The predict requests of the export's warm-up file as (signature, named arrays).

    The file is a TFRecord of `PredictionLog`s. Only predict logs are replayed: the
    gateway has no classify/regress API, so other kinds are rejected as TF Serving
    rejects a log kind it cannot run.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(export_dir, WARMUP_FILE)
    if not os.path.exists(path):
        return []
    requests: list[tuple[str, dict[str, Any]]] = []
    for i, record in enumerate(tf.data.TFRecordDataset(path)):
        if i >= MAX_WARMUP_RECORDS:
            raise ValueError(f"{path} holds more than {MAX_WARMUP_RECORDS} warm-up records")
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        kind = log.WhichOneof("log_type")
        if kind != "predict_log":
            raise ValueError(f"{path} record {i} is a {kind}; only predict_log is supported")
        request = log.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        requests.append((request.model_spec.signature_name or DEFAULT_SIGNATURE, inputs))
    return requests
