"""Load generation: `wrk` for REST, tests/bench/grpc_load.py for gRPC, each its own process.

`measure(server, load)` brackets one load run with the server tree's CPU time
(/proc) and reads RSS per worker afterwards, so every point carries requests/s,
latency percentiles, server CPU seconds per request and memory.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench.procs import Server
from tests.processes import REPO_ROOT

WRK_SCRIPT = Path(__file__).with_name("wrk_post.lua")
MARK = "BENCH_JSON "


def rest_body(row: dict[str, Any], inputs: list[str]) -> dict[str, Any]:
    """The batch-1 TF Serving row-format body for one example (bare for one input)."""
    if len(inputs) == 1:
        return {"instances": [row[inputs[0]]]}
    return {"instances": [{name: row[name] for name in inputs}]}


def write_inputs(directory: Path, model: str, rows: list[dict[str, Any]],
                 inputs: list[str]) -> tuple[Path, Path]:
    """(rows JSON for the limit and gRPC, bodies JSON-lines for wrk) of one model."""
    directory.mkdir(parents=True, exist_ok=True)
    rows_path = directory / f"{model}.rows.json"
    rows_path.write_text(json.dumps(rows))
    bodies_path = directory / f"{model}.bodies.jsonl"
    bodies_path.write_text("".join(json.dumps(rest_body(r, inputs)) + "\n" for r in rows))
    return rows_path, bodies_path


def write_batch_bodies(directory: Path, model: str, rows: list[dict[str, Any]],
                       inputs: list[str], batch: int) -> Path:
    """JSON lines for wrk of `batch` examples each (row format), cycling over `rows`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{model}.bodies-b{batch}.jsonl"
    lines = []
    for start in range(len(rows)):
        chosen = [rows[(start + j) % len(rows)] for j in range(batch)]
        instances = [r[inputs[0]] if len(inputs) == 1 else {n: r[n] for n in inputs}
                     for r in chosen]
        lines.append(json.dumps({"instances": instances}) + "\n")
    path.write_text("".join(lines))
    return path


def ensure_wrk() -> str:
    """Path of wrk; installs Debian's package when missing (root, apt) or says how."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get"):
        print("bench: wrk is missing; installing Debian's wrk package", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("the REST load generator wrk is not installed: apt-get install wrk")
    return found


def _parse(output: str, what: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    raise RuntimeError(f"{what} printed no result:\n{output[-2000:]}")


def run_wrk(url: str, path: str, bodies: Path, concurrency: int,
            duration_s: float) -> dict[str, Any]:
    # One wrk thread drives 32 connections at these rates and leaves the cores to the server.
    argv = [ensure_wrk(), "-t1", f"-c{concurrency}", f"-d{max(int(round(duration_s)), 1)}s",
            "--timeout", "60s", "-s", str(WRK_SCRIPT), url]
    env = {"BENCH_PATH": path, "BENCH_BODIES": str(bodies), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=duration_s + 90)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    return _parse(done.stdout, "wrk")


def run_grpc(target: str, model: str, rows: Path, concurrency: int,
             duration_s: float) -> dict[str, Any]:
    argv = [sys.executable, "-m", "tests.bench.grpc_load", "--target", target, "--model", model,
            "--inputs", str(rows), "--concurrency", str(concurrency),
            "--duration", str(duration_s)]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=duration_s + 120)
    if done.returncode != 0:
        raise RuntimeError(f"grpc_load failed ({done.returncode}): {done.stderr[-2000:]}")
    return _parse(done.stdout, "grpc_load")


def drain(server: Server, timeout_s: float = 20.0, idle_ms: float = 30.0) -> None:
    """Wait until the server has finished what an earlier load left queued.

    A load generator stops at its deadline; requests it abandoned still run in
    the workers (a naive call takes hundreds of ms), and would count against
    the next point. Idle: under `idle_ms` of CPU in a 0.25 s window.
    """
    deadline = time.monotonic() + timeout_s
    last = server.cpu()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = server.cpu()
        if (now - last) * 1e3 < idle_ms:
            return
        last = now


def batch_totals(server: Server, model: str) -> tuple[float, float] | None:
    """(examples, model calls) so far from the gateway's multihead_batch_size histogram."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(server.http_url + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    total = {"multihead_batch_size_sum": 0.0, "multihead_batch_size_count": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in total and sample.labels.get("model") == model:
                total[sample.name] += sample.value
    return total["multihead_batch_size_sum"], total["multihead_batch_size_count"]


def measure(server: Server, load: Callable[[], dict[str, Any]],
            model: str | None = None) -> dict[str, Any]:
    """Run `load()` against `server`; add throughput, server CPU per request and RSS,
    and for a gateway (`model` given) the mean examples per model call."""
    drain(server)
    batches0 = batch_totals(server, model) if model else None
    cpu0 = server.cpu()
    client0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = load()
    client1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1 = server.cpu()
    n = max(result["requests"], 1)
    result["rps"] = result["requests"] / result["duration_s"] if result["duration_s"] else 0.0
    result["cpu_ms_per_req"] = (cpu1 - cpu0) * 1e3 / n
    client_cpu = (client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime)
    result["client_cpu_ms_per_req"] = client_cpu * 1e3 / n
    batches1 = batch_totals(server, model) if model else None
    if batches0 and batches1 and batches1[1] > batches0[1]:
        result["mean_batch"] = (batches1[0] - batches0[0]) / (batches1[1] - batches0[1])
    rss = server.worker_rss_mb()
    result["rss_mb_per_worker"] = sum(rss) / len(rss) if rss else 0.0
    return result
