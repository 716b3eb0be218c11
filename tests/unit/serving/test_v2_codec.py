"""The v2 codec and config on their own: every wire format round-trips every datatype of
the dtype table, and malformed tensors are InvalidInput naming the field."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from serving.dtypes import BY_OIP
from serving.errors import InvalidInput
from serving.protocols.v2 import codec, config
from serving.types import ModelVersion, SignatureSpec, TensorSpec

_VALUES = {"bool": [True, False, True, True, False, False], "float": [0.5, -2.0, 3.25, 0, 1, 7],
           "int": [1, 2, 3, 4, 5, 6], "string": [b"a", b"", b"\xff\x00", b"ccc", b"d", b"e"]}


def _array(dt_oip: str) -> np.ndarray:
    dt = BY_OIP[dt_oip]
    values = _VALUES[dt.kind]
    if dt.kind == "string":
        arr = np.empty(6, dtype=object)
        arr[:] = values
        return arr.reshape(2, 3)
    return np.array(values, dtype=dt.numpy).reshape(2, 3)


@pytest.mark.parametrize("dt_oip", sorted(BY_OIP))
def test_raw_round_trip(dt_oip: str) -> None:
    arr = _array(dt_oip)
    back = codec.from_raw(codec.to_raw(arr, dt_oip), BY_OIP[dt_oip], (2, 3), "inputs[0]")
    assert back.shape == (2, 3)
    assert back.tolist() == arr.tolist()
    if dt_oip != "BYTES":
        assert back.dtype == arr.dtype


def test_bytes_are_length_prefixed_little_endian() -> None:
    arr = np.array([b"ab", b""], dtype=object)
    assert codec.to_raw(arr, "BYTES") == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 0)
    assert codec.to_raw(np.array([1.0], np.float32), "FP32") == struct.pack("<f", 1.0)


@pytest.mark.parametrize("dt_oip", [d for d in sorted(BY_OIP) if d not in ("BYTES",)])
def test_json_flat_and_nested(dt_oip: str) -> None:
    arr = _array(dt_oip)
    dt = BY_OIP[dt_oip]
    flat = codec.from_json(arr.ravel().tolist(), dt, (2, 3), "inputs[0].data")
    nested = codec.from_json(arr.tolist(), dt, (2, 3), "inputs[0].data")
    assert flat.tolist() == nested.tolist() == arr.tolist()
    assert codec.to_json(flat, dt_oip, "x") == arr.ravel().tolist()


def test_json_bytes_are_utf8_text() -> None:
    got = codec.from_json(["café", "x"], BY_OIP["BYTES"], (2,), "inputs[1].data")
    assert got.tolist() == ["café".encode(), b"x"]
    assert codec.to_json(got, "BYTES", "outputs 'y'") == ["café", "x"]
    with pytest.raises(InvalidInput, match="outputs 'y' holds bytes that are not UTF-8"):
        codec.to_json(np.array([b"\xff"], dtype=object), "BYTES", "outputs 'y'")
    with pytest.raises(InvalidInput, match=r"inputs\[1\].data\[0\] is not valid UTF-8"):
        codec.from_json(["\ud800"], BY_OIP["BYTES"], (1,), "inputs[1].data")


@pytest.mark.parametrize("call,message", [
    (lambda: codec.from_json([1, 2, 3], BY_OIP["FP32"], (2, 2), "inputs[0].data"),
     r"inputs\[0\].data holds 3 elements but shape \[2, 2\] needs 4"),
    (lambda: codec.from_json([1, True], BY_OIP["INT32"], (2,), "inputs[0].data"),
     r"inputs\[0\].data\[1\] must be an integer \(INT32\), got a boolean"),
    (lambda: codec.from_json([1.5], BY_OIP["INT8"], (1,), "inputs[0].data"),
     r"inputs\[0\].data\[0\] must be an integer"),
    (lambda: codec.from_json([300], BY_OIP["INT8"], (1,), "inputs[0].data"),
     r"outside the INT8 range"),
    (lambda: codec.from_json([1e300], BY_OIP["FP32"], (1,), "inputs[0].data"),
     r"too large for FP32"),
    (lambda: codec.from_json([1], BY_OIP["BOOL"], (1,), "inputs[0].data"),
     r"must be a boolean"),
    (lambda: codec.from_json([[[[1]]]] * 1, BY_OIP["FP32"], (2,), "inputs[0].data"),
     r"holds 1 elements"),
    (lambda: codec.from_raw(b"\x00" * 7, BY_OIP["FP32"], (2,), "inputs[0] binary data"),
     r"inputs\[0\] binary data has 7 bytes but shape \[2\] of FP32 needs 8"),
    (lambda: codec.from_raw(struct.pack("<I", 5) + b"ab", BY_OIP["BYTES"], (1,), "r[0]"),
     r"r\[0\] BYTES element 0 claims 5 bytes but only 2 remain"),
    (lambda: codec.from_raw(b"\x01\x00", BY_OIP["BYTES"], (1,), "r[0]"),
     r"r\[0\] ends before BYTES element 0"),
    (lambda: codec.from_raw(struct.pack("<I", 0) + b"zz", BY_OIP["BYTES"], (1,), "r[0]"),
     r"r\[0\] has 2 bytes after its 1 BYTES elements"),
    (lambda: codec.check_shape([2, -1], "inputs[0].shape"), r"inputs\[0\].shape must be"),
    (lambda: codec.check_shape("2", "inputs[0].shape"), r"inputs\[0\].shape must be"),
    (lambda: codec.check_shape([2**62, 0], "inputs[0].shape"),
     r"inputs\[0\].shape \[.*\] claims more than"),
    (lambda: codec.from_json([], codec.BY_OIP["FP32"],
                             codec.check_shape([2**62, 0], "inputs[0].shape"), "inputs[0].data"),
     r"claims more than"),
    (lambda: codec.from_raw(b"", BY_OIP["FP32"], (2**40, 2**40), "inputs[0]"),
     r"claims \d+ elements"),
    (lambda: codec.dtype_for("FP33", "inputs[0].datatype"), r"inputs\[0\].datatype 'FP33'"),
    (lambda: codec.dtype_for(None, "inputs[0].datatype"), r"inputs\[0\].datatype must be"),
])
def test_bad_tensors_name_the_field(call, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()


def test_deep_nesting_is_refused() -> None:
    data: list = [1.0]
    for _ in range(40):
        data = [data]
    with pytest.raises(InvalidInput, match="nested deeper"):
        codec.from_json(data, BY_OIP["FP32"], (1,), "inputs[0].data")


def _version(signature: SignatureSpec) -> ModelVersion:
    return ModelVersion("m", 3, {signature.name: signature})


def test_config_drops_the_batch_dim_and_uses_the_setting() -> None:
    sig = SignatureSpec("serving_default",
                        {"text": TensorSpec("text", "DT_STRING", (None,)),
                         "aux": TensorSpec("aux", "DT_FLOAT", (None, 5))},
                        {"p": TensorSpec("p", "DT_FLOAT", (None, None))})
    doc = config.config_json(config.model_config(_version(sig), sig, 32))
    assert doc["max_batch_size"] == 32 and doc["platform"] == "tensorflow_savedmodel"
    inputs = {i["name"]: i for i in doc["input"]}
    assert inputs["aux"]["dims"] == [5] and inputs["aux"]["data_type"] == "TYPE_FP32"
    assert inputs["text"]["dims"] == [1] and inputs["text"]["reshape"] == {"shape": []}
    assert inputs["text"]["data_type"] == "TYPE_STRING"
    assert doc["output"][0]["dims"] == [-1]
    meta = config.metadata(_version(sig), [1, 3], sig)
    assert meta["versions"] == ["1", "3"]
    assert meta["inputs"] == [{"name": "aux", "datatype": "FP32", "shape": [-1, 5]},
                              {"name": "text", "datatype": "BYTES", "shape": [-1, 1]}]


def test_config_without_a_batch_dim_has_max_batch_size_zero() -> None:
    sig = SignatureSpec("serving_default", {"x": TensorSpec("x", "DT_INT32", (3,))},
                        {"y": TensorSpec("y", "DT_INT32", None)})
    doc = config.config_json(config.model_config(_version(sig), sig, 32))
    assert doc["max_batch_size"] == 0
    assert doc["input"][0]["dims"] == [3] and doc["output"][0]["dims"] == [-1]


def test_openapi_lists_v2_routes_only_when_v2_is_mounted() -> None:
    from openapi_spec_validator import validate

    from serving.config import Settings
    from serving.protocols import rooms
    from serving.rest.openapi import build_openapi

    doc = build_openapi(Settings(), rooms(()), model_names=["qa"])
    validate(doc)
    assert "/v2/models/{model_name}/versions/{version}/infer" in doc["paths"]
    mounted = ("tfserving", "multihead")
    without = build_openapi(Settings(protocols=mounted), rooms(mounted), model_names=["qa"])
    validate(without)
    assert not [p for p in without["paths"] if p.startswith("/v2")]
