"""What a protocol's gRPC servicer takes from the transport for each call: its `Origin`
(protocol, transport, deadline: the client's deadline capped by request_timeout_s, and the
call's record, opened by serving/grpc/access.py)."""

from __future__ import annotations

import grpc

from serving import request_context
from serving.config import Settings
from serving.core.calls import Origin
from serving.core.deadline import Deadline


def origin(context: grpc.ServicerContext, settings: Settings, protocol: str) -> Origin:
    record = request_context.current() or request_context.RequestRecord(transport="grpc")
    record.protocol = protocol
    return Origin(protocol, "grpc",
                  Deadline.start(settings.request_timeout_s, context.time_remaining()), record)
