"""`python -m tests.bench` (`make bench`): the gateway against the model's own cost.

In one run, on the same examples (each run's examples.json), for each model:
limit (signature in-process), naive (Flask + keras predict under gunicorn),
gateway REST and gRPC with micro-batching on, then off, at each concurrency.
Prints a table, writes build/bench/results.json and build/bench/bench.png,
and prints the four ratios last.

Models come from finished training runs (`--runs`, default runs/); missing runs
are trained into build/bench/runs. Each run is exported into build/bench/models
so that the gateway and the naive app serve the very same weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from serving.config import Settings
from tests.bench import load, report
from tests.bench.procs import REPO_ROOT, Server, start_gateway, start_naive

RUN_FILES = ("config.json", "vocab.txt", "best.weights.h5")
_T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {msg}", flush=True)


def _py(*args: str, timeout: float = 1800, show: bool = False) -> str:
    """Run `python ARGS`; its stdout (shown live with `show`), or RuntimeError."""
    done = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, text=True, timeout=timeout,
                          stdout=None if show else subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout or ""


def finished(run: Path) -> bool:
    return all((run / f).is_file() for f in RUN_FILES)


def prepare_runs(models: list[str], runs: Path, out: Path) -> dict[str, Path]:
    """A finished run per model: --runs/NAME if there, else trained into out/runs."""
    chosen = {m: runs / m for m in models if finished(runs / m)}
    missing = [m for m in models if m not in chosen and not finished(out / "runs" / m)]
    if missing:
        say(f"training {', '.join(missing)} (no finished run under {runs}/; takes minutes, "
            "once: later runs reuse it)")
        _py("-m", "training", "all", "--models", ",".join(missing),
            "--model-dir", str(out / "trained-models"), "--out", str(out / "runs"), show=True)
    for m in models:
        chosen.setdefault(m, out / "runs" / m)
    return chosen


def export_runs(runs: dict[str, Path], repo: Path) -> dict[str, Path]:
    """Export each run into repo/NAME/1, unless the export there is of the same weights."""
    exports = {}
    for model, run in runs.items():
        weights = run / "best.weights.h5"
        source = f"{run.resolve()} {weights.stat().st_mtime_ns}"
        stamp, target = repo / f".{model}.source", repo / model
        if not (stamp.is_file() and stamp.read_text() == source and (target / "1").is_dir()):
            say(f"exporting {run} -> {target}")
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            _py("-m", "training", "export", "--run", str(run), "--model-dir", str(repo),
                "--name", model)
            stamp.write_text(source)
        exports[model] = max((p for p in target.iterdir() if p.name.isdigit()),
                             key=lambda p: int(p.name))
    return exports


def example_rows(run: Path, export: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The run's held-out examples as rows keyed by input name, and the input order."""
    card = json.loads((export / "assets.extra" / "model_card.json").read_text())
    names = [i["name"] for i in card["inputs"]]
    columns = json.loads((run / "examples.json").read_text())
    n = min(len(columns[name]) for name in names)
    return [{name: columns[name][i] for name in names} for i in range(n)], names


def _post(url: str, body: bytes) -> dict[str, Any]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _first_heads(answer: dict[str, Any]) -> dict[str, Any]:
    first = answer["predictions"][0]
    return first if isinstance(first, dict) else {"": first}


def check_same(model: str, naive: dict[str, Any], gateway: dict[str, Any]) -> None:
    """Both services must answer the first example alike, or the comparison is moot."""
    a, b = _first_heads(naive), _first_heads(gateway)
    for head, value in b.items():
        if head.endswith("_label") or head not in a:
            continue
        if abs(float(sum(_flat(value))) - float(sum(_flat(a[head])))) > 1e-3 * max(
                1.0, abs(float(sum(_flat(value))))):
            say(f"WARNING: {model} head {head}: gateway {value} != naive {a[head]}")


def _flat(v: Any) -> list[float]:
    return [float(x) for x in (v if isinstance(v, list) else [v])]


@dataclasses.dataclass
class Plan:
    models: list[str]
    concurrency: list[int]
    duration: float
    warmup: float
    bodies: dict[str, Path]
    rows: dict[str, Path]


