"""A request's deadline: the one rule for how long the gateway may spend on a call.

The budget is the client's own deadline (a gRPC deadline, a REST timeout header) capped by
`request_timeout_s`, counted from when the transport had the whole request (`received`: a
REST request may wait for a thread after that, and that wait counts). A client deadline
that has already passed is refused at once rather than run with a zero budget (the core's
admission check, serving/core/admission.py, inside its counting, so the refusal is counted
like any other). Every transport builds a `Deadline` when a request arrives
(serving/grpc/context.py, serving/rest/context.py) and the core spends it: the batcher's
wait, the runtime call and its retries all read `remaining()`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from serving.errors import DeadlineExceeded


@dataclass(frozen=True)
class Deadline:
    at: float          # time.monotonic() when the request must be answered
    budget_s: float    # what it was given at the start
    received: float = 0.0  # time.monotonic() when the transport had the whole request

    @classmethod
    def start(cls, cap_s: float, client_remaining_s: float | None = None,
              received: float | None = None) -> Deadline:
        """The deadline of a request received at `received` (default now): `cap_s`
        (request_timeout_s), shortened by the client's remaining time when it sent one."""
        now = time.monotonic()
        received = now if received is None else min(received, now)
        budget = cap_s if client_remaining_s is None else min(cap_s, client_remaining_s)
        return cls(received + budget, budget, received)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def waited(self) -> float:
        """Seconds since the request was received."""
        return time.monotonic() - self.received

    def passed(self) -> bool:
        return self.remaining() <= 0

    def check(self, stage: str) -> float:
        """The time left, or DeadlineExceeded saying what the deadline interrupted (a
        request dropped before its model ran: counted as shed for its deadline)."""
        left = self.remaining()
        if left <= 0:
            whose = "client's" if self.budget_s <= 0 else "request"
            raise DeadlineExceeded(f"The {whose} deadline passed {stage}.", shed="deadline")
        return left
