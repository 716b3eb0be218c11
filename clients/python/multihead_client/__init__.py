"""multihead-client: the Python SDK for the multihead gateway, over HTTP or gRPC.

    from multihead_client import Client
    with Client("http://127.0.0.1:8000") as mh:      # or "grpc://127.0.0.1:9000"
        mh.similarity("How old are you?", "What is your age?")   # -> 0.93
        mh.profile(["I love hiking", "Mortgage rates again..."])  # -> Profile(age=..., ...)

`AsyncClient` has the same methods as coroutines. Every error is a
`MultiheadError`, whichever transport carried the call:

    MultiheadError                 .message (the server's), .code (gRPC code name), .status
    ├── InvalidInput               INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE / 400;
    │                              also raised before sending for obvious mistakes (a ValueError)
    ├── PayloadTooLarge            413 / message over the size limit
    ├── Unauthenticated            UNAUTHENTICATED / 401
    ├── PermissionDenied           PERMISSION_DENIED / 403
    ├── ModelNotFound              NOT_FOUND / 404
    ├── Overloaded                 RESOURCE_EXHAUSTED / 429   (retried, honouring Retry-After)
    ├── Unavailable                UNAVAILABLE / 503, unreachable server (retried)
    ├── DeadlineExceeded           DEADLINE_EXCEEDED / 504, client-side timeout
    ├── Unimplemented              UNIMPLEMENTED / 501
    └── ServerError                INTERNAL, UNKNOWN, any other failure / 5xx
"""

from __future__ import annotations

from ._client import AsyncClient, Client
from ._errors import (
    DeadlineExceeded,
    InvalidInput,
    ModelNotFound,
    MultiheadError,
    Overloaded,
    PayloadTooLarge,
    PermissionDenied,
    ServerError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from ._types import (
    Answer,
    Head,
    LabelProbability,
    ModelInfo,
    ModelMetadata,
    ModelVersion,
    Profile,
    ScoredAnswer,
    SignatureInfo,
    TensorSpec,
)

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AsyncClient",
    "Client",
    "DeadlineExceeded",
    "Head",
    "InvalidInput",
    "LabelProbability",
    "ModelInfo",
    "ModelMetadata",
    "ModelNotFound",
    "ModelVersion",
    "MultiheadError",
    "Overloaded",
    "PayloadTooLarge",
    "PermissionDenied",
    "Profile",
    "ScoredAnswer",
    "ServerError",
    "SignatureInfo",
    "TensorSpec",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "__version__",
]
