"""Load generation: `wrk` for REST, `h2load` for the gateway's own gRPC API, each its own
process (both in C: a load generator in Python would take a good share of the two cores
from the server it measures).

gRPC is HTTP/2 with a 5-byte frame around each message (grpc/doc/PROTOCOL-HTTP2.md), so
nghttp2's h2load drives `multihead.v1.Gateway/Predict` as it is: POST of one framed,
serialized PredictRequest with `content-type: application/grpc` and `te: trailers`, over
up to MAX_GRPC_CONNECTIONS connections with the rest of the concurrency as streams on
them (gRPC clients multiplex; gunicorn workers share the port through SO_REUSEPORT, so
one connection would reach one worker only). h2load sees HTTP statuses only, not the
grpc-status trailer: a gateway's failed calls are counted from its own metrics instead
(`measure(..., count_failures=True)`).

`measure(server, load)` brackets one load run with the server tree's CPU time
(/proc) and reads RSS per worker afterwards, so every point carries requests/s,
latency percentiles, server CPU seconds per request and memory.
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.bench.procs import Server

WRK_SCRIPT = Path(__file__).with_name("wrk_post.lua")
MARK = "BENCH_JSON "
MAX_GRPC_CONNECTIONS = 8
PREDICT_METHOD = "/multihead.v1.Gateway/Predict"


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


def _ensure(tool: str, package: str) -> str:
    """Path of `tool`; installs Debian's `package` when missing (root, apt) or says how."""
    found = shutil.which(tool)
    if found:
        return found
    if shutil.which("apt-get"):
        print(f"bench: {tool} is missing; installing Debian's {package} package", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", package], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    found = shutil.which(tool)
    if not found:
        raise RuntimeError(f"the load generator {tool} is not installed: apt-get install "
                           f"{package}")
    return found


def ensure_wrk() -> str:
    return _ensure("wrk", "wrk")


def ensure_h2load() -> str:
    return _ensure("h2load", "nghttp2-client")


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


def grpc_request(model: str, row: dict[str, Any]) -> bytes:
    """One batch-1 `multihead.v1` PredictRequest for `row`, framed as gRPC sends it (a zero
    compression byte, the length, the message): strings as STRING, float lists FLOAT32."""
    from serving.protocols.multihead._gen import gateway_pb2 as pb

    req = pb.PredictRequest(model_spec=pb.ModelSpec(name=model))
    for name, value in row.items():
        t = req.inputs[name]
        if isinstance(value, str):
            t.dtype = pb.DataType.DATA_TYPE_STRING
            t.shape.append(1)
            t.string_values.append(value.encode())
        else:
            arr = np.asarray([value], dtype=np.float32)
            t.dtype = pb.DataType.DATA_TYPE_FLOAT32
            t.shape.extend(arr.shape)
            t.float_values.extend(arr.ravel().tolist())
    raw = req.SerializeToString()
    return b"\x00" + struct.pack(">I", len(raw)) + raw


def write_grpc_body(directory: Path, model: str, rows: list[dict[str, Any]]) -> Path:
    """h2load's request body for `model`: the first example (h2load sends one body)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{model}.predict.grpc"
    path.write_bytes(grpc_request(model, rows[0]))
    return path


def grpc_split(concurrency: int) -> tuple[int, int]:
    """(connections, streams per connection) that keep `concurrency` calls in flight."""
    connections = math.gcd(concurrency, MAX_GRPC_CONNECTIONS)
    return connections, concurrency // connections


def latency_summary(latencies_ms: Any) -> dict[str, float]:
    lat = np.asarray(latencies_ms if len(latencies_ms) else [float("nan")], dtype=float)
    return {"p50_ms": float(np.percentile(lat, 50)), "p90_ms": float(np.percentile(lat, 90)),
            "p99_ms": float(np.percentile(lat, 99)), "mean_ms": float(lat.mean()),
            "max_ms": float(lat.max())}


def parse_h2load_log(text: str) -> tuple[list[float], int, float]:
    """(latencies in ms of 2xx answers, non-2xx count, seconds from first start to last end)
    from h2load's --log-file rows: start (µs since the epoch), HTTP status, duration (µs)."""
    latencies, non_2xx, first, last = [], 0, math.inf, -math.inf
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        start, status, took = int(parts[0]), int(parts[1]), int(parts[2])
        first, last = min(first, start), max(last, start + took)
        if 200 <= status < 300:
            latencies.append(took / 1e3)
        else:
            non_2xx += 1
    return latencies, non_2xx, (last - first) / 1e6 if latencies or non_2xx else 0.0


def run_grpc(target: str, body: Path, concurrency: int, duration_s: float) -> dict[str, Any]:
    """Unary `multihead.v1.Gateway/Predict` calls of `body`, closed loop, for `duration_s`."""
    connections, streams = grpc_split(concurrency)
    with tempfile.TemporaryDirectory(prefix="bench-h2load-") as tmp:
        log = Path(tmp) / "requests.tsv"
        argv = [ensure_h2load(), "-D", f"{max(duration_s, 0.5):g}", "-c", str(connections),
                "-m", str(streams), "-t", "1", "-d", str(body),
                "-H", "content-type: application/grpc", "-H", "te: trailers",
                f"--log-file={log}", f"http://{target}{PREDICT_METHOD}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 90)
        if done.returncode != 0:
            raise RuntimeError(f"h2load failed ({done.returncode}): "
                               f"{(done.stdout + done.stderr)[-2000:]}")
        latencies, non_2xx, elapsed = parse_h2load_log(log.read_text())
    if not latencies and not non_2xx:
        raise RuntimeError(f"h2load completed no call: {done.stdout[-2000:]}")
    return {"requests": len(latencies), "duration_s": elapsed, "errors": 0,
            "non_2xx": non_2xx, **latency_summary(latencies)}


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


def gateway_counts(server: Server, model: str) -> dict[str, float] | None:
    """From the gateway's /metrics so far, for `model`: examples and model calls
    (multihead_batch_size), and gRPC calls that ended with a code other than OK."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(server.http_url + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    out = {"examples": 0.0, "calls": 0.0, "grpc_failed": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("model") != model:
                continue
            if sample.name == "multihead_batch_size_sum":
                out["examples"] += sample.value
            elif sample.name == "multihead_batch_size_count":
                out["calls"] += sample.value
            elif sample.name == "multihead_requests_total" and \
                    labels.get("transport") == "grpc" and labels.get("code") != "OK":
                out["grpc_failed"] += sample.value
    return out


def measure(server: Server, load: Callable[[], dict[str, Any]],
            model: str | None = None, count_failures: bool = False) -> dict[str, Any]:
    """Run `load()` against `server`; add throughput, server CPU per request and RSS,
    and for a gateway (`model` given) the mean examples per model call; with
    `count_failures`, its failed gRPC calls (from its metrics) are the point's errors."""
    drain(server)
    before = gateway_counts(server, model) if model else None
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
    after = gateway_counts(server, model) if model else None
    if before and after:
        if after["calls"] > before["calls"]:
            result["mean_batch"] = ((after["examples"] - before["examples"])
                                    / (after["calls"] - before["calls"]))
        if count_failures:
            result["errors"] += int(after["grpc_failed"] - before["grpc_failed"])
    rss = server.worker_rss_mb()
    result["rss_mb_per_worker"] = sum(rss) / len(rss) if rss else 0.0
    return result
