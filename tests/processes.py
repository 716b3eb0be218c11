"""Stopping the server processes tests start (gateway, TF Serving, its stand-in)."""

from __future__ import annotations

import os
import signal
import subprocess


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
