"""numpy <-> JSON (TF Serving's REST encoding) and numpy <-> `multihead.v1.Tensor`.

Used in both directions by both transports, so a value decodes to the same array
whichever way it travelled: text comes back as an object array of `str` (bytes
where it is not UTF-8, and for outputs named `*_bytes`, as TF Serving's REST API
writes those as {"b64": ...}).

Plain Python values (lists, floats) sent over gRPC are typed the way `tf.constant`
types them: floats become float32 and ints int32 (int64 when they do not fit), the
dtypes a Keras model expects. numpy arrays keep theirs. Over REST they go as JSON
numbers, exactly as given.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from ._errors import InvalidInput

_I32 = np.iinfo(np.int32)


@cache
def _pb() -> ModuleType:
    # Imported on first gRPC use so that a REST-only client never needs the stubs.
    from ._proto import gateway_pb2

    return gateway_pb2


def as_array(name: str, value: Any) -> np.ndarray:
    """One named input as an array (a batch); ragged or mixed values are InvalidInput."""
    if isinstance(value, np.ndarray):
        return _check_object(name, value)
    if isinstance(value, str | bytes):
        raise InvalidInput(f"input {name!r} must be a list or array (a batch), not a single "
                           f"string; wrap it: [{value!r}]")
    try:
        arr = np.asarray(value)
    except ValueError as exc:
        raise InvalidInput(f"input {name!r} is ragged: every row must have the same length "
                           "(pad it)") from exc
    return _check_object(name, arr)


def tf_default_dtype(arr: np.ndarray) -> np.ndarray:
    """Python floats as float32 and ints as int32 (int64 when they do not fit), as
    tf.constant types them; applied to plain Python inputs before they go out as a
    typed Tensor. JSON needs no such choice: the server types it from the signature."""
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.int64 and (not arr.size or (_I32.min <= arr.min()
                                                   and arr.max() <= _I32.max)):
        return arr.astype(np.int32)
    return arr


def _check_object(name: str, arr: np.ndarray) -> np.ndarray:
    # An object array can only be text; anything else would not encode the same way twice.
    if arr.dtype.kind == "O" and not all(isinstance(x, str | bytes) for x in arr.ravel()):
        raise InvalidInput(f"input {name!r} mixes types; expected numbers or strings of one "
                           "shape")
    return arr


# ---------------------------------------------------------------- JSON

def _json_scalar(x: Any) -> Any:
    if isinstance(x, bytes):
        try:
            return x.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(x).decode("ascii")}
    if isinstance(x, np.generic):
        return x.item()
    return x


def to_json(arr: np.ndarray) -> Any:
    """An array as nested JSON lists; bytes that are not UTF-8 as {"b64": ...}."""
    if arr.dtype.kind in "SO":
        flat = [_json_scalar(x) for x in arr.ravel().tolist()]
        return np.array(flat, dtype=object).reshape(arr.shape).tolist() if arr.ndim else flat[0]
    return arr.tolist()


def _unb64(value: Any) -> Any:
    if isinstance(value, list):
        return [_unb64(v) for v in value]
    if isinstance(value, Mapping) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    return value


def from_json(value: Any) -> np.ndarray:
    """A JSON tensor (nested lists) as an array; text as an object array of str."""
    value = _unb64(value)
    leaf = value
    while isinstance(leaf, list) and leaf:
        leaf = leaf[0]
    if isinstance(leaf, str | bytes):
        return np.array(value, dtype=object)
    return np.asarray(value)


# ---------------------------------------------------------------- multihead.v1.Tensor

def _to_bytes(x: Any) -> bytes:
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def to_tensor(name: str, arr: np.ndarray) -> Any:
    """An array as a `multihead.v1.Tensor`."""
    pb = _pb()
    t = pb.Tensor(shape=list(arr.shape))
    kind, flat = arr.dtype.kind, arr.ravel()
    if kind in "USO":
        t.dtype = pb.DATA_TYPE_STRING
        t.string_values.extend(_to_bytes(x) for x in flat.tolist())
    elif kind == "b":
        t.dtype = pb.DATA_TYPE_BOOL
        t.bool_values.extend(flat.tolist())
    elif kind == "f" and arr.dtype == np.float64:
        t.dtype = pb.DATA_TYPE_FLOAT64
        t.double_values.extend(flat.tolist())
    elif kind == "f":
        t.dtype = pb.DATA_TYPE_FLOAT32
        t.float_values.extend(flat.astype(np.float32).tolist())
    elif kind in "iu" and arr.dtype.itemsize >= 4 and arr.dtype != np.int32:
        t.dtype = pb.DATA_TYPE_INT64
        t.int64_values.extend(flat.astype(np.int64).tolist())
    elif kind in "iu":
        t.dtype = pb.DATA_TYPE_INT32
        t.int32_values.extend(flat.astype(np.int32).tolist())
    else:
        raise InvalidInput(f"input {name!r} has dtype {arr.dtype}, which cannot be sent; "
                           "expected numbers, booleans or strings")
    return t


_FIELDS = {
    "DATA_TYPE_FLOAT32": ("float_values", np.float32),
    "DATA_TYPE_FLOAT64": ("double_values", np.float64),
    "DATA_TYPE_INT32": ("int32_values", np.int32),
    "DATA_TYPE_INT64": ("int64_values", np.int64),
    "DATA_TYPE_BOOL": ("bool_values", np.bool_),
}


def _text(b: bytes, keep_bytes: bool) -> str | bytes:
    if keep_bytes:
        return b
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def from_tensor(name: str, t: Any) -> np.ndarray:
    """A `multihead.v1.Tensor` as an array (text as an object array of str)."""
    pb = _pb()
    shape = tuple(t.shape)
    dtype = pb.DataType.Name(t.dtype)
    if dtype == "DATA_TYPE_STRING":
        out = np.empty(len(t.string_values), dtype=object)
        out[:] = [_text(b, name.endswith("_bytes")) for b in t.string_values]
        return out.reshape(shape)
    if dtype not in _FIELDS:
        raise InvalidInput(f"output {name!r} has unsupported dtype {dtype}")
    field, np_dtype = _FIELDS[dtype]
    return np.asarray(getattr(t, field), dtype=np_dtype).reshape(shape)


def dtype_name(name: str) -> str:
    """A numpy-style dtype name ("float32", "string") for a TF or proto dtype name."""
    n = name.upper().removeprefix("DATA_TYPE_").removeprefix("DT_")
    return {"FLOAT": "float32", "DOUBLE": "float64", "STRING": "string", "BOOL": "bool",
            "UNSPECIFIED": "unknown"}.get(n, n.lower())
