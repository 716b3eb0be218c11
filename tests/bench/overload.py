"""`python -m tests.bench.overload` (`make bench` runs it after the main points): the gateway
under more load than its cores, against its own throughput at ordinary load.

The profiler's TF Serving REST route with the training run's batch-1 bodies (the main
points' inputs), driven by wrk (one thread, `--timeout 5s`: an answer later than that is a
timed-out connection) at c=32, the reference throughput, and c=512, BENCH_OVERLOAD_SECONDS
(20: wrk opens every connection at the start, and those first requests wait for their
connection to be accepted; a longer run weighs them less) each, interleaved (every
contender at c=32, then at c=512, then again) with BENCH_OVERLOAD_REPEATS (3) repetitions;
medians are reported. Contenders: `gateway` (this tree, default settings) and, with
`--before REF` (BENCH_OVERLOAD_BEFORE), the same gateway as of git REF (its `serving/`
extracted into build/bench/before/REF, with this tree's generated gRPC stubs), e.g. the
commit before the overload work.

Each point reports goodput (200 answers per second), the 503s (shed), connection errors
by kind (refused, reset, timed out), p50/p99 of every answer, and the gateway's
`multihead_shed_requests_total` increase (it also counts the requests wrk left behind
when it stopped, which are shed once their queue budget is spent). Writes
build/bench/overload.json and prints the targets of the overload issue last, checked
against `gateway`: no connection refused, reset or timed out at c=512; goodput at c=512 >=
0.8 x the c=32 throughput; p99 of the answers at c=512 <= 2 s; every 503 counted as shed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.bench import load, servers
from tests.bench.procs import Server
from tests.processes import REPO_ROOT, free_port, subprocess_env

WRK_SCRIPT = Path(__file__).with_name("wrk_overload.lua")
MODEL = "profiler"
TIMEOUT_S = 5
TARGETS = "no connection errors at c=512; goodput(512) >= 0.8 x rps(32); p99(512) <= 2 s"


def say(msg: str) -> None:
    print(f"[overload] {msg}", flush=True)


def run_wrk(server: Server, bodies: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    argv = [load.ensure_wrk(), "-t1", f"-c{concurrency}", f"-d{max(int(seconds), 1)}s",
            "--timeout", f"{TIMEOUT_S}s", "-s", str(WRK_SCRIPT), server.http_url or ""]
    env = {"BENCH_PATH": f"/v1/models/{MODEL}:predict", "BENCH_BODIES": str(bodies),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 90)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    for line in done.stdout.splitlines():
        if line.startswith(load.MARK):
            return json.loads(line[len(load.MARK):])
    raise RuntimeError(f"wrk printed no result:\n{done.stdout[-2000:]}")


def shed_total(server: Server) -> float:
    """multihead_shed_requests_total over every label (0 where the gateway has none)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "multihead_shed_requests_total")


def point(server: Server, bodies: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    load.drain(server)
    shed0, cpu0 = shed_total(server), server.cpu()
    result = run_wrk(server, bodies, concurrency, seconds)
    result["cpu_s"] = server.cpu() - cpu0
    result["shed_counted"] = shed_total(server) - shed0
    duration = result["duration_s"] or 1.0
    result["goodput"] = result["ok"] / duration
    result["connection_errors"] = sum(result[k] for k in ("connect_errors", "read_errors",
                                                         "write_errors", "timeouts"))
    return result


def start_before(ref: str, out: Path, model_dir: Path, workers: int, threads: int) -> Server:
    """The gateway as of git `ref`, started like `servers.start_gateway` starts this one."""
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO_ROOT, text=True,
                         capture_output=True, check=True).stdout.strip()
    root = out / "before" / sha
    if not (root / "serving").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "serving", "proto", "scripts",
                                  "clients", "Makefile"], cwd=REPO_ROOT, capture_output=True,
                                 check=True).stdout
        with tempfile.TemporaryFile() as f:
            f.write(archive)
            f.seek(0)
            with tarfile.open(fileobj=f) as tar:
                tar.extractall(root, filter="data")
        _make_proto(root)
    http_port, grpc_port = free_port(), free_port()
    env = subprocess_env({
        "MULTIHEAD_BACKEND": "embedded", "MULTIHEAD_MODEL_DIR": str(model_dir),
        "MULTIHEAD_HOST": "127.0.0.1", "MULTIHEAD_HTTP_PORT": str(http_port),
        "MULTIHEAD_GRPC_PORT": str(grpc_port), **servers.worker_env(workers, threads),
        "PYTHONPATH": str(root)})
    log = tempfile.NamedTemporaryFile(prefix="bench-before-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "-m", "serving"], cwd=root, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    server = Server(f"gateway@{sha}", process, f"http://127.0.0.1:{http_port}",
                    f"127.0.0.1:{grpc_port}", Path(log.name), workers)
    try:
        server.wait_ready("/readyz")
    except BaseException:
        server.stop()
        raise
    return server


def _make_proto(root: Path) -> None:
    """Generate the gRPC stubs of a checked-out revision as its own Makefile does (the
    commands of its `proto` target; they moved between revisions)."""
    lines = (root / "Makefile").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("proto:")))
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        command = line.strip().replace("$(PY)", sys.executable)
        subprocess.run(command, shell=True, cwd=root, check=True, capture_output=True)


