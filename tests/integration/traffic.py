"""Client-side load for the reliability scenarios: concurrent REST and gRPC predictions
against a running gateway, every call recorded with its start, end and outcome.

Some REST clients keep their connection alive (as httpx does), so a client stays on one
worker; others open a fresh connection per request, so that every worker that accepts
gets some of the traffic. Likewise some gRPC clients hold one channel, others open a
channel per call (each lands on whichever worker's SO_REUSEPORT socket the kernel picks).
`in_flight()` counts the calls started and not yet answered, at the instant it is
called, which is how a scenario bounds what a killed worker may take with it. A scenario
waits on events, never on the clock: `wait_busy()` (every client has had an answer),
`wait_for_answers(n)` (n more calls answered), `wait_for_in_flight(n)`.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import httpx
import numpy as np

from serving.protocols.multihead import codec
from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.multihead._gen import gateway_pb2_grpc
from tests.integration.conftest import SAMPLES

CALL_TIMEOUT_S = 15.0
FAILURE_PAUSE_S = 0.02
# What the clients ask for: several models, so a worker that has loaded only some of
# them is caught too.
REST_CALLS = (
    ("/v1/models/profiler:predict", {"instances": SAMPLES["profiler"]["posts"][:2]}),
    ("/v1/models/similarity:predict", {"inputs": {"left": SAMPLES["similarity"]["left"][:2],
                                                  "right": SAMPLES["similarity"]["right"][:2]}}),
    ("/v1/models/qa:predict", {"instances": [{"text": SAMPLES["qa"]["text"][0],
                                              "question": SAMPLES["qa"]["question"][0]}]}),
)


TRAFFIC_MODELS = ("profiler", "similarity", "qa")


def grpc_requests() -> list[pb.PredictRequest]:
    profiler = pb.PredictRequest(model_spec=pb.ModelSpec(name="profiler"))
    codec.to_tensor(np.array([s.encode() for s in SAMPLES["profiler"]["posts"][:2]],
                             dtype=object), out=profiler.inputs["posts"])
    similarity = pb.PredictRequest(model_spec=pb.ModelSpec(name="similarity"))
    for side in ("left", "right"):
        codec.to_tensor(np.array([s.encode() for s in SAMPLES["similarity"][side][:1]],
                                 dtype=object), out=similarity.inputs[side])
    return [profiler, similarity]


@dataclass(frozen=True)
class Outcome:
    protocol: str  # "rest" or "grpc"
    start: float
    end: float
    kind: str  # "ok", or what failed: "503 <message>", "UNAVAILABLE <details>", "ConnectError"

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


class Traffic:
    """Runs the clients from `start()` until `stop()`; thread-safe record of every call."""

    def __init__(self, http_url: str, grpc_target: str, rest_clients: int = 2,
                 fresh_rest_clients: int = 2, grpc_clients: int = 2,
                 fresh_grpc_clients: int = 1, pause_s: float = 0.0,
                 headers: dict[str, str] | None = None,
                 metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self._http_url = http_url
        self._grpc_target = grpc_target
        self._headers = headers or {}
        self._metadata = metadata
        self._pause_s = pause_s
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a call began or was answered
        self._active: dict[int, float] = {}
        self._unsent: set[int] = set()  # REST calls begun whose request is not yet sent
        self._answered_by: collections.Counter[str] = collections.Counter()
        self._ids = itertools.count()
        self._stop = threading.Event()
        self.outcomes: list[Outcome] = []
        self._threads = (
            [threading.Thread(target=self._rest_loop, args=(True,), daemon=True)
             for _ in range(rest_clients)]
            + [threading.Thread(target=self._rest_loop, args=(False,), daemon=True)
               for _ in range(fresh_rest_clients)]
            + [threading.Thread(target=self._grpc_loop, args=(True,), daemon=True)
               for _ in range(grpc_clients)]
            + [threading.Thread(target=self._grpc_loop, args=(False,), daemon=True)
               for _ in range(fresh_grpc_clients)])

    # -- control ---------------------------------------------------------------------
    def start(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(CALL_TIMEOUT_S + 5)
        assert not any(t.is_alive() for t in self._threads), "a client hung"

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._active)

    def wait_for_in_flight(self, at_least: int, timeout_s: float = 5.0) -> None:
        """Until `at_least` calls are in flight (or `timeout_s`: the caller checks)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._active) >= at_least, timeout_s)

    def wait_busy(self, timeout_s: float = 60.0) -> None:
        """Until every client has had an answer: all connected, all sending."""
        with self._changed:
            assert self._changed.wait_for(
                lambda: len(self._answered_by) == len(self._threads), timeout_s), \
                f"not every client was answered within {timeout_s} s: {self._answered_by}"

    def wait_for_answers(self, count: int, timeout_s: float = 120.0) -> None:
        """Until `count` more calls than now have been answered, whatever the outcome."""
        with self._changed:
            target = len(self.outcomes) + count
            assert self._changed.wait_for(lambda: len(self.outcomes) >= target, timeout_s), \
                f"fewer than {count} calls answered within {timeout_s} s"

    def pause(self, timeout_s: float = 5.0) -> None:
        """No new call starts after this returns, and every REST call in flight has sent its
        request (calls in flight go on). A call that had begun but not yet connected would
        otherwise meet what the test does next (a stop closing the listeners) as a new call."""
        with self._changed:
            self._stop.set()
            self._changed.wait_for(lambda: not self._unsent, timeout_s)

    # -- results ---------------------------------------------------------------------
    def failures(self) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if not o.ok]

    def count(self) -> int:
        with self._lock:
            return len(self.outcomes)

    def summary(self) -> str:
        with self._lock:
            outcomes = list(self.outcomes)
        kinds = collections.Counter(o.kind[:90] for o in outcomes if not o.ok)
        by_proto = collections.Counter(o.protocol for o in outcomes)
        failed = sum(kinds.values())
        return (f"{failed} of {len(outcomes)} requests failed (rest {by_proto['rest']}, grpc "
                f"{by_proto['grpc']})" + "".join(f"; {n} x {k}" for k, n in kinds.most_common()))

    # -- clients ---------------------------------------------------------------------
    def _record(self, call_id: int, protocol: str, start: float, kind: str) -> None:
        with self._changed:
            self._active.pop(call_id, None)
            self._unsent.discard(call_id)
            self.outcomes.append(Outcome(protocol, start, time.monotonic(), kind))
            self._answered_by[threading.current_thread().name] += 1
            self._changed.notify_all()

    def _begin(self, unsent: bool = False) -> tuple[int, float] | None:
        """A new call's id and start, or None once paused: checked under the lock `pause`
        takes, so that no call begins after it returns."""
        with self._changed:
            if self._stop.is_set():
                return None
            call_id, start = next(self._ids), time.monotonic()
            self._active[call_id] = start
            if unsent:
                self._unsent.add(call_id)
            self._changed.notify_all()
        return call_id, start

    def _sent_hook(self, call_id: int) -> Callable[[str, dict], None]:
        """An httpx trace callback (its `trace` request extension) that marks the call's
        request as sent once its head is written to the connection."""
        def trace(event: str, _info: dict) -> None:
            if event == "http11.send_request_headers.complete":
                with self._changed:
                    self._unsent.discard(call_id)
                    self._changed.notify_all()
        return trace

    def _breathe(self, kind: str) -> None:
        # A call that fails fast (nothing listening) must not spin: count failures per
        # attempt a client would make, not per CPU cycle.
        delay = self._pause_s if kind == "ok" else max(self._pause_s, FAILURE_PAUSE_S)
        if delay:
            time.sleep(delay)

    def _rest_loop(self, keep_alive: bool) -> None:
        limits = httpx.Limits(max_keepalive_connections=1 if keep_alive else 0)
        with httpx.Client(base_url=self._http_url, timeout=CALL_TIMEOUT_S, limits=limits,
                          headers=self._headers) as client:
            for path, body in itertools.cycle(REST_CALLS):
                begun = self._begin(unsent=True)
                if begun is None:
                    return
                call_id, start = begun
                try:
                    resp = client.post(path, json=body,
                                       extensions={"trace": self._sent_hook(call_id)})
                    kind = "ok" if resp.status_code == 200 else \
                        f"{resp.status_code} {resp.text[:120]}"
                except httpx.HTTPError as exc:
                    kind = f"{type(exc).__name__} {exc}"[:120]
                self._record(call_id, "rest", start, kind)
                self._breathe(kind)

    def _grpc_loop(self, keep_channel: bool) -> None:
        channel = grpc.insecure_channel(self._grpc_target) if keep_channel else None
        try:
            for request in itertools.cycle(grpc_requests()):
                begun = self._begin()
                if begun is None:
                    return
                call_id, start = begun
                ch = channel or grpc.insecure_channel(self._grpc_target)
                try:
                    gateway_pb2_grpc.GatewayStub(ch).Predict(
                        request, timeout=CALL_TIMEOUT_S, metadata=self._metadata)
                    kind = "ok"
                except grpc.RpcError as exc:
                    kind = f"{exc.code().name} {exc.details()}"[:120]
                finally:
                    if channel is None:
                        ch.close()
                self._record(call_id, "grpc", start, kind)
                self._breathe(kind)
        finally:
            if channel is not None:
                channel.close()
