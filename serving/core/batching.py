"""Micro-batching: concurrent requests for one model/version/signature become one call.

Modelled on TF Serving's batching session (tensorflow_serving/batching/
batching_session.cc with the shared batch scheduler) and its knob names:

- `max_batch_size`: the largest merged batch (in examples). A request joins the
  open batch of its key if it fits, else that batch closes and a new one opens.
- `batch_timeout_micros`: how long an open batch waits for company before it runs.
- `max_enqueued_batches`: batches (open or closed) that may wait across all keys;
  a request that would need one more is refused with `Overloaded` (HTTP 429).
- `num_batch_threads`: threads running batches.

A batch key is (model, version, signature, output filter, trailing shapes of
the non-padded inputs), so inputs always concatenate along dim 0. Padded id
sequences (`padded` inputs) of different lengths are right-padded with 0 to the
longest; string arrays need no padding. Outputs are split back by row offsets.
A request whose deadline passes while it waits raises `DeadlineExceeded`; a
batch drops such requests before it runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from serving.config import Settings
from serving.errors import DeadlineExceeded, GatewayError, Overloaded, Unavailable

# runner(merged inputs, timeout_s) -> outputs with the merged batch first
Runner = Callable[[dict[str, np.ndarray], float], dict[str, np.ndarray]]


@dataclass(eq=False)
class _Task:
    inputs: Mapping[str, np.ndarray]
    size: int
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, np.ndarray] | None = None
    error: BaseException | None = None
    abandoned: bool = False


@dataclass(eq=False)
class _Batch:
    key: Hashable
    runner: Runner
    padded: frozenset[str]
    created: float
    tasks: list[_Task] = field(default_factory=list)
    size: int = 0
    closed: bool = False


class Batcher:
    """Merges concurrent `submit` calls; threads start on first use (post-fork)."""

    def __init__(self, settings: Settings,
                 on_batch: Callable[[Hashable, int], None] | None = None) -> None:
        self.max_batch_size = settings.max_batch_size
        self.timeout_s = settings.batch_timeout_micros / 1e6
        self.max_enqueued = max(settings.max_enqueued_batches, 1)
        self.num_threads = max(settings.num_batch_threads, 1)
        self._on_batch = on_batch
        self._cond = threading.Condition()
        self._queues: dict[Hashable, deque[_Batch]] = {}
        self._enqueued = 0
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def submit(self, key: Hashable, inputs: Mapping[str, np.ndarray], size: int,
               runner: Runner, deadline: float, padded: frozenset[str] = frozenset()
               ) -> dict[str, np.ndarray]:
        """Run `inputs` (batch of `size`) as part of a merged batch; blocks until done.

        `deadline` is a `time.monotonic()` value.
        """
        task = _Task(inputs, size, deadline)
        with self._cond:
            if self._stopped:
                raise GatewayError("The batcher has stopped.")
            self._ensure_threads()
            queue = self._queues.setdefault(key, deque())
            batch = queue[-1] if queue and not queue[-1].closed else None
            if batch is not None and batch.size + size > self.max_batch_size:
                batch.closed = True
                batch = None
            if batch is None:
                if self._enqueued >= self.max_enqueued:
                    raise Overloaded(f"The batch queue is full ({self.max_enqueued} batches "
                                     "waiting, max_enqueued_batches); retry later.")
                batch = _Batch(key, runner, padded, time.monotonic())
                queue.append(batch)
                self._enqueued += 1
            batch.tasks.append(task)
            batch.size += size
            if batch.size >= self.max_batch_size:
                batch.closed = True
            self._cond.notify()
        if not task.done.wait(max(deadline - time.monotonic(), 0.0)):
            task.abandoned = True
            raise DeadlineExceeded("The request deadline passed while it waited for its batch.")
        if task.error is not None:
            raise task.error
        assert task.result is not None
        return task.result

    def stop(self) -> None:
        """Stop the threads; requests still queued fail now rather than at their deadline."""
        with self._cond:
            self._stopped = True
            for queue in self._queues.values():
                for batch in queue:
                    for t in batch.tasks:
                        t.error = Unavailable("The server is shutting down.")
                        t.done.set()
            self._queues.clear()
            self._enqueued = 0
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=10)
        self._threads = []

    def _ensure_threads(self) -> None:
        while len(self._threads) < self.num_threads:
            t = threading.Thread(target=self._loop, daemon=True,
                                 name=f"multihead-batch-{len(self._threads)}")
            self._threads.append(t)
            t.start()

    def _next_ready(self) -> tuple[_Batch | None, float | None]:
        """The oldest batch that is closed or timed out, else how long to wait."""
        now = time.monotonic()
        best: _Batch | None = None
        wait: float | None = None
        for queue in self._queues.values():
            head = queue[0]
            due = head.created + self.timeout_s
            if head.closed or due <= now:
                if best is None or head.created < best.created:
                    best = head
            else:
                wait = due - now if wait is None else min(wait, due - now)
        return best, wait

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    batch, wait = self._next_ready()
                    if batch is not None:
                        break
                    self._cond.wait(wait)
                queue = self._queues[batch.key]
                queue.popleft()
                if not queue:
                    del self._queues[batch.key]
                batch.closed = True
                self._enqueued -= 1
            self._run(batch)

    def _run(self, batch: _Batch) -> None:
        now = time.monotonic()
        tasks = []
        for t in batch.tasks:
            if t.abandoned or t.deadline <= now:
                t.error = DeadlineExceeded("The request deadline passed before its batch ran.")
                t.done.set()
            else:
                tasks.append(t)
        if not tasks:
            return
        try:
            merged = merge([t.inputs for t in tasks], batch.padded)
            total = sum(t.size for t in tasks)
            if self._on_batch is not None:
                self._on_batch(batch.key, total)
            outputs = batch.runner(merged, max(min(t.deadline for t in tasks) - now, 0.001))
            parts = split(outputs, [t.size for t in tasks])
        except BaseException as exc:  # every waiter gets the batch's error
            for t in tasks:
                t.error = exc
                t.done.set()
            return
        for t, part in zip(tasks, parts, strict=True):
            t.result = part
            t.done.set()


def merge(parts: list[Mapping[str, np.ndarray]], padded: frozenset[str] = frozenset()
          ) -> dict[str, np.ndarray]:
    """Concatenate named arrays along dim 0; `padded` 2-D inputs are right-padded with 0."""
    if len(parts) == 1:
        return dict(parts[0])
    merged: dict[str, np.ndarray] = {}
    for name in parts[0]:
        arrays = [p[name] for p in parts]
        if name in padded:
            width = max(a.shape[1] for a in arrays)
            arrays = [a if a.shape[1] == width else
                      np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in arrays]
        merged[name] = np.concatenate(arrays, axis=0)
    return merged


def split(outputs: Mapping[str, Any], sizes: list[int]) -> list[dict[str, np.ndarray]]:
    """Inverse of `merge` for outputs: row slices per request, in order."""
    total = sum(sizes)
    for name, arr in outputs.items():
        if np.ndim(arr) == 0 or len(arr) != total:
            raise GatewayError(f"Output '{name}' of a merged batch has {np.shape(arr)} rows; "
                               f"{total} expected.")
    if len(sizes) == 1:
        return [dict(outputs)]
    offsets = np.cumsum([0] + sizes)
    return [{k: np.asarray(v[offsets[i]:offsets[i + 1]]) for k, v in outputs.items()}
            for i in range(len(sizes))]
