"""`python -m tests.bench.profile` (`make profile`): where a gateway worker spends its time.

Starts the gateway exactly as `make bench` does (same trained runs, same exports, same
TF Serving JSON bodies), loads it with wrk at one concurrency (`--protocol grpc`: the
multihead gRPC API with h2load and the bench's framed request), and samples every worker
with py-spy meanwhile. Writes one flame graph per worker (SVG) and prints the functions
that hold the most samples, merged over the workers: by their own time and including
what they call. `--gil` keeps only samples of the thread holding the GIL, which is
what bounds a Python worker's throughput; without it, waiting threads count too.

The performance issue's before/after figures come from `make bench`; this says where
the time goes between them.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import threading
from pathlib import Path

from tests.bench import load, servers
from tests.bench.__main__ import example_rows, export_runs, prepare_runs, say
from tests.processes import REPO_ROOT


def py_spy() -> str:
    path = Path(sys.executable).with_name("py-spy")
    if not path.is_file():
        raise SystemExit("py-spy is not installed in this environment: run `make setup`")
    return str(path)


def summarize(raw_files: list[Path], top: int) -> str:
    """The `top` frames by own and by inclusive samples, from py-spy's raw (collapsed)
    output: one `frame;frame;...;leaf count` line per distinct stack."""
    total, own, inclusive = 0, collections.Counter(), collections.Counter()
    for path in raw_files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [f.split(":")[0] + ")" if " (" in f else f for f in stack.split(";")]
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    if not total:
        return "no samples (is py-spy allowed to ptrace the workers?)"
    lines = [f"{total} samples"]
    for title, counts in (("own time", own), ("including callees", inclusive)):
        lines.append(f"-- {title}")
        lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in counts.most_common(top)]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="profiler")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--protocol", choices=("rest", "grpc"), default="rest",
                   help="TF Serving REST with wrk, or the multihead gRPC API with h2load")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--gil", action="store_true", help="only samples holding the GIL")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--runs", default="runs")
    p.add_argument("--preset", default="default", choices=("default", "test"))
    p.add_argument("--out", default="build/bench")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=32)
    p.add_argument("--env", action="append", default=[], metavar="MULTIHEAD_X=V",
                   help="gateway settings to change (repeatable)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = REPO_ROOT / args.out
    runs = prepare_runs([args.model], REPO_ROOT / args.runs, out, args.preset)
    exports = export_runs(runs, out / "models")
    rows, names = example_rows(runs[args.model], exports[args.model])
    env = dict(e.split("=", 1) for e in args.env)
    server = servers.start_gateway(out / "models", args.workers, args.threads, env)
    profile_dir = out / "profile"
    profile_dir.mkdir(parents=True, exist_ok=True)
    if args.protocol == "grpc":  # h2load, as make bench drives the multihead gRPC API
        body = load.write_grpc_body(out / "inputs", args.model, rows)

        def run(seconds: float) -> dict:
            return load.run_grpc(server.grpc_target or "", body, args.concurrency, seconds)
    else:
        _, bodies = load.write_inputs(out / "inputs", args.model, rows, names)
        path = f"/v1/models/{args.model}:predict"

        def run(seconds: float) -> dict:
            return load.run_wrk(server.http_url or "", path, bodies, args.concurrency, seconds)
    try:
        run(2)  # warm
        result: dict = {}
        loader = threading.Thread(target=lambda: result.update(run(args.seconds + 1)))
        loader.start()
        spies, raws = [], []
        for pid in server.worker_pids():
            for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
                target = profile_dir / (f"{args.model}-{args.protocol}-c{args.concurrency}"
                                        f"-{pid}.{suffix}")
                argv = [py_spy(), "record", "--pid", str(pid), "--duration",
                        str(int(args.seconds)), "--rate", str(args.rate), "--format", fmt,
                        "--output", str(target), "--nonblocking"] + (
                    ["--gil"] if args.gil else [])
                spies.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE, text=True))
                if fmt == "raw":
                    raws.append(target)
        for spy in spies:
            _, err = spy.communicate(timeout=args.seconds + 60)
            if spy.returncode != 0:
                say(f"py-spy failed ({spy.returncode}): {err.strip()[-500:]}")
        loader.join(timeout=args.seconds + 120)
    finally:
        server.stop()
    rps = result.get("requests", 0) / max(result.get("duration_s", 1.0), 1e-9)
    print(f"{args.model} {args.protocol} c={args.concurrency}: {rps:.0f} req/s, p50 "
          f"{result.get('p50_ms', float('nan')):.2f} ms while sampled"
          f"{' (GIL holders only)' if args.gil else ''}")
    print(summarize([r for r in raws if r.is_file()], args.top))
    print(f"flame graphs: {profile_dir}/{args.model}-{args.protocol}-c{args.concurrency}-*.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
