"""Which model config each gunicorn worker has applied, for model management.

Every worker runs its own model runtime, and a management call reaches one of them: that
worker writes the new config file (serving/backends/model_config.py) and applies it at
once; the others notice the file changed at their next repository poll and apply it too.
Each worker, after every time it applied the file, records what it applied in a file of
its own on the board gunicorn's master made (serving/lifecycle.py's `StartedBoard`
directory, one `<pid>.applied` beside each `<pid>` started marker): the digest of the
config's bytes and, per model, the versions that failed to load. The worker that took the
call waits until every worker that serves now has recorded the digest it wrote, or the
deadline passes; then it answers, naming the workers that had not.

Outside gunicorn (one process: tests, tools) serving/core/management.py's `SingleProcess`
keeps the record in memory.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence

from serving.core.management import Applied, Outcome, SingleProcess
from serving.lifecycle import StartedBoard

log = logging.getLogger(__name__)
POLL_S = 0.05
SUFFIX = ".applied"


class WorkerBoard:
    """The records of every gunicorn worker, as files on the master's board."""

    def __init__(self, started: StartedBoard) -> None:
        self._started = started
        self._last: Applied | None = None
        self._lock = threading.Lock()

    def _path(self, pid: int) -> str:
        return os.path.join(self._started.directory, f"{pid}{SUFFIX}")

    def record(self, digest: str, problems: Mapping[str, Sequence[str]]) -> None:
        """This worker applied `digest` (called after every scan: written only on change)."""
        applied = Applied(digest, {k: list(v) for k, v in problems.items()})
        with self._lock:
            if applied == self._last:
                return
            data = json.dumps({"digest": digest, "problems": applied.problems}).encode()
            try:  # whole or not at all: the waiting worker never reads half a record
                fd, tmp = tempfile.mkstemp(prefix=".applied-", dir=self._started.directory)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, self._path(os.getpid()))
            except OSError as exc:
                log.warning("cannot record the applied model config: %s", exc)
                return
            self._last = applied

    def read(self, pid: int) -> Applied | None:
        try:
            with open(self._path(pid), "rb") as fh:
                raw = json.loads(fh.read())
            return Applied(str(raw["digest"]), dict(raw.get("problems") or {}))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def wait(self, digest: str, deadline: float) -> Outcome:
        """Until every serving worker recorded `digest`, or `deadline` (time.monotonic)."""
        while True:
            applied: dict[int, Applied] = {}
            missing = []
            for pid in self._started.pids():
                record = self.read(pid)
                if record is not None and record.digest == digest:
                    applied[pid] = record
                else:
                    missing.append(pid)
            if not missing or time.monotonic() >= deadline:
                return Outcome(applied, tuple(missing))
            time.sleep(POLL_S)


def board_for_this_worker() -> WorkerBoard | SingleProcess:
    """The board of the gunicorn master this worker was forked from, if any."""
    from serving import lifecycle

    started = lifecycle.board()
    return WorkerBoard(started) if started is not None else SingleProcess()
