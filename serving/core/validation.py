"""Check named arrays against a signature (and the model card) before the model runs.

`build_plan` turns one signature of one loaded version into a `SignaturePlan`
once (the service caches it per version): numpy target dtypes, shapes, which id
inputs the card declares as padded sequences, and the token limits. `validate`
is then the per-request hot path. Every failure is an `InvalidInput` whose
message is one sentence naming the field and what was expected.

Text longer than an input's `max_tokens` is not rejected: the exported graph
truncates it (docs/model-repository.md). Token-id sequences longer than
`max_tokens` are rejected, since the client built them for another model, and so
are ids outside [0, vocab_size) (the card's `id_inputs[].vocab_size`, or the
vocabulary of the text input of the same name): the graph would quietly map them
to out-of-vocabulary and answer as if the request were fine.

`checked_shape` is the one check of a shape a client claims on the wire (every
gRPC codec calls it before it allocates anything).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from serving import dtypes
from serving.core.calls import OutputFilter
from serving.errors import InvalidInput, quote
from serving.jsonio import kind_of
from serving.types import InputCard, ModelCard, ModelVersion, SignatureSpec

# The gateway's limits on a tensor, whatever the wire: a wire shape may claim at most
# MAX_CLAIMED_ELEMENTS elements (zero-sized dims aside: numpy refuses ("array is too
# big") shapes whose byte size overflows, long before this), and a tensor (or the nesting
# of a JSON list) has at most MAX_RANK dimensions, which stops well before Python's
# recursion limit. Every codec reads them from here.
MAX_CLAIMED_ELEMENTS = 2**31 - 1
MAX_RANK = 32

_NUMPY_DTYPES: dict[str, Any] = {d.tf: d.numpy for d in dtypes.BY_TF.values()}
_WHAT = {"string": "strings", "float": "numbers", "int": "integers",
         "bool": "booleans (true/false)"}


@dataclass(frozen=True)
class InputPlan:
    name: str
    dtype: str                       # TF enum name, DT_FLOAT ...
    kind: str                        # string | float | int | bool | unsupported
    np_dtype: Any
    shape: tuple[int | None, ...] | None
    padded: bool = False             # ragged id rows allowed, padded with 0
    max_tokens: int | None = None
    vocab_size: int | None = None    # token ids must lie in [0, vocab_size)

    @property
    def shape_text(self) -> str:
        if self.shape is None:
            return "any shape"
        dims = ["batch" if i == 0 and d is None else ("length" if d is None else str(d))
                for i, d in enumerate(self.shape)]
        return "[" + ", ".join(dims) + "]"


@dataclass(frozen=True)
class SignaturePlan:
    model: str
    version: int
    signature: str
    spec: SignatureSpec
    inputs: Mapping[str, InputPlan]
    outputs: tuple[str, ...]
    batchable: bool                  # every input and output has a free leading batch dim

    @cached_property
    def padded(self) -> frozenset[str]:
        """Inputs of right-padded id sequences (merged batches pad them to one length)."""
        return frozenset(n for n, ip in self.inputs.items() if ip.padded)


@dataclass(frozen=True)
class Validated:
    arrays: dict[str, np.ndarray]
    batch_size: int | None           # None when the signature has no batch dimension
    shape_key: tuple                 # trailing dims of the non-padded inputs (batch merge key)


def _kind(dtype: str) -> str:
    found = dtypes.BY_TF.get(dtype)
    return found.kind if found is not None else "unsupported"


def build_plan(mv: ModelVersion, spec: SignatureSpec) -> SignaturePlan:
    card = mv.card or ModelCard()
    inputs = {}
    for name, t in spec.inputs.items():
        kind = _kind(t.dtype)
        info = (card.id_inputs if kind == "int" else card.inputs).get(name) or InputCard(name)
        padded = info.padded_sequence and kind == "int" and t.shape is not None \
            and len(t.shape) == 2
        inputs[name] = InputPlan(name, t.dtype, kind, _NUMPY_DTYPES.get(t.dtype), t.shape,
                                 padded, info.max_tokens,
                                 _vocab_size(kind, info, card.inputs.get(name)))
    return SignaturePlan(mv.name, mv.version, spec.name, spec, inputs,
                         tuple(sorted(spec.outputs)), spec.batchable)


def _vocab_size(kind: str, id_card: InputCard, text_card: InputCard | None) -> int | None:
    """The vocabulary an id input indexes: the card's `id_inputs[].vocab_size`; cards
    exported before that field carry it on the text input of the same name."""
    if kind != "int" or not id_card.padded_sequence:
        return None
    return id_card.vocab_size or (text_card.vocab_size if text_card else None)


def checked_shape(field: str, dims: Sequence[int], n_values: int | None = None,
                  shape_field: str = "shape") -> tuple:
    """A client-claimed tensor shape, checked before anything is allocated for it.

    `n_values`: how many values came with it (None: not known yet); `shape_field`: the
    wire name of the shape (TensorProto's is `tensor_shape`). Sizes must be
    non-negative, the rank at most MAX_RANK, and the dims (zeros aside) may multiply
    to at most MAX_CLAIMED_ELEMENTS; a shape of [2**62, 0] holds no values but numpy
    still refuses it.
    """
    shape = tuple(int(d) for d in dims)
    if len(shape) > MAX_RANK:
        raise InvalidInput(f"{field} has rank {len(shape)}; at most {MAX_RANK} dimensions are "
                           "accepted.")
    if any(d < 0 for d in shape):
        raise InvalidInput(f"{field}.{shape_field} must hold non-negative sizes, got "
                           f"{list(shape)}.")
    claimed = math.prod(d for d in shape if d)
    if claimed > MAX_CLAIMED_ELEMENTS:
        raise InvalidInput(f"{field}.{shape_field} {_short_dims(shape)} claims more than "
                           f"{MAX_CLAIMED_ELEMENTS} elements.")
    expected = math.prod(shape)
    if n_values is not None and n_values != expected:
        raise InvalidInput(f"{field} has shape {list(shape)} and needs {expected} values, got "
                           f"{n_values}.")
    return shape


def _short_dims(shape: tuple[int, ...]) -> str:
    text = str(list(shape))
    return text if len(text) <= 120 else text[:117] + "...]"


def resolve_filter(plan: SignaturePlan, flt: OutputFilter) -> tuple[str, ...]:
    """The outputs to compute and answer for an output filter (every output when empty):
    each name must be an output of the signature; a repeat is dropped or rejected, and a
    head `H` brings its `H_label` output along, as the filter says."""
    if not flt.names:
        return ()
    chosen: dict[str, None] = {}
    for i, name in enumerate(flt.names):
        if name not in plan.spec.outputs:
            raise InvalidInput(flt.wording.unknown(i, name, plan))
        if name in chosen and not flt.allow_duplicates:
            raise InvalidInput(flt.wording.duplicate(i, name))
        chosen[name] = None
        if flt.with_labels and name + "_label" in plan.spec.outputs:
            chosen[name + "_label"] = None
    return tuple(sorted(chosen))


def validate(plan: SignaturePlan, inputs: Mapping[str, Any], max_batch_size: int) -> Validated:
    """Converted, checked arrays for `plan`, or InvalidInput naming the first bad field."""
    expected = ", ".join(plan.inputs)
    for name in inputs:
        if name not in plan.inputs:
            raise InvalidInput(f"Unknown input {quote(name)} for model '{plan.model}' signature "
                               f"'{plan.signature}'; expected: {expected}.")
    for name in plan.inputs:
        if name not in inputs:
            raise InvalidInput(f"Missing input '{name}' for model '{plan.model}' signature "
                               f"'{plan.signature}'; expected: {expected}.")
    arrays: dict[str, np.ndarray] = {}
    sizes: dict[str, int] = {}
    for name, ip in plan.inputs.items():
        arr = _convert(ip, inputs[name])
        arrays[name] = arr
        if ip.shape is not None and len(ip.shape) >= 1 and ip.shape[0] is None:
            sizes[name] = arr.shape[0]
    for name, n in sizes.items():
        if n == 0:
            raise InvalidInput(f"Input '{name}' is empty; at least one example is needed.")
        if n > max_batch_size:
            raise InvalidInput(f"Input '{name}' has {n} examples; at most {max_batch_size} "
                               "(max_batch_size) are accepted per request.")
    if len(set(sizes.values())) > 1:
        detail = ", ".join(f"'{k}' has {v}" for k, v in sizes.items())
        raise InvalidInput(f"Inputs must have the same batch size; {detail}.")
    shape_key = tuple((k, a.shape[1:]) for k, a in arrays.items() if not plan.inputs[k].padded)
    batch = next(iter(sizes.values())) if sizes and len(sizes) == len(arrays) else None
    return Validated(arrays, batch, shape_key)


def _convert(ip: InputPlan, value: Any) -> np.ndarray:
    if ip.kind == "unsupported":
        raise InvalidInput(f"Input '{ip.name}' has dtype {ip.dtype}, which the gateway cannot "
                           "feed.")
    if ip.padded and not isinstance(value, np.ndarray) or (
            ip.padded and value.dtype == object and value.ndim == 1):
        arr = _pad_rows(ip, value)
    else:
        try:
            if isinstance(value, np.ndarray):
                arr = value
            elif ip.kind == "string":  # np.asarray would turn [b"a", 3] into strings
                arr = np.array(value, dtype=object)
            else:
                arr = np.asarray(value)
        except ValueError:  # numpy refuses ragged nested lists
            arr = None
        if arr is None or (arr.dtype == object and any(
                isinstance(x, (list, tuple, np.ndarray)) for x in arr.ravel())):
            raise InvalidInput(f"Input '{ip.name}' is ragged; every example must have shape "
                               f"{ip.shape_text} with equal lengths.")
    arr = _cast(ip, arr)
    _check_shape(ip, arr)
    if ip.padded and ip.max_tokens and arr.ndim == 2 and arr.shape[1] > ip.max_tokens:
        nonzero = np.nonzero(arr)[1]
        longest = int(nonzero.max()) + 1 if nonzero.size else 0
        if longest > ip.max_tokens:
            raise InvalidInput(f"Input '{ip.name}' has a sequence of {longest} tokens; at most "
                               f"{ip.max_tokens} (max_tokens) are accepted.")
    if ip.vocab_size is not None and arr.size:
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high >= ip.vocab_size:
            bad = low if low < 0 else high
            raise InvalidInput(f"Input '{ip.name}' holds token id {bad}, outside the vocabulary; "
                               f"ids must be in [0, {ip.vocab_size}) (vocab_size of the model "
                               "card).")
    return arr


def _pad_rows(ip: InputPlan, value: Any) -> np.ndarray:
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise InvalidInput(f"Input '{ip.name}' must be a list of token-id sequences.")
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, (list, tuple, np.ndarray)):
            raise InvalidInput(f"Input '{ip.name}' must be a list of token-id sequences; "
                               f"example {i} is not a list.")
        rows.append(_cast(ip, np.asarray(row) if len(row) else np.zeros(0, np.int64)))
        if rows[-1].ndim != 1:
            raise InvalidInput(f"Input '{ip.name}' must be a list of token-id sequences; "
                               f"example {i} is nested deeper.")
    width = max([len(r) for r in rows] + [1])
    out = np.zeros((len(rows), width), dtype=ip.np_dtype)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def _offender(ip: InputPlan, x: Any) -> bool:
    if ip.kind == "string":
        return not isinstance(x, (str, bytes))
    if isinstance(x, (bool, np.bool_)):
        return ip.kind != "bool"
    return ip.kind == "bool" or not isinstance(x, (int, float, np.number))


def _describe(ip: InputPlan, arr: np.ndarray) -> str:
    kind = arr.dtype.kind
    if kind in "US":
        return "strings"
    if kind == "b":
        return "booleans"
    if kind in "iu":
        return "integers"
    if kind == "f":
        return "numbers with a fraction" if np.isfinite(arr).all() else "NaN or infinity"
    sample = next((x for x in arr.ravel() if _offender(ip, x)), None)
    return kind_of(sample, plural=True)


def _wrong_type(ip: InputPlan, arr: np.ndarray) -> InvalidInput:
    return InvalidInput(f"Input '{ip.name}' must hold {_WHAT[ip.kind]} ({ip.dtype}); "
                        f"got {_describe(ip, arr)}.")


def _cast(ip: InputPlan, arr: np.ndarray) -> np.ndarray:
    """`arr` as the input's dtype. An array a codec already built with that dtype passes
    as it is (its values were checked while they were decoded): only finiteness is left
    to check for floats, which the JSON codecs accept as TF Serving does."""
    kind = arr.dtype.kind
    if ip.kind == "string":
        if kind == "U":
            return _to_object(arr, lambda s: _utf8(ip, s))
        if kind == "S":
            return arr.astype(object)
        if kind == "O":
            if all(isinstance(x, bytes) for x in arr.ravel()):
                return arr
            if all(isinstance(x, (str, bytes)) for x in arr.ravel()):
                return _to_object(arr, lambda s: _utf8(ip, s) if isinstance(s, str) else s)
        raise _wrong_type(ip, arr)
    if arr.dtype == ip.np_dtype:
        if kind == "f" and not np.isfinite(arr).all():
            raise InvalidInput(f"Input '{ip.name}' must hold finite numbers; got NaN or "
                               "infinity.")
        return arr
    if ip.kind == "bool":
        if kind == "b":
            return arr
        raise _wrong_type(ip, arr)
    if kind == "O":  # mixed ints and floats from JSON, say; never bools or strings
        if any(_offender(ip, x) for x in arr.ravel()):
            raise _wrong_type(ip, arr)
        try:
            arr = arr.astype(np.float64)
        except OverflowError:  # a Python int of hundreds of digits
            raise InvalidInput(f"Input '{ip.name}' holds an integer too large for "
                               f"{ip.dtype}.") from None
        kind = "f"
    if kind not in "iuf":
        raise _wrong_type(ip, arr)
    if ip.kind == "float":
        with np.errstate(over="ignore"):  # an overflow to inf is reported just below
            out = arr.astype(ip.np_dtype)
        if kind == "f" and not np.isfinite(out).all():
            raise InvalidInput(f"Input '{ip.name}' must hold finite numbers; got NaN or "
                               "infinity.")
        return out
    if kind == "f" and not (np.isfinite(arr).all() and (np.mod(arr, 1) == 0).all()):
        raise _wrong_type(ip, arr)
    info = np.iinfo(ip.np_dtype)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise InvalidInput(f"Input '{ip.name}' holds values outside the {ip.dtype} range "
                           f"[{info.min}, {info.max}].")
    return arr.astype(ip.np_dtype, copy=False)


def _utf8(ip: InputPlan, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") from a lenient JSON parser
        raise InvalidInput(f"Input '{ip.name}' holds a lone UTF-16 surrogate, which is not "
                           "Unicode text.") from None


def _to_object(arr: np.ndarray, fn: Any) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, x in enumerate(arr.reshape(-1)):
        flat[i] = fn(x if isinstance(x, (str, bytes)) else str(x))
    return out


def _check_shape(ip: InputPlan, arr: np.ndarray) -> None:
    if ip.shape is None:
        return
    ok = arr.ndim == len(ip.shape) and all(
        want is None or want == got for want, got in zip(ip.shape, arr.shape, strict=True))
    if not ok:
        got = "a single value" if arr.ndim == 0 else "[" + ", ".join(map(str, arr.shape)) + "]"
        raise InvalidInput(f"Input '{ip.name}' must have shape {ip.shape_text}; got {got}.")
