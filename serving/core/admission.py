"""Admission by time: a request runs its model only while that still serves its client.

Queues are bounded by how long a request has waited, not by how many wait: a request that
waited longer than `max_queue_wait_s` since its transport had it whole (for a thread, for
its batch) is refused with 503 `UNAVAILABLE` and `Retry-After` before it reaches the model,
as Triton's queue policy refuses requests queued past `default_timeout_microseconds`
(`timeout_action: REJECT`) and TF Serving refuses batches beyond `max_enqueued_batches`.
Under overload the requests that are admitted are then answered in time, and the model's
capacity goes to them instead of to answers nobody waits for. Work whose deadline passed
(the client's gRPC deadline or `X-Envoy-Expected-Rq-Timeout-Ms`, capped by
request_timeout_s) or whose client has gone (closed its connection, cancelled its call) is
dropped unrun too. The core checks when it has read the request, and the budget and the
deadline again right before the model call (serving/core/service.py,
serving/core/batching.py); every drop is counted in `multihead_shed_requests_total{model,reason}`.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.core.calls import Origin
from serving.errors import Cancelled, Shed


@dataclass(frozen=True)
class Admission:
    max_queue_wait_s: float  # 0: no queue budget (deadlines and departures still count)

    def check(self, origin: Origin, stage: str, departure: bool = True) -> float:
        """The time left to the request's deadline, or the error that drops it unrun;
        `stage` completes "... passed/waited/went away ..." sentences ("before its batch
        ran"). `departure=False` skips asking whether the client has gone: for a REST
        connection that is a system call, and a batch's leader must not make one per
        request it runs (each gives up the GIL, and getting it back can take 5 ms)."""
        if departure and origin.gone is not None and origin.gone():
            raise Cancelled(f"The client went away {stage}; the request was dropped.",
                            shed="client_gone")
        left = origin.deadline.check(stage)
        waited = origin.deadline.waited()
        if self.max_queue_wait_s > 0 and waited > self.max_queue_wait_s:
            raise Shed(f"The gateway is overloaded: the request waited {waited:.2f} s {stage}, "
                       f"longer than its queue budget of {self.max_queue_wait_s:g} s "
                       "(max_queue_wait_s); retry shortly.", shed="queue_time")
        return left
