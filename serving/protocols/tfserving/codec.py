"""TF Serving's REST JSON <-> named numpy arrays, both directions, in one place.

Mirrors TF Serving's JSON tensor format (tensorflow_serving/util/json_tensor.cc, and
its REST API doc tensorflow_serving/g3doc/api_rest.md): `instances` (row) or `inputs`
(columnar) on the way in, `predictions` / `outputs` on the way out, `{"b64": ...}` for
binary strings, NaN / Infinity literals accepted in requests and written back as literals.
Shapes against the signature are checked by serving/core/validation.py; this
module only rejects what cannot become an array at all (wrong JSON types,
ragged lists, missing or unknown input names).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving import dtypes
from serving.core.validation import MAX_RANK, SignaturePlan
from serving.errors import InvalidInput, quote
from serving.jsonio import kind_of, loads
from serving.types import SignatureSpec


def _decoded(dtype: str) -> tuple[str, Any]:
    """(kind, numpy dtype) a JSON value of a TF dtype decodes to (serving/dtypes.py)."""
    if dtype == "DT_BFLOAT16":  # numpy has no bfloat16: floats, which TF converts
        return "float", np.float32
    found = dtypes.BY_TF.get(dtype)
    return (found.kind, found.numpy) if found is not None else ("", None)


@dataclass(frozen=True)
class PredictBody:
    """A parsed `:predict` body before the model is known (TF Serving's check order)."""

    raw: Mapping[str, Any]
    signature_name: str
    heads: tuple[str, ...]          # the "heads" extension: output names to keep (): all

    @property
    def form(self) -> str:
        """"row" (`instances`) or "columnar" (`inputs`): the answer's form too."""
        return "row" if "instances" in self.raw else "columnar"


def parse_predict_body(raw: bytes) -> PredictBody:
    body = loads(raw)
    if not isinstance(body, dict):
        raise InvalidInput(f"The request body must be a JSON object, got {kind_of(body)}.")
    sig = body.get("signature_name", "")
    if not isinstance(sig, str):
        raise InvalidInput(f"signature_name must be a string, got {kind_of(sig)}.")
    return PredictBody(raw=body, signature_name=sig, heads=_heads(body.get("heads")))


def _heads(heads: Any) -> tuple[str, ...]:
    if heads is None:
        return ()
    if not isinstance(heads, list) or not heads or not all(isinstance(h, str) for h in heads):
        raise InvalidInput("heads must be a non-empty list of output names (strings).")
    return tuple(heads)


def decode_inputs(body: PredictBody, plan: SignaturePlan) -> dict[str, np.ndarray]:
    """Named arrays from `instances` or `inputs` against the resolved signature.

    Inputs the model card declares as padded token sequences (`plan.padded`) may be
    ragged: their rows are right-padded with 0 instead of rejected.
    """
    has_rows, has_cols = "instances" in body.raw, "inputs" in body.raw
    if has_rows == has_cols:
        raise InvalidInput("The request must have exactly one of instances (row format) "
                           "or inputs (columnar format).")
    signature, padded = plan.spec, plan.padded
    names = sorted(signature.inputs)
    if has_rows:
        return _decode_rows(body.raw["instances"], signature, names, padded)
    return _decode_columns(body.raw["inputs"], signature, names, padded)


def encode_outputs(outputs: Mapping[str, np.ndarray], form: str,
                   keyed: bool = False) -> dict[str, Any]:
    """`{"predictions": ...}` (row) or `{"outputs": ...}` (columnar), as TF Serving answers.

    One output is written bare unless `keyed` (the client named heads to keep).
    """
    values = {name: _jsonable(name, np.asarray(arr)) for name, arr in outputs.items()}
    single = len(values) == 1 and not keyed
    if form == "columnar":
        return {"outputs": next(iter(values.values())) if single else values}
    sizes = {name: len(v) if isinstance(v, list | np.ndarray) and np.ndim(v) else None
             for name, v in values.items()}
    if None in sizes.values() or len(set(sizes.values())) > 1:
        # TF Serving: row format needs every output to share dim 0.
        raise InvalidInput("Row format (instances) needs outputs with one common batch size; "
                           "send inputs (columnar format) instead.")
    if single:
        return {"predictions": list(next(iter(values.values())))}
    n = next(iter(sizes.values()), 0)
    return {"predictions": [{name: v[i] for name, v in values.items()} for i in range(n)]}


# -- decoding ---------------------------------------------------------------------------


def _decode_rows(instances: Any, sig: SignatureSpec, names: list[str],
                 padded: frozenset[str]) -> dict[str, np.ndarray]:
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("instances must be a non-empty list with one element per example.")
    named = [isinstance(e, dict) and not _is_b64(e) for e in instances]
    if not any(named):
        if len(names) != 1:
            raise InvalidInput("instances must be a list of objects keyed by input name "
                               f"({', '.join(names)}), since the signature has several inputs.")
        name = names[0]
        return {name: _to_array(instances, sig.inputs[name].dtype, name, "instances",
                                name in padded)}
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for i, element in enumerate(instances):
        if not named[i]:
            raise InvalidInput(f"instances[{i}] must be an object keyed by input name "
                               f"({', '.join(names)}) like instances[0].")
        _check_names(element, names, f"instances[{i}]")
        for name in names:
            columns[name].append(element[name])
    return {name: _to_array(col, sig.inputs[name].dtype, name, "instances", name in padded)
            for name, col in columns.items()}


def _decode_columns(inputs: Any, sig: SignatureSpec, names: list[str],
                    padded: frozenset[str]) -> dict[str, np.ndarray]:
    if isinstance(inputs, dict) and not _is_b64(inputs):
        _check_names(inputs, names, "inputs")
        return {name: _to_array(inputs[name], sig.inputs[name].dtype, name, f"inputs.{name}",
                                name in padded) for name in names}
    if len(names) != 1:
        raise InvalidInput(f"inputs must be an object keyed by input name ({', '.join(names)}).")
    return {names[0]: _to_array(inputs, sig.inputs[names[0]].dtype, names[0], "inputs",
                                names[0] in padded)}


def _check_names(obj: Mapping[str, Any], names: list[str], where: str) -> None:
    missing = [n for n in names if n not in obj]
    if missing:
        raise InvalidInput(f"{where} is missing input {quote(missing[0])}; "
                           f"expected inputs: {', '.join(names)}.")
    unknown = sorted(k for k in obj if k not in names)
    if unknown:
        raise InvalidInput(f"{where} has unknown input {quote(unknown[0])}; "
                           f"expected inputs: {', '.join(names)}.")


def _to_array(value: Any, dtype: str, name: str, path: str, padded: bool = False) -> np.ndarray:
    leaf = _leaf_converter(dtype, name, path)
    if padded and isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        width = max(len(r) for r in value)
        value = [r + [0] * (width - len(r)) for r in value]
    flat: list[Any] = []
    try:
        shape = _walk(value, path, name, leaf, flat, 0)
    except RecursionError:
        raise InvalidInput(f"Input '{name}' at {path} is nested too deeply; expected at most "
                           f"{MAX_RANK} dimensions.") from None
    if dtype == "DT_STRING":
        arr = np.empty(len(flat), dtype=object)
        arr[:] = flat
        return arr.reshape(shape)
    return np.array(flat, dtype=_np_dtype(dtype)).reshape(shape)


def _walk(value: Any, path: str, name: str, leaf: Any, flat: list[Any],
          depth: int) -> tuple[int, ...]:
    if not isinstance(value, list):
        flat.append(leaf(value, path))
        return ()
    if depth >= MAX_RANK:
        raise InvalidInput(f"Input '{name}' at {path} is nested too deeply; expected at most "
                           f"{MAX_RANK} dimensions.")
    if not value:
        return (0,)
    first = _walk(value[0], f"{path}[0]", name, leaf, flat, depth + 1)
    for i in range(1, len(value)):
        shape = _walk(value[i], f"{path}[{i}]", name, leaf, flat, depth + 1)
        if shape != first:
            raise InvalidInput(
                f"Input '{name}' is ragged: {path}[{i}] has shape {list(shape)} but {path}[0] "
                f"has shape {list(first)}; every example must have the same shape.")
    return (len(value), *first)


def _leaf_converter(dtype: str, name: str, path: str) -> Any:
    where = f"Input '{name}' at"
    if dtype == "DT_STRING":
        return lambda v, p: _string_leaf(v, f"{where} {p}")
    kind, np_dtype = _decoded(dtype)
    if kind == "float":
        return lambda v, p: _float_leaf(v, f"{where} {p}", dtype)
    if kind == "int":
        info = np.iinfo(np_dtype)
        lo, hi = int(info.min), int(info.max)
        return lambda v, p: _int_leaf(v, f"{where} {p}", dtype, lo, hi)
    if dtype == "DT_BOOL":
        return lambda v, p: _bool_leaf(v, f"{where} {p}")
    raise InvalidInput(f"Input '{name}' has dtype {dtype}, which the REST API cannot decode; "
                       "use the gRPC API.")


def _string_leaf(v: Any, where: str) -> bytes:
    if isinstance(v, str):
        try:
            return v.encode("utf-8")
        except UnicodeEncodeError:  # only reachable when called without loads() first
            raise InvalidInput(f"{where} holds a lone UTF-16 surrogate, which is not "
                               "Unicode text.") from None
    if isinstance(v, dict) and _is_b64(v):
        try:
            return base64.b64decode(v["b64"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise InvalidInput(f"{where} has a b64 value that is not standard base64 "
                               "text.") from None
    raise InvalidInput(f"{where} must be a string or {{\"b64\": ...}} (DT_STRING), "
                       f"got {kind_of(v)}.")


def _float_leaf(v: Any, where: str, dtype: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InvalidInput(f"{where} must be a number ({dtype}), got {kind_of(v)}.")
    try:
        return float(v)
    except OverflowError:  # an integer literal with hundreds of digits
        raise InvalidInput(f"{where} is an integer of {_digits(v)} digits, too large for "
                           f"{dtype}.") from None


def _int_leaf(v: Any, where: str, dtype: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidInput(f"{where} must be an integer ({dtype}), got {kind_of(v)}.")
    if not lo <= v <= hi:
        shown = v if abs(v) < 10**30 else f"an integer of {_digits(v)} digits"
        raise InvalidInput(f"{where} is {shown}, outside the range of {dtype} [{lo}, {hi}].")
    return v


def _digits(v: int) -> int:
    # len(str(v)) would hit Python's int-to-str digit limit for the longest literals.
    return max(1, math.ceil(abs(v).bit_length() * math.log10(2)))


def _bool_leaf(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise InvalidInput(f"{where} must be true or false (DT_BOOL), got {kind_of(v)}.")
    return v


def _np_dtype(dtype: str) -> Any:
    return _decoded(dtype)[1] or np.bool_


def _is_b64(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and "b64" in v


# -- encoding ---------------------------------------------------------------------------


def _jsonable(name: str, arr: np.ndarray) -> Any:
    if arr.dtype.kind in "OSU":
        as_b64 = name.endswith("_bytes")  # TF Serving writes only these as {"b64": ...}
        return _map_nested(arr.tolist(), lambda s: _string_out(s, as_b64))
    return np.ascontiguousarray(arr)


def _string_out(s: Any, as_b64: bool) -> Any:
    if isinstance(s, str):
        s = s.encode()
    if as_b64:
        return {"b64": base64.b64encode(s).decode("ascii")}
    return s.decode("utf-8", "replace")


def _map_nested(value: Any, fn: Any) -> Any:
    if isinstance(value, list):
        return [_map_nested(v, fn) for v in value]
    return fn(value)
