"""JSON request and response bodies, for every REST protocol of the gateway.

Requests are parsed strictly (orjson) with TF Serving's leniency for NaN and
Infinity literals; a lone UTF-16 surrogate is rejected. Responses write numpy
arrays directly and NaN / Infinity as literals, as TF Serving's rapidjson does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from serving.errors import InvalidInput

_LONE_SURROGATE = ("The request body is not valid JSON: a string holds a lone UTF-16 "
                   "surrogate escape (such as \\ud800), which is not Unicode text.")


def loads(raw: bytes) -> Any:
    """Parse a request body; NaN and (-)Infinity literals are accepted as TF Serving does.

    A lone surrogate escape (`"\\ud800"`) is rejected, as TF Serving's rapidjson does
    ("The surrogate pair in string is invalid"): such a str cannot be encoded, so it
    must not get past the parser.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "surrogate" in str(exc):
            raise InvalidInput(_LONE_SURROGATE) from None
    # orjson is strict RFC 8259; the stdlib parser also takes NaN/Infinity literals.
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"The request body is not valid JSON ({_short(exc)}).") from None
    if _has_lone_surrogate(body):
        raise InvalidInput(_LONE_SURROGATE)
    return body


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a parsed document holds a str UTF-8 cannot encode (iterative: no depth limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and not item.isprintable():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return False


def dumps(payload: Any, finite: bool | None = None) -> bytes:
    """Serialize a response; numpy arrays and scalars allowed; NaN/Infinity as literals.

    `finite`: the caller checked the payload's numbers already (`all_finite` on whole
    output arrays is one vectorised pass; the generic scan walks every row).
    """
    if finite or (finite is None and not _has_nonfinite(payload)):
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    # orjson would write NaN as null; TF Serving writes the literal (rapidjson
    # kWriteNanAndInfFlag), so clients parsing with NaN support get the value back.
    return json.dumps(payload, default=_to_builtin, allow_nan=True,
                      separators=(",", ":")).encode()


def all_finite(arrays: Iterable[Any]) -> bool:
    """Whether no float array among `arrays` holds NaN or an infinity."""
    return not any(_has_nonfinite(np.asarray(a)) for a in arrays)


# What a value is, in a message: (type, singular, plural). Booleans before integers (a
# bool is an int in Python); numpy scalars as the JSON values they stand for.
_KINDS: tuple[tuple[Any, str, str], ...] = (
    (type(None), "null", "null"),
    ((bool, np.bool_), "a boolean", "booleans"),
    ((int, np.integer), "an integer", "integers"),
    ((float, np.floating), "a number", "numbers"),
    (str, "a string", "strings"),
    (bytes, "bytes", "bytes"),
    ((list, tuple), "a list", "lists"),
    (dict, "an object", "objects"),
)


def kind_of(v: Any, plural: bool = False) -> str:
    """What a decoded value is, for a message naming what was wrong ("got a string")."""
    for types, one, many in _KINDS:
        if isinstance(v, types):
            return many if plural else one
    return type(v).__name__ + (" values" if plural else "")


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."


def _has_nonfinite(obj: Any) -> bool:
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind == "f" and not np.isfinite(obj).all()
    if isinstance(obj, float | np.floating):
        return not math.isfinite(obj)
    if isinstance(obj, dict):
        return any(_has_nonfinite(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(_has_nonfinite(v) for v in obj)
    return False


def _to_builtin(obj: Any) -> Any:
    if isinstance(obj, np.ndarray | np.generic):
        return obj.tolist()
    raise TypeError(f"cannot serialize {type(obj).__name__}")
