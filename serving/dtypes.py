"""The one dtype table of the gateway: TensorFlow, numpy and every wire format's names.

Every protocol and backend looks a dtype up here instead of keeping its own table:
TF Serving's metadata and TensorProto (`tensorflow/core/framework/types.proto`,
`tensor.proto`), the Open Inference Protocol v2 datatypes and Triton's model-config
types with their gRPC `InferTensorContents` fields (kserve docs/predict-api/v2/
required_api.md "Tensor Data Types"; triton-inference-server/common protobuf/
model_config.proto and grpc_service.proto), and the numpy dtype the core validates
against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DType:
    tf: str                    # TensorFlow's enum name, as TF Serving's metadata spells it
    tf_enum: int               # its number in types.proto
    numpy: Any                 # numpy dtype; `object` (arrays of bytes) for DT_STRING
    kind: str                  # float | int | bool | string: what validation accepts
    oip: str | None = None     # Open Inference Protocol datatype; None: no OIP equivalent
    size: int = 0              # bytes per element on the OIP binary wire; 0 for BYTES
    tensor_proto_field: str = ""   # TensorProto's typed field (when tensor_content is empty)
    oip_contents: str = ""         # InferTensorContents field; "" = raw bytes only (FP16)

    @property
    def triton(self) -> str:
        """Triton's model-configuration type (`TYPE_FP32`; DT_STRING is TYPE_STRING)."""
        return "TYPE_STRING" if self.oip == "BYTES" else f"TYPE_{self.oip}"


_TABLE = (
    DType("DT_FLOAT", 1, np.float32, "float", "FP32", 4, "float_val", "fp32_contents"),
    DType("DT_DOUBLE", 2, np.float64, "float", "FP64", 8, "double_val", "fp64_contents"),
    DType("DT_HALF", 19, np.float16, "float", "FP16", 2, "half_val", ""),
    DType("DT_INT8", 6, np.int8, "int", "INT8", 1, "int_val", "int_contents"),
    DType("DT_INT16", 5, np.int16, "int", "INT16", 2, "int_val", "int_contents"),
    DType("DT_INT32", 3, np.int32, "int", "INT32", 4, "int_val", "int_contents"),
    DType("DT_INT64", 9, np.int64, "int", "INT64", 8, "int64_val", "int64_contents"),
    DType("DT_UINT8", 4, np.uint8, "int", "UINT8", 1, "int_val", "uint_contents"),
    DType("DT_UINT16", 17, np.uint16, "int", "UINT16", 2, "int_val", "uint_contents"),
    DType("DT_UINT32", 22, np.uint32, "int", "UINT32", 4, "uint32_val", "uint_contents"),
    DType("DT_UINT64", 23, np.uint64, "int", "UINT64", 8, "uint64_val", "uint64_contents"),
    DType("DT_BOOL", 10, np.bool_, "bool", "BOOL", 1, "bool_val", "bool_contents"),
    DType("DT_STRING", 7, object, "string", "BYTES", 0, "string_val", "bytes_contents"),
)

BY_TF: dict[str, DType] = {d.tf: d for d in _TABLE}
BY_TF_ENUM: dict[int, DType] = {d.tf_enum: d for d in _TABLE}
BY_OIP: dict[str, DType] = {d.oip: d for d in _TABLE if d.oip}
OIP_DATATYPES: tuple[str, ...] = tuple(BY_OIP)


def tf_name_for_enum(enum: int) -> str:
    """"DT_FLOAT" for 1; a name for dtypes outside the table too (DT_BFLOAT16, ...)."""
    found = BY_TF_ENUM.get(enum)
    if found is not None:
        return found.tf
    from tensorflow.core.framework import types_pb2  # only for the rare odd dtype

    return types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() else str(enum)


def for_numpy(dtype: Any) -> DType | None:
    """The table entry of a numpy dtype (bytes/str/object arrays are DT_STRING)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":
        return BY_TF["DT_STRING"]
    return next((d for d in _TABLE if d.numpy is not object and np.dtype(d.numpy) == dtype),
                None)