def sweep(server: Server, plan: Plan, contender: str, protocol: str) -> list[dict[str, Any]]:
    points = []
    for model in plan.models:
        path = f"/v1/models/{model}:predict"

        def one(c: int, seconds: float, model: str = model, path: str = path) -> dict[str, Any]:
            if protocol == "rest":
                return load.run_wrk(server.http_url, path, plan.bodies[model], c, seconds)
            return load.run_grpc(server.grpc_target, model, plan.rows[model], c, seconds)

        if contender == "naive":
            # Keras traces predict anew for each input shape it meets, in each worker:
            # every example a few times per worker, one at a time, before any timing.
            body = plan.bodies[model].read_text().splitlines()
            for _ in range(3 * server.workers):
                for line in body:
                    _post(server.http_url + path, line.encode())
        one(max(plan.concurrency), plan.warmup)  # every worker and thread; not recorded
        load.drain(server)
        for c in plan.concurrency:
            p = load.measure(server, lambda c=c: one(c, plan.duration),
                             model if contender != "naive" else None)
            p.update(model=model, contender=contender, concurrency=c)
            say(f"{model:<10} {contender:<13} c={c:<3} {p['rps']:8.1f} req/s  "
                f"p50 {p['p50_ms']:7.2f} ms  p99 {p['p99_ms']:7.2f} ms  "
                f"cpu {p['cpu_ms_per_req']:6.2f} ms/req  errors {p['errors'] + p['non_2xx']}"
                + (f"  batch {p['mean_batch']:.1f}" if "mean_batch" in p else ""))
            points.append(p)
    return points


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    p = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n")[0])
    p.add_argument("--models", default="profiler,similarity")
    p.add_argument("--runs", default="runs", help="finished training runs (runs/NAME)")
    p.add_argument("--out", default="build/bench")
    p.add_argument("--concurrency", default="1,8,32")
    p.add_argument("--duration", type=float, default=4.0, help="seconds per load point")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per sweep")
    p.add_argument("--limit-duration", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=defaults.workers)
    p.add_argument("--threads", type=int, default=defaults.threads)
    p.add_argument("--env", action="append", default=[], metavar="MULTIHEAD_X=V",
                   help="extra gateway setting for both gateway runs (repeatable)")
    p.add_argument("--name", default="results",
                   help="file names under --out: NAME.json and, for results, bench.png")
    p.add_argument("--skip", default="", help="comma list of limit,naive,rest,grpc,nobatch to skip")
    args = p.parse_args(argv)
    out = (REPO_ROOT / args.out).resolve()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    skip = set(filter(None, args.skip.split(",")))
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    say(f"models {', '.join(models)}; concurrency {args.concurrency}; {args.duration:g}s per "
        f"point; workers {args.workers} x threads {args.threads}; load avg "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    runs = prepare_runs(models, (REPO_ROOT / args.runs), out)
    exports = export_runs(runs, out / "models")
    plan = Plan(models, [int(c) for c in args.concurrency.split(",")], args.duration,
                args.warmup, {}, {})
    for m in models:
        rows, names = example_rows(runs[m], exports[m])
        plan.rows[m], plan.bodies[m] = load.write_inputs(out / "inputs", m, rows, names)
    load.ensure_wrk()

    points: list[dict[str, Any]] = []
    for m in models if "limit" not in skip else []:
        say(f"limit: {m} signature in-process ({args.limit_duration:g}s batch 1, then batch 32)")
        limit = json.loads(_py("-m", "tests.bench.limit", "--export", str(exports[m]),
                               "--inputs", str(plan.rows[m]),
                               "--duration", str(args.limit_duration), timeout=600))
        for lp in report.limit_points(m, limit):
            say(f"{m:<10} {lp['contender']:<13} {lp['rps']:8.1f} /s  p50 {lp['p50_ms']:.2f} ms")
            points.append(lp)

    first_body = {m: plan.bodies[m].read_text().splitlines()[0].encode() for m in models}
    naive_answers: dict[str, Any] = {}
    if "naive" not in skip:
        say("naive: starting Flask + keras predict under gunicorn")
        server = start_naive({m: runs[m] for m in models}, args.workers, args.threads)
        try:
            for m in models:
                naive_answers[m] = _post(f"{server.http_url}/v1/models/{m}:predict",
                                         first_body[m])
            points += sweep(server, plan, "naive", "rest")
        finally:
            server.stop()

    modes = [("", {})] + ([] if "nobatch" in skip else
                          [("-nobatch", {"MULTIHEAD_ENABLE_BATCHING": "false"})])
    for suffix, env in modes:
        say(f"gateway{suffix}: starting python -m serving")
        server = start_gateway(out / "models", args.workers, args.threads, {**extra_env, **env})
        try:
            for m in models:
                answer = _post(f"{server.http_url}/v1/models/{m}:predict", first_body[m])
                if m in naive_answers:
                    check_same(m, naive_answers[m], answer)
            for protocol in ("rest", "grpc"):
                if protocol not in skip:
                    points += sweep(server, plan, protocol + suffix, protocol)
        finally:
            server.stop()

    ratios = report.compute_ratios(points)
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": platform.node(), "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
            "duration_s": args.duration, "workers": args.workers, "threads": args.threads,
            "gateway_env": extra_env, "settings": dataclasses.asdict(defaults),
            "runs": {m: str(r) for m, r in runs.items()}}
    json_path = out / f"{args.name}.json"
    png_path = out / ("bench.png" if args.name == "results" else f"{args.name}.png")
    report.write_json(json_path, meta, points, ratios)
    report.plot(png_path, points)
    print()
    print(report.table(points))
    print(f"\nwrote {json_path} and {png_path} ({time.monotonic() - _T0:.0f}s)\n")
    for line in report.ratio_lines(points, ratios):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
