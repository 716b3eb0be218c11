"""Micro-batching: concurrent requests for one model/version/signature become one call.

Modelled on TF Serving's batching session (tensorflow_serving/batching/
batching_session.cc with the shared batch scheduler) and its knob names:

- `max_batch_size`: the largest merged batch (in examples). A request joins the
  open batch of its key if it fits, else that batch closes and a new one opens.
- `batch_timeout_micros`: how long a batch waits for company before it runs.
  0 (the default) makes the batcher adaptive: it never waits, and merges what
  queued while the model was busy.
- `max_enqueued_batches`: batches that may wait across all keys; a request that
  would need one more is refused with `Overloaded` (HTTP 429).
- `num_batch_threads`: batches that may run at once (per process).

There are no batch threads: the threads of the requests run the batches
(leader/follower). A request that finds a free run slot runs at once, in its own
thread, with no hand-off, so a lone request pays nothing for batching. Requests
that arrive while every slot is busy wait in per-key batches; when a batch ends,
the thread that ran it hands the oldest waiting batch to one of that batch's own
requests, whose thread runs it. Under load the batches therefore grow to what
arrived during one model call, and only when merging pays.

One more wait makes merging pay at moderate load. Closed-loop clients send their next
requests together once a batch answers; the first to get through parsing would find
the model idle and run alone, and the rest would form the next batch. So the
transports count the requests they are reading and decoding (`Arrivals`, one per
process, held by the service and handed to the transports): a request
that finds the model idle while others are still on their way to the batcher lets
them join, up to ARRIVAL_WAIT_S, and runs as soon as none is left on the way. A
request with no other in flight still runs at once (make bench, profiler c=8: 1,693 ->
1,858 req/s; c=1 and c=32 unchanged).

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
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from serving.config import Settings
from serving.errors import DeadlineExceeded, GatewayError, Overloaded, Unavailable

# runner(merged inputs, timeout_s) -> outputs with the merged batch first
Runner = Callable[[dict[str, np.ndarray], float], dict[str, np.ndarray]]
ARRIVAL_WAIT_S = 0.003
_riders: ContextVar[tuple[Any, ...]] = ContextVar("multihead_batch_riders", default=())


def riders() -> tuple[Any, ...]:
    """The `tag`s (`Batcher.submit`) of the requests in the model call this thread runs now,
    for a runner that does something per request (their batch size, their spans)."""
    return _riders.get()


class Arrivals:
    """How many requests of this process have begun but have not reached the batcher.

    A transport brackets each request with `request()` (REST: from its parsed head, in
    serving/gunicorn_worker.py; gRPC: the handler, serving/grpc/server.py), reaching this
    process's one instance through `InferenceService.arrivals`;
    `Batcher.submit` calls `arrived()`, so a request stops counting as soon as it reaches
    the batcher. Per thread (one thread serves a request from its head to `submit`);
    `arrived()` counts once however often it is called. Counting from the head means a
    client uploading a body slowly holds an idle model's requests back, by at most
    ARRIVAL_WAIT_S each, while it uploads.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0
        self._mine = threading.local()

    def enter(self) -> None:
        if getattr(self._mine, "on_the_way", False):
            return
        with self._cond:
            self._count += 1
        self._mine.on_the_way = True

    @contextmanager
    def request(self) -> Iterator[None]:
        """`enter()` now, `arrived()` at the end."""
        self.enter()
        try:
            yield
        finally:
            self.arrived()

    def arrived(self) -> None:
        """This thread's request reached the batcher (or ended): it counts no more."""
        if getattr(self._mine, "on_the_way", False):
            self._mine.on_the_way = False
            with self._cond:
                self._count -= 1
                if self._count <= 0:
                    self._cond.notify_all()

    def others(self) -> int:
        """Requests on their way besides this thread's own."""
        return self._count - (1 if getattr(self._mine, "on_the_way", False) else 0)

    def wait_settled(self, timeout_s: float) -> None:
        """Until no request is on its way to the batcher, at most `timeout_s`."""
        with self._cond:
            self._cond.wait_for(lambda: self._count <= 0, timeout=timeout_s)


