"""Worker lifecycle under gunicorn: nothing is served before the models are loaded, and a
reload stops old workers only once their successors serve (TF Serving's own rule: it opens
its ports once every configured model is loaded, and loads a new version before it
unloads the old one). serving/gunicorn.conf.py calls these from its hooks.

- **Initial load.** gunicorn runs `post_worker_init` after the app is built and before
  the worker's accept loop (gunicorn/workers/base.py, `Worker.init_process`: hook, then
  `run()`), so a worker that waits there accepts no HTTP connection; it binds its gRPC
  server only after the wait too. Connections that arrive meanwhile wait in the listening
  socket's backlog, which the master opened and every worker shares (no `reuse_port`), so
  the workers that do serve take them. The wait heartbeats (`worker.notify()`), so the
  master's `timeout` does not kill a worker that is loading, and ends early when the load
  failed or after `load_timeout_s`: the worker then serves, /readyz answers 503 and gRPC
  health NOT_SERVING with the reason, and the backend keeps retrying.
- **Reload.** `Arbiter.reload()` (gunicorn/arbiter.py) spawns `workers` new workers and
  calls `manage_workers()` at once, which SIGTERMs the oldest beyond `workers`: before
  anything here, a HUP stopped every old worker while the new ones were still loading.
  `hold_old_workers` wraps the master's `manage_workers` so that it first waits (bounded)
  until the workers that will remain have started serving; each worker says so with a
  marker file on a `StartedBoard` once its initial load is over.
- **Stop.** The old workers then stop as gunicorn stops any worker: no new connections,
  requests in flight finish, kept-alive connections linger briefly and answer with
  "Connection: close" (gunicorn/workers/gthread.py, `STOP_KEEPALIVE_LINGER`); then the
  `worker_exit` hook stops the gRPC server gracefully (in-flight RPCs finish, clients
  reconnect to the workers that stay).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from typing import Any, Protocol

log = logging.getLogger("serving.lifecycle")

# gunicorn internals used here, by class name (the classes themselves are not imported in
# a worker's start-up path): see serving/gunicorn_worker.py GUNICORN_INTERNALS.
GUNICORN_INTERNALS: dict[str, tuple[str, ...]] = {
    "gunicorn.arbiter.Arbiter": ("manage_workers", "reap_workers", "WORKERS", "num_workers",
                                 "log", "cfg"),
    "gunicorn.workers.base.Worker": ("notify", "alive", "ppid", "pid", "age", "wsgi",
                                     "init_process"),
}

HEARTBEAT_S = 1.0  # how often a loading worker tells the master it is alive
SUCCESSOR_POLL_S = 0.05


class _Readiness(Protocol):
    def wait_ready(self, timeout: float) -> bool: ...


class StartedBoard:
    """One empty file per worker pid that has finished its initial load and serves.

    Made by the master before it forks (`on_starting`); the forked workers inherit the
    module global that names it, which survives a HUP (gunicorn re-reads the config file,
    not this module). Files, not pipes: nothing to close in the siblings of each fork.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def mark(self, pid: int) -> None:
        with open(os.path.join(self.directory, str(pid)), "w"):
            pass

    def forget(self, pid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.directory, str(pid)))

    def started(self, pid: int) -> bool:
        return os.path.exists(os.path.join(self.directory, str(pid)))

    def pids(self) -> list[int]:
        """Every worker that serves now."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        return sorted(int(n) for n in names if n.isdigit())

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


_board: StartedBoard | None = None


def open_board(parent: str | None = None) -> StartedBoard:
    """The master's board (made once per master process; a HUP keeps it)."""
    global _board
    if _board is None or not os.path.isdir(_board.directory):
        _board = StartedBoard(tempfile.mkdtemp(prefix="multihead-workers-", dir=parent))
    return _board


def board() -> StartedBoard | None:
    return _board


# -- in the worker ---------------------------------------------------------------------


def wait_for_initial_load(worker: Any, service: _Readiness, timeout_s: float) -> bool:
    """Block this worker until `service.wait_ready` returns, heartbeating meanwhile.

    True when ready. False when the load failed, took longer than `timeout_s`, or the
    worker was told to stop (`worker.alive` false) or lost its master while it waited.
    """
    if _board is not None:
        _board.forget(os.getpid())  # a pid reused from a dead worker starts unmarked
    outcome: dict[str, bool] = {}
    done = threading.Event()

    def wait() -> None:
        try:
            outcome["ready"] = service.wait_ready(timeout_s)
        except Exception:  # noqa: BLE001 - a failing wait means not ready, never a crash
            log.exception("waiting for the initial model load failed")
        finally:
            done.set()

    threading.Thread(target=wait, name="initial-load-wait", daemon=True).start()
    while not done.wait(HEARTBEAT_S):
        worker.notify()
        if not worker.alive or worker.ppid != os.getppid():
            return False
    worker.notify()
    return outcome.get("ready", False)


def mark_started(pid: int) -> None:
    """Tell the master this worker serves (see `hold_old_workers`)."""
    if _board is not None:
        _board.mark(pid)


# -- in the master ---------------------------------------------------------------------


def hold_old_workers(arbiter: Any, timeout_s: float) -> None:
    """Make `arbiter.manage_workers` stop surplus (old) workers only once the workers
    that remain serve, waiting at most `timeout_s` (then it goes on as gunicorn does).

    With no surplus (start-up, a crashed worker replaced) nothing waits. The master
    handles no signal while it waits: a SIGTERM during a reload takes effect once the
    new workers serve or the bound passed.
    """
    manage = arbiter.manage_workers

    def manage_workers() -> None:
        _wait_for_successors(arbiter, timeout_s)
        manage()

    arbiter.manage_workers = manage_workers


def _wait_for_successors(arbiter: Any, timeout_s: float) -> None:
    started = _board
    if started is None:
        return
    deadline: float | None = None
    while len(arbiter.WORKERS) > arbiter.num_workers:
        # manage_workers stops the oldest; the newest `num_workers` are the ones that stay.
        staying = sorted(arbiter.WORKERS.items(), key=lambda item: item[1].age)
        waiting = [pid for pid, _ in staying[-arbiter.num_workers:] if not started.started(pid)]
        if not waiting:
            return
        now = time.monotonic()
        if deadline is None:
            deadline = now + timeout_s
            arbiter.log.info("old workers keep serving until workers %s have loaded", waiting)
        elif now > deadline:
            arbiter.log.warning("workers %s did not start serving within %.0fs; stopping the "
                                "old workers anyway", waiting, timeout_s)
            return
        arbiter.reap_workers()  # a successor that dies leaves WORKERS (and ends the wait)
        time.sleep(SUCCESSOR_POLL_S)


MIGRATE_REQ_SYSCTL = "/proc/sys/net/ipv4/tcp_migrate_req"


def reload_gap(workers: int) -> str | None:
    """Why a reload can still reset a gRPC connection here, if it can (README: Reliability).

    Each worker has its own gRPC socket (SO_REUSEPORT); connections the kernel queued at a
    stopping worker's socket move to the others only with net.ipv4.tcp_migrate_req=1.
    """
    if workers < 2:
        return None
    try:
        with open(MIGRATE_REQ_SYSCTL) as f:
            if f.read().strip() != "0":
                return None
    except OSError:  # not Linux >= 5.14: nothing to suggest
        return None
    return ("net.ipv4.tcp_migrate_req is 0: a gRPC connection that arrives at a worker in "
            "the instant it stops (a reload) is reset; set it to 1 (sysctl, or the pod's "
            "k8s/components/tcp-migrate-req) to move such connections to the other workers")

