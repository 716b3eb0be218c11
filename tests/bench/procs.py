"""Server processes of the benchmark: wait until ready, measure from /proc, stop.

tests/bench/servers.py starts them (one function per contender's server).

CPU time is read from `/proc/PID/stat` (utime + stime of every thread, summed
over the server's whole process tree: gunicorn master and workers), so a point's
CPU seconds per request is the tree's CPU delta over the requests it served.
RSS per worker is `VmRSS` of each child of the master.

A server that burns CPU while it serves nothing (LitServe's batching loop polls its
queue) takes the cores from whichever contender is measured beside it: `idle_cpu`
finds such servers, and `Server.pause` / `resume` stop and continue one (SIGSTOP and
SIGCONT to its process group, its own session) around the others' points.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import stop_process

_TICK = os.sysconf("SC_CLK_TCK")
# Seconds a server may take to load its models in every worker: about 15 on a quiet
# 2-core machine, minutes on a busy one (BENCH_START_TIMEOUT).
START_TIMEOUT_S = float(os.environ.get("BENCH_START_TIMEOUT") or 600)


def children(pid: int) -> list[int]:
    """Direct children of `pid` (all its threads' children)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        out.extend(int(c) for c in text.split())
    return out


def _is_helper(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing.resource_tracker" in cmdline or b"semaphore_tracker" in cmdline


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(children(p))
    return pids


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces; fields after ')' are fixed.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(p) for p in tree(pid))


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def idle_cpu(servers: dict[str, Server], seconds: float) -> dict[str, float]:
    """Per server, the CPU it used over `seconds` of serving nothing, in % of one core
    (all of them measured over the same seconds)."""
    before = {name: s.cpu() for name, s in servers.items()}
    t0 = time.monotonic()
    time.sleep(seconds)  # the measurement is this interval: nothing to wait for
    took = time.monotonic() - t0
    return {name: 100 * (s.cpu() - before[name]) / took for name, s in servers.items()}


@dataclass
class Server:
    """A server process group on loopback: `http_url` (REST), `grpc_target` (gRPC)."""

    name: str
    process: subprocess.Popen
    http_url: str | None
    grpc_target: str | None
    log_path: Path
    workers: int
    extra: dict = field(default_factory=dict)
    # Servers this one calls for every request (the TF Serving stand-in behind a gateway):
    # their CPU counts as this server's.
    companions: list[Server] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return tree_cpu_seconds(self.pid) + sum(c.cpu() for c in self.companions)

    def worker_rss_mb(self) -> list[float]:
        return [rss_mb(p) for p in self.worker_pids()]

    def worker_pids(self) -> list[int]:
        """The server's workers: its children, less multiprocessing's helper processes
        (uvicorn and KServe spawn their workers, which starts a resource tracker)."""
        return [p for p in children(self.pid) if not _is_helper(p)]

    def pause(self) -> None:
        """Stop every process of the server (its session's group) until `resume`."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def log(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_ready(self, path: str, timeout_s: float = START_TIMEOUT_S) -> None:
        """`path` answers 200 on enough fresh connections that every worker has loaded."""
        deadline, streak = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                   f"{self.log()}")
            try:
                with urllib.request.urlopen(self.http_url + path, timeout=5) as resp:
                    ok = resp.status == 200
            except (OSError, urllib.error.HTTPError):
                ok = False
            streak = streak + 1 if ok else 0
            if streak >= 6 * self.workers:
                return
            time.sleep(0.05 if ok else 0.5)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f}s:\n{self.log()}")

    def wait_line(self, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
        """The server's log shows `text` (servers that speak no HTTP say when they are up)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                   f"{self.log()}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f}s:\n{self.log()}")

    def stop(self) -> None:
        try:  # a paused server handles no SIGTERM
            self.resume()
        except ProcessLookupError:
            pass
        stop_process(self.process, grace_s=30)  # SIGTERM: the server's graceful shutdown
        try:  # a worker that outlived its parent (the group is this server's own session)
            os.killpg(self.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self.log_path.unlink(missing_ok=True)
