"""One request's identity, and what is learnt of it on its way through the gateway.

A transport opens a `RequestRecord` when a request arrives (REST: serving/rest/access.py,
gRPC: serving/grpc/access.py) and makes it current for the thread that serves it; the
core fills in the model, version, outcome and batch size; the transport closes it with
one access log line (serving/logs.py) and, when tracing is on, the end of its span.
Every log line written while a record is current carries its id (`logs.RequestIdFilter`).

The id is the client's `X-Request-ID` (gRPC metadata `x-request-id`) when it sent a usable
one, else the Open Inference Protocol's own request `id` (`adopt`), else a new random one;
the transports echo it in every answer.
"""

from __future__ import annotations

import os
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

HEADER = "X-Request-ID"
METADATA_KEY = "x-request-id"
MAX_ID_CHARS = 128


def new_id() -> str:
    """A fresh request id: 128 random bits in hex (a W3C trace id's size)."""
    return os.urandom(16).hex()


def usable_id(value: Any) -> str:
    """`value` when it can serve as a request id (1-128 visible ASCII characters, so that it
    fits any log format and header unchanged), else ""."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        return ""
    return value if value.isascii() and value.isprintable() and " " not in value else ""


@dataclass(eq=False)
class RequestRecord:
    """A request's id, trace headers and outcome (the access log line's fields)."""

    id: str = field(default_factory=new_id)
    given: bool = False                 # the client chose the id
    traceparent: str = ""               # W3C trace context as the client sent it
    tracestate: str = ""
    protocol: str = ""
    transport: str = ""
    model: str = ""
    version: str = ""
    code: str = ""                      # gRPC code name of the core's outcome
    batch_size: int = 0                 # examples in the model call it rode in
    started: float = field(default_factory=time.perf_counter)
    transport_bound: bool = False       # a transport closes it (else the core does)
    trace: Any = None                   # serving.tracing.RequestTrace while traced

    @classmethod
    def open(cls, client_id: Any = None, traceparent: str = "", tracestate: str = "",
             transport: str = "") -> RequestRecord:
        """The record of a request a transport just received."""
        rid = usable_id(client_id)
        return cls(id=rid or new_id(), given=bool(rid), traceparent=traceparent or "",
                   tracestate=tracestate or "", transport=transport, transport_bound=True)

    def adopt(self, client_id: Any) -> None:
        """A protocol's own request id (OIP's `id`) names the request when the client sent
        no X-Request-ID."""
        rid = usable_id(client_id)
        if rid and not self.given:
            self.id, self.given = rid, True

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def finish_trace(self) -> None:
        """End the request's span (and its encode span), once; nothing when untraced."""
        trace, self.trace = self.trace, None
        if trace is not None:
            trace.finish(self)


_current: ContextVar[RequestRecord | None] = ContextVar("multihead_request", default=None)


def current() -> RequestRecord | None:
    """The record of the request this thread serves, if any."""
    return _current.get()


def enter(record: RequestRecord) -> Token:
    return _current.set(record)


def leave(token: Token) -> None:
    _current.reset(token)
