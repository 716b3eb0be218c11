"""What every test that runs a server needs, in one place: a free loopback port, one
bounded `wait_until` (no hand-rolled polling loop), the environment a server subprocess
of this repository gets (`python -m serving`, the TF Serving stand-in), and stopping it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], T], timeout_s: float, interval_s: float = 0.05, *,
               what: str = "the condition held",
               diagnose: Callable[[], str] | None = None) -> T:
    """Call `predicate` every `interval_s` until it returns something true, and return
    that; after `timeout_s` fail with `what` (and `diagnose()`, e.g. a server's log).

    The one polling loop of the suite: a predicate that raises ends the wait with its
    error (a server that died, say), so it never outlives its bound.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f":\n{diagnose()}" if diagnose is not None else ""
            raise AssertionError(f"not {what} after {timeout_s:g} s{detail}")
        time.sleep(interval_s)


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a child that runs this repository's code: no
    MULTIHEAD_* setting or Prometheus directory leaks in from the caller, TensorFlow's
    start-up noise is off, output unbuffered, the repository importable; then `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MULTIHEAD_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                            os.environ.get("PYTHONPATH")]))})
    env.update(extra or {})
    return env


def stop_process(process: subprocess.Popen | None, *, kill: bool = False,
                 grace_s: float = 30.0) -> None:
    """SIGTERM (a graceful shutdown) or SIGKILL (a crash), then wait; idempotent.

    A process that outlives `grace_s` is killed with its whole process group when it
    leads one (started with `start_new_session=True`), so no worker is left behind.
    """
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        try:
            if os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
