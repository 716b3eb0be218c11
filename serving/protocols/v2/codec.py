"""Open Inference Protocol v2 tensors <-> numpy, one converter per wire format.

- JSON `data` (flat row-major or nested lists) <-> arrays: `from_json`, `to_json`;
- raw little-endian bytes (the binary tensor data extension over REST, and gRPC's
  `raw_input_contents` / `raw_output_contents`) <-> arrays: `from_raw`, `to_raw`;
  BYTES elements are a 4-byte little-endian length followed by the bytes
  (Triton docs/protocol/extension_binary_data.md);
- gRPC typed `InferTensorContents` -> arrays: `from_contents` (answers always go
  raw: tritonclient's `as_numpy` reads only raw_output_contents,
  triton-inference-server/client src/python/library/tritonclient/grpc/_infer_result.py).

Datatypes come from the one table in serving/dtypes.py. Every failure is an
`InvalidInput` whose message starts with the field (`inputs[0].data ...`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from serving.core.validation import MAX_CLAIMED_ELEMENTS, MAX_RANK, checked_shape
from serving.dtypes import BY_OIP, BY_TF, OIP_DATATYPES, DType, for_numpy
from serving.errors import InvalidInput
from serving.jsonio import kind_of


def dtype_for(datatype: Any, where: str) -> DType:
    """The table entry of an OIP datatype string, or InvalidInput naming `where`."""
    if not isinstance(datatype, str) or not datatype:
        raise InvalidInput(f"{where} must be an OIP datatype string ({', '.join(OIP_DATATYPES)}).")
    dt = BY_OIP.get(datatype)
    if dt is None:
        raise InvalidInput(f"{where} '{datatype[:40]}' is not a datatype the gateway accepts; "
                           f"expected one of {', '.join(OIP_DATATYPES)}.")
    return dt


def oip_datatype(tf_dtype: str, array: np.ndarray | None = None) -> str:
    """OIP datatype of a signature dtype (falls back to the array's numpy dtype)."""
    dt = BY_TF.get(tf_dtype)
    if dt is None and array is not None:
        dt = for_numpy(array.dtype)
    return dt.oip if dt is not None and dt.oip else "BYTES"


def check_shape(shape: Any, where: str) -> tuple[int, ...]:
    """A request's `shape`: a list of integers, then the core's one check of a claimed
    shape (rank, sizes, element count: serving/core/validation.py `checked_shape`)."""
    if not isinstance(shape, (list, tuple)) or any(
            isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
        raise InvalidInput(f"{where} must be a list of at most {MAX_RANK} non-negative "
                           "integers.")
    field, _, shape_field = where.rpartition(".")
    return checked_shape(field or where, shape, shape_field=shape_field or "shape")


def element_count(shape: Sequence[int], where: str) -> int:
    """Elements of a shape this codec is handed (checked again here: the decoders are
    called with shapes a caller may not have passed through `check_shape`)."""
    count = math.prod(shape)
    if count > MAX_CLAIMED_ELEMENTS:
        raise InvalidInput(f"{where} {list(shape)} claims {count} elements, more than the "
                           f"{MAX_CLAIMED_ELEMENTS} a request may carry.")
    return count


# -- JSON ----------------------------------------------------------------------------------


def _walk(items: list[Any], depth: int, where: str, out: list[Any]) -> None:
    if depth > MAX_RANK:
        raise InvalidInput(f"{where} is nested deeper than {MAX_RANK} levels.")
    for item in items:
        if isinstance(item, list):
            _walk(item, depth + 1, where, out)
        else:
            out.append(item)


def from_json(data: Any, dt: DType, shape: tuple[int, ...], where: str) -> np.ndarray:
    """`data` of one JSON input as an array of `shape` and `dt`."""
    leaves: list[Any] = []
    _walk(data if isinstance(data, list) else [data], 0, where, leaves)
    count = element_count(shape, where.replace(".data", ".shape"))
    if len(leaves) != count:
        raise InvalidInput(f"{where} holds {len(leaves)} elements but shape {list(shape)} "
                           f"needs {count}.")
    if dt.kind == "string":
        arr = np.empty(len(leaves), dtype=object)
        for i, v in enumerate(leaves):
            if not isinstance(v, str):
                raise InvalidInput(f"{where}[{i}] must be a string (BYTES), got "
                                   f"{kind_of(v)}.")
            try:
                arr[i] = v.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
                raise InvalidInput(f"{where}[{i}] is not valid UTF-8 text; send arbitrary "
                                   "bytes with the binary tensor data extension.") from None
        return arr.reshape(shape)
    for i, v in enumerate(leaves):
        bad = (not isinstance(v, bool) if dt.kind == "bool" else
               isinstance(v, bool) or not isinstance(v, (int, float)) if dt.kind == "float" else
               isinstance(v, bool) or not isinstance(v, int))
        if bad:
            what = {"bool": "a boolean", "float": "a number", "int": "an integer"}[dt.kind]
            raise InvalidInput(f"{where}[{i}] must be {what} ({dt.oip}), got {kind_of(v)}.")
    if dt.kind == "int":
        info = np.iinfo(dt.numpy)
        if leaves and (min(leaves) < info.min or max(leaves) > info.max):
            raise InvalidInput(f"{where} holds values outside the {dt.oip} range "
                               f"[{info.min}, {info.max}].")
    with np.errstate(over="ignore"):
        arr = np.array(leaves, dtype=dt.numpy)
    if dt.kind == "float" and not np.isfinite(arr).all():
        raise InvalidInput(f"{where} holds a number too large for {dt.oip}.")
    return arr.reshape(shape)


def to_json(arr: np.ndarray, dt_oip: str, where: str) -> list[Any]:
    """Flat row-major JSON values of an output (BYTES as UTF-8 strings)."""
    flat = arr.reshape(-1)
    if dt_oip != "BYTES":
        return flat.tolist()
    out = []
    for v in flat:
        if isinstance(v, str):
            out.append(v)
            continue
        try:
            out.append(bytes(v).decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInput(f"{where} holds bytes that are not UTF-8 text; request it "
                               "with parameters.binary_data=true.") from None
    return out


# -- raw bytes (binary extension, gRPC raw contents) ---------------------------------------


def from_raw(raw: bytes | memoryview, dt: DType, shape: tuple[int, ...],
             where: str) -> np.ndarray:
    """Little-endian, row-major bytes of one tensor as an array of `shape`."""
    count = element_count(shape, where)
    if dt.kind == "string":
        return _bytes_elements(memoryview(raw), count, where).reshape(shape)
    need = count * dt.size
    if len(raw) != need:
        raise InvalidInput(f"{where} has {len(raw)} bytes but shape {list(shape)} of "
                           f"{dt.oip} needs {need}.")
    if dt.kind == "bool":
        return (np.frombuffer(raw, dtype=np.uint8) != 0).reshape(shape)
    arr = np.frombuffer(raw, dtype=np.dtype(dt.numpy).newbyteorder("<")).reshape(shape)
    return arr.astype(dt.numpy, copy=False)


def _bytes_elements(raw: memoryview, count: int, where: str) -> np.ndarray:
    out = np.empty(count, dtype=object)
    pos, end = 0, len(raw)
    for i in range(count):
        if pos + 4 > end:
            raise InvalidInput(f"{where} ends before BYTES element {i} of {count} "
                               "(each is a 4-byte little-endian length, then the bytes).")
        (size,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + size > end:
            raise InvalidInput(f"{where} BYTES element {i} claims {size} bytes but only "
                               f"{end - pos} remain.")
        out[i] = bytes(raw[pos:pos + size])
        pos += size
    if pos != end:
        raise InvalidInput(f"{where} has {end - pos} bytes after its {count} BYTES elements.")
    return out


def to_raw(arr: np.ndarray, dt_oip: str) -> bytes:
    """An output as little-endian row-major bytes (BYTES length-prefixed)."""
    if dt_oip == "BYTES":
        parts = []
        for v in arr.reshape(-1):
            b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            parts.append(struct.pack("<I", len(b)))
            parts.append(b)
        return b"".join(parts)
    dt = BY_OIP[dt_oip]
    if dt.kind == "bool":
        return np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    return np.ascontiguousarray(arr, dtype=np.dtype(dt.numpy).newbyteorder("<")).tobytes()


# -- gRPC typed contents ---------------------------------------------------------------------


def from_contents(contents: Any, dt: DType, shape: tuple[int, ...], where: str) -> np.ndarray:
    """An `InferTensorContents` (the field of `dt`) as an array of `shape`."""
    if not dt.oip_contents:
        raise InvalidInput(f"{where} of {dt.oip} has no typed contents field; send it in "
                           "raw_input_contents.")
    values = getattr(contents, dt.oip_contents)
    count = element_count(shape, where)
    if len(values) != count:
        raise InvalidInput(f"{where}.{dt.oip_contents} holds {len(values)} elements but "
                           f"shape {list(shape)} needs {count}.")
    if dt.kind == "string":
        arr = np.empty(count, dtype=object)
        arr[:] = list(values)
        return arr.reshape(shape)
    arr = np.asarray(values, dtype=np.int64 if dt.kind == "int" and dt.oip != "UINT64"
                     else None)
    if dt.kind == "int" and arr.size:
        info = np.iinfo(dt.numpy)
        if arr.min() < info.min or arr.max() > info.max:
            raise InvalidInput(f"{where}.{dt.oip_contents} holds values outside the {dt.oip} "
                               f"range [{info.min}, {info.max}].")
    return arr.astype(dt.numpy).reshape(shape)