def summarize(points: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return statistics.median(p[key] for p in points)

    return {"goodput": median("goodput"), "rps": median("requests") / median("duration_s"),
            "p50_ms": median("p50_ms"), "p99_ms": median("p99_ms"),
            "max_ms": max(p["max_ms"] for p in points),
            "shed": sum(p["shed"] for p in points), "other": sum(p["other"] for p in points),
            "shed_counted": sum(p["shed_counted"] for p in points),
            "refused": sum(p["connect_errors"] for p in points),
            "reset": sum(p["read_errors"] + p["write_errors"] for p in points),
            "timed_out": sum(p["timeouts"] for p in points),
            "goodput_range": (min(p["goodput"] for p in points),
                              max(p["goodput"] for p in points))}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m tests.bench.overload",
                                description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=float(env("BENCH_OVERLOAD_SECONDS") or 20))
    p.add_argument("--repeats", type=int, default=int(env("BENCH_OVERLOAD_REPEATS") or 3))
    p.add_argument("--concurrency", default=env("BENCH_OVERLOAD_CONCURRENCY") or "32,512")
    p.add_argument("--before", default=env("BENCH_OVERLOAD_BEFORE") or "",
                   help="git ref of a gateway to measure beside this one")
    p.add_argument("--runs", default="runs")
    p.add_argument("--preset", default=env("BENCH_PRESET") or "default",
                   choices=("default", "test"))
    p.add_argument("--out", default="build/bench")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=32)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from tests.bench.__main__ import example_rows, export_runs, prepare_runs

    args = parse_args(argv)
    out = (REPO_ROOT / args.out).resolve()
    levels = [int(c) for c in args.concurrency.split(",")]
    say(f"{MODEL}, c={levels}, {args.seconds:g} s x {args.repeats} interleaved; load avg "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    runs = prepare_runs([MODEL], REPO_ROOT / args.runs, out, args.preset)
    exports = export_runs(runs, out / "models")
    rows, names = example_rows(runs[MODEL], exports[MODEL])
    _, bodies = load.write_inputs(out / "inputs", MODEL, rows, names)

    started: dict[str, Server] = {}
    measured: dict[tuple[str, int], list[dict[str, Any]]] = {}
    try:
        started["gateway"] = servers.start_gateway(out / "models", args.workers, args.threads)
        if args.before:
            gw = start_before(args.before, out, out / "models", args.workers, args.threads)
            started[gw.name] = gw
        for name, server in started.items():
            say(f"warming up {name}")
            run_wrk(server, bodies, max(levels), 2)
        for rep in range(args.repeats):
            for c in levels:
                for name, server in started.items():
                    p = point(server, bodies, c, args.seconds)
                    measured.setdefault((name, c), []).append(p)
                    say(f"rep {rep + 1} c={c:<4} {name:<16} goodput {p['goodput']:7.1f}/s  "
                        f"503 {p['shed']:5d}  other {p['other']}  errors refused "
                        f"{p['connect_errors']} reset {p['read_errors'] + p['write_errors']} "
                        f"timeout {p['timeouts']}  p50 {p['p50_ms']:7.1f} ms  p99 "
                        f"{p['p99_ms']:7.1f} ms  shed counted {p['shed_counted']:.0f}")
    finally:
        for server in started.values():
            server.stop()

    summary = {f"{name} c={c}": summarize(points) for (name, c), points in measured.items()}
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "load_avg": os.getloadavg(), "cpus": os.cpu_count(), "seconds": args.seconds,
              "repeats": args.repeats, "concurrency": levels, "summary": summary,
              "points": {f"{n} c={c}": v for (n, c), v in measured.items()}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "overload.json").write_text(json.dumps(result, indent=2))
    print()
    for key, s in summary.items():
        print(f"{key:<24} goodput {s['goodput']:7.1f}/s (range {s['goodput_range'][0]:.0f}-"
              f"{s['goodput_range'][1]:.0f})  p50 {s['p50_ms']:.0f} ms  p99 {s['p99_ms']:.0f} ms"
              f"  503 {s['shed']} (counted {s['shed_counted']:.0f})  refused {s['refused']}  "
              f"reset {s['reset']}  timed out {s['timed_out']}")
    low, high = min(levels), max(levels)
    base, peak = summary.get(f"gateway c={low}"), summary.get(f"gateway c={high}")
    if base and peak:
        ratio = peak["goodput"] / base["goodput"] if base["goodput"] else 0.0
        errors = peak["refused"] + peak["reset"] + peak["timed_out"]
        print(f"\ntargets ({TARGETS}):")
        print(f"  connection errors at c={high}: {errors} ({'met' if errors == 0 else 'MISSED'})")
        print(f"  goodput c={high} / throughput c={low}: {ratio:.2f} "
              f"({'met' if ratio >= 0.8 else 'MISSED'})")
        print(f"  p99 of the answers at c={high}: {peak['p99_ms'] / 1000:.2f} s "
              f"({'met' if peak['p99_ms'] <= 2000 else 'MISSED'})")
        print(f"  503s counted as shed: {peak['shed']} answered, {peak['shed_counted']:.0f} "
              "counted")
    print(f"\nwrote {out / 'overload.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
