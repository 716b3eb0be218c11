"""Server processes for the benchmark: start on loopback, wait, measure from /proc, stop.

CPU time is read from `/proc/PID/stat` (utime + stime of every thread, summed
over the server's whole process tree: gunicorn master and workers), so a point's
CPU seconds per request is the tree's CPU delta over the requests it served.
RSS per worker is `VmRSS` of each child of the master.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@dataclass
class Server:
    """A server process group on loopback: `http_url`, `grpc_target` (gateway only)."""

    name: str
    process: subprocess.Popen
    http_url: str
    grpc_target: str | None
    log_path: Path
    workers: int
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return tree_cpu_seconds(self.pid)

    def worker_rss_mb(self) -> list[float]:
        return [rss_mb(p) for p in children(self.pid)]

    def worker_pids(self) -> list[int]:
        return children(self.pid)

    def log(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_ready(self, path: str, timeout_s: float = 240.0) -> None:
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

    def stop(self) -> None:
        stop_process(self.process, grace_s=30)  # SIGTERM: gunicorn's graceful shutdown
        self.log_path.unlink(missing_ok=True)


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MULTIHEAD_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                            os.environ.get("PYTHONPATH")]))})
    env.update(extra)
    return env


def _spawn(name: str, argv: list[str], env: dict[str, str], http_port: int,
           grpc_port: int | None, workers: int) -> Server:
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
    process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return Server(name, process, f"http://127.0.0.1:{http_port}",
                  f"127.0.0.1:{grpc_port}" if grpc_port else None, Path(log.name), workers)


def start_gateway(model_dir: Path, workers: int, threads: int,
                  env: dict[str, str] | None = None) -> Server:
    """`python -m serving` (gunicorn, embedded runtime) exactly as a user runs it."""
    http_port, grpc_port = free_port(), free_port()
    full = _clean_env({
        "MULTIHEAD_BACKEND": "embedded", "MULTIHEAD_MODEL_DIR": str(model_dir),
        "MULTIHEAD_HOST": "127.0.0.1", "MULTIHEAD_HTTP_PORT": str(http_port),
        "MULTIHEAD_GRPC_PORT": str(grpc_port), "MULTIHEAD_WORKERS": str(workers),
        "MULTIHEAD_THREADS": str(threads), "MULTIHEAD_LOG_LEVEL": "WARNING",
        **(env or {})})
    server = _spawn("gateway", [sys.executable, "-m", "serving"], full, http_port, grpc_port,
                    workers)
    try:
        server.wait_ready("/readyz")
    except BaseException:
        server.stop()
        raise
    return server


def start_naive(runs: dict[str, Path], workers: int, threads: int) -> Server:
    """tests/bench/naive_app.py under gunicorn with the gateway's worker settings."""
    port = free_port()
    full = _clean_env({"BENCH_NAIVE_RUNS": ",".join(f"{m}={p}" for m, p in runs.items())})
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--timeout", "120", "--keep-alive", "5", "--log-level", "warning",
            "tests.bench.naive_app:create_app()"]
    server = _spawn("naive", argv, full, port, None, workers)
    try:
        server.wait_ready("/healthz")
    except BaseException:
        server.stop()
        raise
    return server
