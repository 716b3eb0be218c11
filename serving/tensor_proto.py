"""TensorFlow's `TensorProto` ⇄ numpy, both directions, for every user of that wire format.

TF Serving's gRPC API carries TensorProtos: the `tfserving` backend sends and reads
them, and the gateway's own TF Serving protocol room answers with them. Numbers go
out as `tensor_content` (one copy, no per-element work) unless the caller asks for the
typed `*_val` fields (`typed_fields=True`: what TF Serving itself answers by default,
kAsProtoField in tensorflow_serving/servables/tensorflow/predict_util.h, so clients
that read `outputs[...].float_val` directly keep working); both encodings are read:
`tensor_content` (tf.make_tensor_proto of numeric arrays) and the typed `*_val`
fields (perf_analyzer, Java/Go clients), where fewer values than the shape holds
repeat the last one (TF's semantics, tensor_util.MakeNdarray).

Decoding is where wire input is checked: a problem is an `InvalidInput` naming the
field, so a bad tensor is INVALID_ARGUMENT, never INTERNAL.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tensorflow.core.framework import tensor_pb2, types_pb2

from serving import dtypes
from serving.core.validation import checked_shape
from serving.errors import InvalidInput

# A tensor may claim more elements than it carries (the typed fields repeat their last
# value), so the shape alone could ask for any amount of memory: cap what it may claim.
MAX_ELEMENTS = 1 << 26


def array_to_proto(array: Any, typed_fields: bool = False,
                   out: tensor_pb2.TensorProto | None = None) -> tensor_pb2.TensorProto:
    """numpy -> TensorProto: string_val for strings; numbers in tensor_content, or in the
    dtype's typed field (`float_val`, `int_val`, ...) when `typed_fields`.

    `out` fills a message in place (a map entry such as `response.outputs[name]`).
    """
    array = np.asarray(array)
    proto = tensor_pb2.TensorProto() if out is None else out
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    dtype = dtypes.for_numpy(array.dtype)
    if dtype is None:
        raise InvalidInput(f"dtype {array.dtype} has no TensorFlow equivalent.")
    proto.dtype = dtype.tf_enum
    if dtype.kind == "string":
        proto.string_val.extend(x.encode() if isinstance(x, str) else bytes(x)
                                for x in array.ravel())
    elif typed_fields:
        flat = array.ravel()
        if dtype.tf == "DT_HALF":  # half_val holds the IEEE bit patterns, as TF writes them
            flat = flat.astype(np.float16).view(np.uint16)
        getattr(proto, dtype.tensor_proto_field).extend(flat.tolist())
    else:
        proto.tensor_content = np.ascontiguousarray(
            array, array.dtype.newbyteorder("<")).tobytes()
    return proto


def proto_to_array(proto: tensor_pb2.TensorProto, field: str = "tensor") -> np.ndarray:
    """TensorProto -> numpy; `field` names the tensor in error messages."""
    dims = [d.size for d in proto.tensor_shape.dim]
    if any(d < 0 for d in dims):
        raise InvalidInput(f"{field}.tensor_shape must hold non-negative sizes, got {dims}.")
    # The shared check first: [2**62, 0] claims no element, yet numpy refuses it.
    shape = checked_shape(field, dims, shape_field="tensor_shape")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise InvalidInput(f"{field}.tensor_shape {dims} claims {count} elements; at most "
                           f"{MAX_ELEMENTS} are accepted.")
    dtype = dtypes.BY_TF_ENUM.get(proto.dtype)
    if dtype is None:
        raise InvalidInput(f"{field}.dtype {dtypes.tf_name_for_enum(proto.dtype)} is not "
                           "supported; use one of "
                           f"{', '.join(d.tf for d in dtypes.BY_TF.values())}.")
    if dtype.kind == "string":
        values: Any = list(proto.string_val)
        array = np.empty(len(values), dtype=object)
        array[:] = values
    elif proto.tensor_content:
        wire = np.dtype(dtype.numpy).newbyteorder("<")
        if len(proto.tensor_content) != count * wire.itemsize:
            raise InvalidInput(f"{field}.tensor_content has {len(proto.tensor_content)} bytes; "
                               f"shape {dims} of {dtype.tf} needs {count * wire.itemsize}.")
        return np.frombuffer(proto.tensor_content, wire).astype(dtype.numpy).reshape(shape)
    elif proto.dtype == types_pb2.DT_HALF:
        array = np.asarray(proto.half_val, dtype=np.uint16).view(np.float16)
    else:
        array = np.asarray(getattr(proto, dtype.tensor_proto_field), dtype=dtype.numpy)
    if array.size > count:
        raise InvalidInput(f"{field} has {array.size} values in {dtype.tensor_proto_field}; "
                           f"shape {dims} holds {count}.")
    if 0 < array.size < count:
        array = np.concatenate([array, np.repeat(array[-1:], count - array.size)])
    elif array.size == 0 and count:
        array = np.zeros(count, dtype=dtype.numpy) if dtype.kind != "string" else \
            np.full(count, b"", dtype=object)
    return array.reshape(shape)