@dataclass(eq=False)
class _Task:
    inputs: Mapping[str, np.ndarray]
    size: int
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, np.ndarray] | None = None
    error: BaseException | None = None
    abandoned: bool = False
    lead: _Batch | None = None  # a batch this task's thread was handed to run
    tag: Any = None             # the caller's, handed to the runner through `riders()`


@dataclass(eq=False)
class _Batch:
    key: Hashable
    runner: Runner
    padded: frozenset[str]
    created: float
    tasks: list[_Task] = field(default_factory=list)
    size: int = 0
    closed: bool = False
    queued: bool = True  # counted in max_enqueued_batches (not a leader's filling batch)


class Batcher:
    """Merges concurrent `submit` calls; the callers' threads run the merged batches."""

    def __init__(self, settings: Settings, arrivals: Arrivals | None = None,
                 on_batch: Callable[[Hashable, int], None] | None = None) -> None:
        self.arrivals = arrivals if arrivals is not None else Arrivals()
        self.max_batch_size = settings.max_batch_size
        self.timeout_s = settings.batch_timeout_micros / 1e6
        self.max_enqueued = max(settings.max_enqueued_batches, 1)
        self.num_threads = max(settings.num_batch_threads, 1)
        self._on_batch = on_batch
        self._cond = threading.Condition()
        self._queues: dict[Hashable, deque[_Batch]] = {}
        self._enqueued = 0
        self._running = 0
        self._stopped = False

    def submit(self, key: Hashable, inputs: Mapping[str, np.ndarray], size: int,
               runner: Runner, deadline: float, padded: frozenset[str] = frozenset(),
               tag: Any = None) -> dict[str, np.ndarray]:
        """Run `inputs` (batch of `size`) as part of a merged batch; blocks until done.

        `deadline` is a `time.monotonic()` value; `tag` is what `riders()` tells the
        runner about this request.
        """
        with self._cond:
            if self._stopped:
                raise Unavailable("The server is shutting down.")
            queue = self._queues.get(key)
            batch = queue[-1] if queue and not queue[-1].closed else None
            if batch is not None and batch.size + size > self.max_batch_size:
                batch.closed = True
                batch = None
            alone = batch is None and self._running < self.num_threads
            if alone:
                self._running += 1
                # Wait for company: configured, or requests still on their way here.
                if size < self.max_batch_size and (self.timeout_s > 0
                                                   or self.arrivals.others() > 0):
                    alone = False
                    task = _Task(inputs, size, deadline, tag=tag)
                    task.lead = _Batch(key, runner, padded, time.monotonic(), [task], size,
                                       queued=False)
                    self._queues.setdefault(key, deque()).append(task.lead)  # open to join
            elif batch is not None:
                task = _Task(inputs, size, deadline, tag=tag)
                batch.tasks.append(task)
                batch.size += size
                if batch.size >= self.max_batch_size:
                    batch.closed = True
                    self._cond.notify_all()  # a leader filling it stops waiting
            else:
                if self._enqueued >= self.max_enqueued:
                    raise Overloaded(f"The batch queue is full ({self.max_enqueued} batches "
                                     "waiting, max_enqueued_batches); retry later.")
                task = _Task(inputs, size, deadline, tag=tag)
                batch = _Batch(key, runner, padded, time.monotonic(), [task], size)
                batch.closed = size >= self.max_batch_size
                self._queues.setdefault(key, deque()).append(batch)
                self._enqueued += 1
        self.arrivals.arrived()  # after joining: a leader waiting for it sees it in its batch
        if alone:
            return self._run_alone(key, inputs, size, runner, deadline, tag)
        if task.lead is None:
            self._wait(task)
        while task.lead is not None:  # this thread was handed a batch (its own among it)
            batch, task.lead = task.lead, None
            task.done.clear()  # set only to wake it; its own result is still to come
            self._lead(batch)
            if not task.done.is_set():  # dropped from that batch: wait for its own
                self._wait(task)
        if task.error is not None:
            raise task.error
        assert task.result is not None
        return task.result

    def _run_alone(self, key: Hashable, inputs: Mapping[str, np.ndarray], size: int,
                   runner: Runner, deadline: float, tag: Any) -> dict[str, np.ndarray]:
        """The common case when the model is idle: call it now, in this thread, with no
        merge, no split and no hand-off; then pass the run slot on."""
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded("The request deadline passed before its batch ran.")
            if self._on_batch is not None:
                self._on_batch(key, size)
            token = _riders.set((tag,))
            try:
                outputs = runner(dict(inputs), remaining)
            finally:
                _riders.reset(token)
            return split(outputs, [size])[0]
        finally:
            self._hand_over()

    def _wait(self, task: _Task) -> None:
        if task.done.wait(max(task.deadline - time.monotonic(), 0.0)):
            return
        with self._cond:
            if task.done.is_set() or task.lead is not None:
                return  # answered or handed a batch as the deadline passed
            task.abandoned = True
        raise DeadlineExceeded("The request deadline passed while it waited for its batch.")

    def stop(self) -> None:
        """Refuse new requests; queued ones fail now rather than at their deadline, and
        running batches finish (waited for, up to 10 s)."""
        with self._cond:
            self._stopped = True
            for queue in self._queues.values():
                for batch in queue:
                    if batch.queued:
                        self._fail(batch, Unavailable("The server is shutting down."))
            self._queues.clear()
            self._enqueued = 0
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._running == 0, timeout=10)

    @staticmethod
    def _fail(batch: _Batch, error: BaseException) -> None:
        for t in batch.tasks:
            t.error = error
            t.done.set()

    def _lead(self, batch: _Batch) -> None:
        """Run `batch` (holding a run slot), then hand the slot to the next waiting batch."""
        if not batch.queued:  # this thread's own batch: wait for company
            if self.timeout_s <= 0:  # adaptive: for the requests on their way only
                self.arrivals.wait_settled(ARRIVAL_WAIT_S)
            with self._cond:
                if self.timeout_s > 0 and batch.size < self.max_batch_size:
                    due = batch.created + self.timeout_s
                    self._cond.wait_for(lambda: batch.closed or self._stopped
                                        or time.monotonic() >= due,
                                        timeout=max(due - time.monotonic(), 0.0))
                queue = self._queues.get(batch.key)
                if queue and batch in queue:
                    queue.remove(batch)
                    if not queue:
                        del self._queues[batch.key]
                batch.closed = True
        try:
            self._run(batch)
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        """Give this thread's run slot to the oldest waiting batch, or free it."""
        with self._cond:
            while True:
                nxt = self._pop_waiting()
                if nxt is None:
                    self._running -= 1
                    self._cond.notify_all()
                    return
                leader = next((t for t in nxt.tasks if not t.abandoned), None)
                if leader is not None:
                    leader.lead = nxt
                    leader.done.set()  # wakes it; it runs `nxt` in its own thread
                    return
                # Every request of that batch gave up: nothing to run, try the next one.

    def _pop_waiting(self) -> _Batch | None:
        """The oldest queued batch (closed or not), removed from its queue."""
        best: tuple[Hashable, _Batch] | None = None
        for key, queue in self._queues.items():
            head = queue[0]
            if head.queued and (best is None or head.created < best[1].created):
                best = (key, head)
        if best is None:
            return None
        key, batch = best
        queue = self._queues[key]
        queue.popleft()
        if not queue:
            del self._queues[key]
        batch.closed = True
        self._enqueued -= 1
        return batch

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
            token = _riders.set(tuple(t.tag for t in tasks))
            try:
                outputs = batch.runner(merged, max(min(t.deadline for t in tasks) - now, 0.001))
            finally:
                _riders.reset(token)
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
