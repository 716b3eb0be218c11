"""serving/tensor_proto.py: both encodings of every table dtype read back by TensorFlow's
own `tf.make_ndarray`, and TF's own protos read by the codec."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from serving import dtypes
from serving.errors import InvalidInput
from serving.tensor_proto import array_to_proto, proto_to_array


def _sample(dtype: dtypes.DType) -> np.ndarray:
    if dtype.kind == "string":
        return np.array([[b"a", b"bc"], [b"", b"\xff"]], dtype=object)
    if dtype.kind == "bool":
        return np.array([[True, False], [False, True]])
    return np.array([[1, 2], [3, 4]], dtype=dtype.numpy) * (1.5 if dtype.kind == "float" else 1)


@pytest.mark.parametrize("typed", [False, True], ids=["tensor_content", "typed_fields"])
@pytest.mark.parametrize("dtype", list(dtypes.BY_TF.values()), ids=lambda d: d.tf)
def test_round_trip_through_tensorflow(dtype: dtypes.DType, typed: bool) -> None:
    array = _sample(dtype).astype(dtype.numpy) if dtype.kind != "string" else _sample(dtype)
    proto = array_to_proto(array, typed_fields=typed)
    assert proto.dtype == dtype.tf_enum
    if typed and dtype.kind != "string":
        assert not proto.tensor_content and len(getattr(proto, dtype.tensor_proto_field)) == 4
    back = tf.make_ndarray(proto)
    assert back.shape == (2, 2) and back.tolist() == array.tolist()
    assert proto_to_array(proto).tolist() == array.tolist()


def test_reads_tensorflows_own_protos_and_fills_map_entries() -> None:
    from tensorflow_serving.apis import predict_pb2

    proto = tf.make_tensor_proto([[0.5, 1.5, 2.5]], dtype=tf.float32)
    np.testing.assert_array_equal(proto_to_array(proto), np.array([[0.5, 1.5, 2.5]], np.float32))
    response = predict_pb2.PredictResponse()
    array_to_proto(np.array([7, 8], np.int64), typed_fields=True, out=response.outputs["y"])
    assert list(response.outputs["y"].int64_val) == [7, 8]
    assert tf.make_ndarray(response.outputs["y"]).tolist() == [7, 8]
    proto.tensor_content = b"\0" * 5
    with pytest.raises(InvalidInput, match=r"inputs\['x'\].tensor_content has 5 bytes"):
        proto_to_array(proto, "inputs['x']")
