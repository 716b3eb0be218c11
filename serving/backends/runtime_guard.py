"""A circuit breaker for calls to a model runtime that may stop answering without closing
its connections (a hung TF Serving, a full GPU queue): such a runtime parks every calling
thread until each call's deadline.

`RuntimeGuard` keeps two rules, as Envoy's circuit breakers do for an upstream cluster
(`max_requests` pending on it, then 503 at once) and its outlier detection does for a host
that stops answering:

- **Bounded calls in flight.** At most `max_inflight` calls of this process wait on the
  runtime; one more is refused at once (`Shed`, reason `runtime_busy`) instead of parking
  a thread with the others.
- **Open when the runtime stops answering.** The backend's status poll says when the
  runtime answered nothing for a while (`trip`): every call in flight is cancelled and
  fails at once with UNAVAILABLE, and new calls are refused until the runtime answers
  again (`close`). `answered()` marks any answer, so a runtime that is merely slow to
  answer a status call while it answers predictions is not taken for a hung one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from serving.errors import Shed

RETRY_AFTER_S = 1


class RuntimeGuard:
    def __init__(self, max_inflight: int, name: str) -> None:
        self.max_inflight = max(max_inflight, 1)
        self.name = name  # "TF Serving at host:port", for messages
        self.last_answer = time.monotonic()
        self._lock = threading.Lock()
        self._inflight: set[grpc.Future] = set()
        self._open_why = ""  # non-empty while the runtime is taken for not answering

    def answered(self) -> None:
        """The runtime answered something (a result or an error of its own)."""
        self.last_answer = time.monotonic()

    def silent_for(self) -> float:
        return time.monotonic() - self.last_answer

    def call(self, start: Callable[[], grpc.Future]) -> Any:
        """Start a call (`start` returns its future) unless the guard refuses it; its
        result, or grpc's error. A call cancelled by `trip` raises Shed."""
        with self._lock:
            if self._open_why:
                raise Shed(self._open_why, shed="runtime_unavailable")
            if len(self._inflight) >= self.max_inflight:
                raise Shed(f"{self.name} has {len(self._inflight)} calls of this gateway "
                           "worker in flight (tfserving_max_inflight); refused rather than "
                           "queued behind them, retry shortly.", shed="runtime_busy")
            future = start()
            self._inflight.add(future)
        try:
            return future.result()
        except grpc.FutureCancelledError:
            raise Shed(self._open_why or f"{self.name}: the call was cancelled.",
                       shed="runtime_unavailable") from None
        finally:
            with self._lock:
                self._inflight.discard(future)

    def trip(self, why: str) -> None:
        """The runtime is not answering: fail the calls in flight, refuse new ones."""
        with self._lock:
            self._open_why = why
            waiting = list(self._inflight)
        for future in waiting:
            future.cancel()

    def close(self) -> None:
        """The runtime answers again."""
        with self._lock:
            self._open_why = ""

    @property
    def open(self) -> bool:
        return bool(self._open_why)
