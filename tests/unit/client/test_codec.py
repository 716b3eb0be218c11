"""numpy <-> JSON and numpy <-> multihead.v1.Tensor round trips."""

from __future__ import annotations

import numpy as np
import pytest
from multihead_client import InvalidInput
from multihead_client._codec import (
    as_array,
    dtype_name,
    from_json,
    from_tensor,
    tf_default_dtype,
    to_json,
    to_tensor,
)
from multihead_client._proto import gateway_pb2 as pb

ARRAYS = [
    np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32),
    np.array([1e300, -0.5], dtype=np.float64),
    np.array([[1, 2, 3]], dtype=np.int32),
    np.array([2**40, -1], dtype=np.int64),
    np.array([True, False]),
    np.array(["héllo", "world"], dtype=object),
    np.zeros((0, 3), dtype=np.float32),
]


@pytest.mark.parametrize("arr", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_tensor_round_trip_keeps_dtype_shape_and_values(arr):
    back = from_tensor("x", to_tensor("x", arr))
    assert back.dtype == arr.dtype and back.shape == arr.shape
    assert back.tolist() == arr.tolist()


@pytest.mark.parametrize("arr", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_json_round_trip_keeps_values(arr):
    back = from_json(to_json(arr))
    assert back.tolist() == arr.tolist()


def test_python_values_get_tf_constant_dtypes_for_tensors():
    assert tf_default_dtype(as_array("x", [1.0, 2.0])).dtype == np.float32
    assert tf_default_dtype(as_array("x", [1, 2])).dtype == np.int32
    assert tf_default_dtype(as_array("x", [2**40])).dtype == np.int64
    assert to_tensor("x", tf_default_dtype(as_array("x", [[1.0]]))).dtype == pb.DATA_TYPE_FLOAT32
    # JSON carries Python numbers exactly as given.
    assert to_json(as_array("x", [0.1, 2])) == [0.1, 2.0]


def test_binary_strings_travel_as_b64_and_come_back_as_bytes():
    arr = np.array([b"\xff\x00raw", b"text"], dtype=object)
    assert to_json(arr) == [{"b64": "/wByYXc="}, "text"]
    assert from_json([{"b64": "/wByYXc="}, "text"]).tolist() == [b"\xff\x00raw", "text"]
    t = pb.Tensor(dtype=pb.DATA_TYPE_STRING, shape=[1], string_values=[b"abc"])
    assert from_tensor("image_bytes", t).tolist() == [b"abc"]  # *_bytes stays bytes
    assert from_tensor("label", t).tolist() == ["abc"]


def test_bad_values_are_invalid_input():
    with pytest.raises(InvalidInput, match="ragged"):
        as_array("ids", [[1, 2], [3]])
    with pytest.raises(InvalidInput, match="mixes types"):
        as_array("x", np.array([1, "a"], dtype=object))
    with pytest.raises(InvalidInput, match="cannot be sent"):
        to_tensor("x", np.array([1 + 2j]))


def test_dtype_names():
    assert [dtype_name(n) for n in ("DT_FLOAT", "DT_STRING", "DATA_TYPE_INT32", "DT_DOUBLE")] \
        == ["float32", "string", "int32", "float64"]
