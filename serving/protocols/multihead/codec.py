"""`multihead.v1.Tensor` ⇄ numpy, both directions in one place.

Decoding is where wire input is checked: every problem is an `InvalidInput` whose
message names the field (`inputs['posts']`) and says what was expected, so a
bad tensor is a 400 / INVALID_ARGUMENT, never a 500.

Strings travel as `bytes`; on the numpy side they are object arrays of `bytes`
(what TensorFlow returns and accepts for DT_STRING).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from serving.core.validation import checked_shape
from serving.errors import InvalidInput
from serving.protocols.multihead._gen import gateway_pb2 as pb

DT = pb.DataType

# wire dtype -> (value field, numpy dtype)
_FIELDS: dict[int, tuple[str, Any]] = {
    DT.DATA_TYPE_FLOAT32: ("float_values", np.float32),
    DT.DATA_TYPE_FLOAT64: ("double_values", np.float64),
    DT.DATA_TYPE_INT32: ("int32_values", np.int32),
    DT.DATA_TYPE_INT64: ("int64_values", np.int64),
    DT.DATA_TYPE_BOOL: ("bool_values", np.bool_),
    DT.DATA_TYPE_STRING: ("string_values", object),
}
_VALUE_FIELDS = tuple(name for name, _ in _FIELDS.values())

# TensorFlow dtype names (as TF Serving's metadata spells them) -> wire dtype.
_FROM_TF_NAME: dict[str, int] = {
    "DT_FLOAT": DT.DATA_TYPE_FLOAT32,
    "DT_HALF": DT.DATA_TYPE_FLOAT32,
    "DT_BFLOAT16": DT.DATA_TYPE_FLOAT32,
    "DT_DOUBLE": DT.DATA_TYPE_FLOAT64,
    "DT_INT8": DT.DATA_TYPE_INT32,
    "DT_INT16": DT.DATA_TYPE_INT32,
    "DT_INT32": DT.DATA_TYPE_INT32,
    "DT_UINT8": DT.DATA_TYPE_INT32,
    "DT_UINT16": DT.DATA_TYPE_INT32,
    "DT_INT64": DT.DATA_TYPE_INT64,
    "DT_UINT32": DT.DATA_TYPE_INT64,
    "DT_BOOL": DT.DATA_TYPE_BOOL,
    "DT_STRING": DT.DATA_TYPE_STRING,
}


def dtype_from_tf_name(name: str) -> int:
    """Wire dtype for a TensorFlow dtype name; UNSPECIFIED for types the API lacks."""
    return _FROM_TF_NAME.get(name, DT.DATA_TYPE_UNSPECIFIED)


def dtype_name(dtype: int) -> str:
    return DT.Name(dtype) if dtype in DT.values() else str(dtype)


def to_numpy(tensor: pb.Tensor, field: str = "tensor") -> np.ndarray:
    """Decode one wire tensor; `field` names it in error messages."""
    if tensor.dtype not in _FIELDS:
        raise InvalidInput(
            f"{field}.dtype must be one of {', '.join(DT.Name(d) for d in _FIELDS)}, "
            f"got {dtype_name(tensor.dtype)}.")
    value_field, np_dtype = _FIELDS[tensor.dtype]
    others = [name for name in _VALUE_FIELDS
              if name != value_field and len(getattr(tensor, name))]
    if others:
        raise InvalidInput(
            f"{field} has dtype {DT.Name(tensor.dtype)} and must carry its values in "
            f"{value_field}, not {others[0]}.")
    # Before anything is allocated: [2**62, 0] holds no values, yet numpy refuses it.
    shape = checked_shape(field, tensor.shape)
    values = getattr(tensor, value_field)
    expected = math.prod(shape)
    if len(values) != expected:
        raise InvalidInput(
            f"{field} has shape {list(shape)} and needs {expected} values in {value_field}, "
            f"got {len(values)}.")
    if np_dtype is object:
        array = np.empty(expected, dtype=object)
        array[:] = list(values)
    else:
        array = np.asarray(values, dtype=np_dtype)
    return array.reshape(shape)


def to_tensor(array: Any, out: pb.Tensor | None = None) -> pb.Tensor:
    """Encode a numpy array (or anything `np.asarray` takes) into a wire tensor.

    `out` lets callers fill a map entry in place (`response.outputs[name]`).
    """
    array = np.asarray(array)
    tensor = pb.Tensor() if out is None else out
    tensor.shape.extend(array.shape)
    kind = array.dtype.kind
    if kind in ("O", "S", "U"):
        tensor.dtype = DT.DATA_TYPE_STRING
        tensor.string_values.extend(
            item.encode() if isinstance(item, str) else bytes(item) for item in array.ravel())
    elif kind == "b":
        tensor.dtype = DT.DATA_TYPE_BOOL
        tensor.bool_values.extend(array.ravel().tolist())
    elif kind == "f":
        if array.dtype == np.float64:
            tensor.dtype = DT.DATA_TYPE_FLOAT64
            tensor.double_values.extend(array.ravel().tolist())
        else:
            tensor.dtype = DT.DATA_TYPE_FLOAT32
            tensor.float_values.extend(array.astype(np.float32).ravel().tolist())
    elif kind in ("i", "u"):
        if array.dtype.itemsize < 4 or array.dtype in (np.int32,):
            tensor.dtype = DT.DATA_TYPE_INT32
            tensor.int32_values.extend(array.astype(np.int32).ravel().tolist())
        else:
            tensor.dtype = DT.DATA_TYPE_INT64
            tensor.int64_values.extend(array.astype(np.int64).ravel().tolist())
    else:
        raise TypeError(f"cannot encode numpy dtype {array.dtype} as a multihead.v1.Tensor")
    return tensor


def tensor_info(dtype: str, shape: tuple[int | None, ...] | None,
                out: pb.TensorInfo | None = None) -> pb.TensorInfo:
    """A signature entry (TF dtype name, dims with None for unknown) as `TensorInfo`."""
    info = pb.TensorInfo() if out is None else out
    info.dtype = dtype_from_tf_name(dtype)
    if shape is None:
        info.unknown_rank = True
    else:
        info.shape.extend(-1 if dim is None else int(dim) for dim in shape)
    return info
