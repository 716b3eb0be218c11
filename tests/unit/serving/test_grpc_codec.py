"""multihead.v1.Tensor ⇄ numpy (serving/protocols/multihead/codec.py) and errors -> gRPC status
(serving/grpc/status.py)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from serving import errors
from serving.grpc import status
from serving.protocols.multihead import codec
from serving.protocols.multihead._gen import gateway_pb2 as pb

DT = pb.DataType


@pytest.mark.parametrize("array", [
    np.array([[1.5, -2.25], [3.0, 4.0]], dtype=np.float32),
    np.array([1e300, -0.5], dtype=np.float64),
    np.array([[1, -2, 3]], dtype=np.int32),
    np.array([2**40, -1], dtype=np.int64),
    np.array([True, False, True]),
    np.array([b"caf\xc3\xa9", b"", b"\x00\xff"], dtype=object),
    np.array(7.0, dtype=np.float32),                    # scalar: shape []
    np.zeros((0, 5), dtype=np.float32),                 # empty batch
])
def test_round_trip_keeps_dtype_shape_and_values(array: np.ndarray) -> None:
    wire = pb.Tensor.FromString(codec.to_tensor(array).SerializeToString())
    back = codec.to_numpy(wire)
    assert back.shape == array.shape
    assert back.dtype == array.dtype
    assert back.tolist() == array.tolist()


def test_encoding_picks_the_wire_dtype_and_field() -> None:
    t = codec.to_tensor(np.array([["a", "é"]]))  # numpy unicode -> UTF-8 bytes
    assert (t.dtype, list(t.shape), list(t.string_values)) == (
        DT.DATA_TYPE_STRING, [1, 2], [b"a", "é".encode()])
    assert codec.to_tensor(np.array([1, 2], dtype=np.uint8)).dtype == DT.DATA_TYPE_INT32
    assert codec.to_tensor(np.array([1], dtype=np.uint32)).dtype == DT.DATA_TYPE_INT64
    half = codec.to_tensor(np.array([0.5], dtype=np.float16))
    assert (half.dtype, list(half.float_values)) == (DT.DATA_TYPE_FLOAT32, [0.5])


def test_decoded_strings_are_object_arrays_of_bytes() -> None:
    t = pb.Tensor(dtype=DT.DATA_TYPE_STRING, shape=[2], string_values=[b"x", b"yz"])
    array = codec.to_numpy(t)
    assert array.dtype == object and array.tolist() == [b"x", b"yz"]


@pytest.mark.parametrize("tensor, message", [
    (pb.Tensor(shape=[1], float_values=[1.0]), "inputs['x'].dtype must be one of"),
    (pb.Tensor(dtype=DT.DATA_TYPE_FLOAT32, shape=[3], float_values=[1.0, 2.0]),
     "inputs['x'] has shape [3] and needs 3 values in float_values, got 2."),
    (pb.Tensor(dtype=DT.DATA_TYPE_INT32, shape=[1], float_values=[1.0]),
     "must carry its values in int32_values, not float_values."),
    (pb.Tensor(dtype=DT.DATA_TYPE_STRING, shape=[-1], string_values=[b"a"]),
     "inputs['x'].shape must hold non-negative sizes, got [-1]."),
    (pb.Tensor(dtype=99, shape=[1], float_values=[1.0]), "got 99."),
])
def test_bad_tensors_are_invalid_input_naming_the_field(tensor: pb.Tensor, message: str) -> None:
    with pytest.raises(errors.InvalidInput) as info:
        codec.to_numpy(tensor, field="inputs['x']")
    assert message in info.value.message


def test_tensor_info_from_signature_specs() -> None:
    info = codec.tensor_info("DT_INT32", (None, 300))
    assert (info.dtype, list(info.shape), info.unknown_rank) == (DT.DATA_TYPE_INT32, [-1, 300],
                                                                False)
    unknown = codec.tensor_info("DT_STRING", None)
    assert (unknown.dtype, list(unknown.shape), unknown.unknown_rank) == (
        DT.DATA_TYPE_STRING, [], True)
    assert codec.tensor_info("DT_COMPLEX64", ()).dtype == DT.DATA_TYPE_UNSPECIFIED


# -- status mapping: the gRPC column of the REST table ---------------------------------

@pytest.mark.parametrize("error, code, http", [
    (errors.InvalidInput, grpc.StatusCode.INVALID_ARGUMENT, 400),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION, 400),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND, 404),
    (errors.PayloadTooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED, 413),
    (errors.Overloaded, grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED, 401),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE, 503),
    (errors.DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    (errors.Unimplemented, grpc.StatusCode.UNIMPLEMENTED, 501),
    (errors.GatewayError, grpc.StatusCode.INTERNAL, 500),
])
def test_every_gateway_error_has_the_grpc_code_of_its_rest_status(error: type, code: object,
                                                                  http: int) -> None:
    exc = error("x is wrong")
    assert exc.status == http
    assert status.to_status(exc) == (code, "x is wrong")


def test_messages_are_cut_at_1024_chars_like_tf_serving() -> None:
    code, message = status.to_status(errors.InvalidInput("a" * 2000))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert message == "a" * 1024 + "...TRUNCATED"
    assert status.truncate("b" * 1024) == "b" * 1024


def test_a_bug_is_internal_without_leaking_its_text() -> None:
    code, message = status.to_status(KeyError("secret/path"))
    assert code is grpc.StatusCode.INTERNAL and "secret" not in message
