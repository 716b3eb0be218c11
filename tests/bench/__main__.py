"""`python -m tests.bench` (`make bench`): the gateway against what users would pick instead.

In one run, on the same examples (each training run's examples.json) and the same
exported SavedModels, for each model: the limit (the signature in-process, batch
1 and 32), the framework floors (an empty route on the gateway's gunicorn +
Flask settings, an empty RPC on its gRPC server options), the gateway (REST,
multihead gRPC through h2load, and OIP v2 / TF Serving gRPC through perf_analyzer where
the gateway answers them; batching on and off; 32-example requests; the tfserving
backend in front of the TF Serving stand-in, the gateway or the stand-in batching), the
peers (FastAPI + uvicorn calling the signature, KServe's model server, LitServe with and
without its batching, each in its own locked environment), and the naive Flask + keras
predict app as a footnote. Every server runs for the whole run; the points
are measured interleaved (A B C, A B C, ... per model and concurrency) with
`--repeats` repetitions, and reported as median and min-max. Prints a table,
writes build/bench/results.json and build/bench/bench.png, and prints the ratios
last. Options default from BENCH_* environment variables (see --help).
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
from tests.bench import load, procs, report, servers
from tests.bench import perf_analyzer as pa
from tests.bench.contenders import BATCH32, BY_NAME, CONTENDERS, Contender, Step, schedule
from tests.bench.contenders import b32_concurrency as choose_b32
from tests.bench.procs import Server
from tests.processes import REPO_ROOT

RUN_FILES = ("config.json", "vocab.txt", "best.weights.h5")
# Servers are measured for IDLE_CPU_S once all are warm; one that burns more than SPIN_PCT
# of a core serving nothing is paused while the others are measured (procs.py).
IDLE_CPU_S = 3.0
SPIN_PCT = 5.0
GATEWAYS = ("gateway", "gateway-nobatch", "gateway-tfs", "gateway-tfs-nobatch")
# Contenders whose first answer must equal the gateway's (else the comparison is moot).
SAME_ANSWER = ("fastapi", "kserve", "litserve", "litserve-batch", "naive", "gateway-nobatch",
               "gateway-tfs", "gateway-tfs-nobatch")
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


def prepare_runs(models: list[str], runs: Path, out: Path, preset: str) -> dict[str, Path]:
    """A finished run per model: --runs/NAME if there, else trained into out/runs."""
    chosen = {m: runs / m for m in models if finished(runs / m)}
    missing = [m for m in models if m not in chosen and not finished(out / "runs" / m)]
    if missing:
        say(f"training {', '.join(missing)} (no finished run under {runs}/; takes minutes, "
            "once: later runs reuse it)")
        _py("-m", "training", "all", "--models", ",".join(missing), "--preset", preset,
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
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def _flat(v: Any) -> list[float]:
    return [float(x) for x in (v if isinstance(v, list) else [v])]


def check_same(model: str, name: str, reference: dict[str, Any], other: dict[str, Any]) -> None:
    """A peer must answer the first example as the gateway does, or the comparison is moot."""
    def heads(answer: dict[str, Any]) -> dict[str, Any]:
        first = answer["predictions"][0]
        return first if isinstance(first, dict) else {"": first}

    a, b = heads(reference), heads(other)
    for head, value in a.items():
        if head.endswith("_label") or head not in b:
            continue
        want, got = sum(_flat(value)), sum(_flat(b[head]))
        if abs(want - got) > 1e-3 * max(1.0, abs(want)):
            say(f"WARNING: {model} head {head}: {name} answers {b[head]}, the gateway {value}")


@dataclasses.dataclass
class Plan:
    models: list[str]
    concurrency: list[int]
    seconds: float
    warmup: float
    b32_at: int
    out: Path
    rows: dict[str, Path] = dataclasses.field(default_factory=dict)
    grpc_bodies: dict[str, Path] = dataclasses.field(default_factory=dict)
    bodies: dict[tuple[str, int], Path] = dataclasses.field(default_factory=dict)
    pa_data: dict[str, Path] = dataclasses.field(default_factory=dict)
    pa_dims: dict[tuple[str, str], dict[str, list[int]]] = dataclasses.field(
        default_factory=dict)


def run_load(step: Step, server: Server, plan: Plan, seconds: float,
             concurrency: int | None = None) -> dict[str, Any]:
    """One load run of `step`'s contender against its server (no accounting)."""
    k, m = step.contender, step.model
    c = concurrency or step.concurrency
    if k.load == "wrk":
        return load.run_wrk(server.http_url or "", f"/v1/models/{m}:predict",
                            plan.bodies[(m, k.batch)], c, seconds)
    if k.load == "grpc":
        return load.run_grpc(server.grpc_target or "", plan.grpc_bodies[m], c, seconds)
    target = (server.http_url or "").removeprefix("http://") if k.load == "v2-rest" \
        else server.grpc_target or ""
    return pa.run(k.load, target, m, plan.pa_data[m], plan.pa_dims[(k.load, m)], c, seconds,
                  plan.out / "perf_analyzer" / f"{k.name}-{m}-c{c}.csv")


def probe(contender: Contender, server: Server, model: str, plan: Plan) -> str:
    """"" when `contender` can load `model` on this gateway, else why not (printed, skipped)."""
    if contender.load not in pa.KINDS:
        return ""
    if pa.binary() is None:
        return f"perf_analyzer is not installed at {pa.BINARY} (make bench installs it)"
    if contender.load == "tfs-grpc":
        dims, why = pa.probe_tfs(server.grpc_target or "", model)
    else:
        meta, why = pa.probe_v2(server.http_url or "", model)
        dims = pa.v2_dims(meta) if meta else None
    if dims is not None:
        plan.pa_dims[(contender.load, model)] = dims
    return why


def warm(contender: Contender, server: Server, model: str, plan: Plan) -> None:
    """Every worker and thread has run this model before anything is timed."""
    if contender.name == "naive":
        # Keras traces predict anew for each input shape it meets, in each worker:
        # every example a few times per worker, one at a time, before any timing.
        path = f"{server.http_url}/v1/models/{model}:predict"
        for _ in range(3 * server.workers):
            for line in plan.bodies[(model, 1)].read_text().splitlines():
                _post(path, line.encode())
    run_load(Step(model, max(plan.concurrency), 0, contender), server, plan,
             max(plan.warmup, 1.0))
    load.drain(server)


def start_servers(needed: list[str], exports: dict[str, Path], runs: dict[str, Path],
                  out: Path, args: argparse.Namespace, extra_env: dict[str, str]
                  ) -> dict[str, Server]:
    started: dict[str, Server] = {}

    def tfserving(batching: bool) -> Server:  # the stand-in behind one tfserving gateway
        name = "tfserving-fake-batching" if batching else "tfserving-fake"
        if name not in started:
            started[name] = servers.start_tfserving_fake(out / "models", batching)
        return started[name]

    nobatch = {"MULTIHEAD_ENABLE_BATCHING": "false"}
    starters = {
        "gateway": lambda: servers.start_gateway(out / "models", args.workers, args.threads,
                                                 extra_env),
        "gateway-nobatch": lambda: servers.start_gateway(
            out / "models", args.workers, args.threads, {**extra_env, **nobatch},
            name="gateway-nobatch"),
        # Which layer batches with the tfserving backend (tests/bench/batching_layer.py has
        # the third set-up, both): the gateway, or TF Serving (--enable_batching).
        "gateway-tfs": lambda: servers.start_gateway_tfserving(
            out / "models", tfserving(False), args.workers, args.threads, extra_env),
        "gateway-tfs-nobatch": lambda: servers.start_gateway_tfserving(
            out / "models", tfserving(True), args.workers, args.threads,
            {**extra_env, **nobatch}, name="gateway-tfs-nobatch"),
        "fastapi": lambda: servers.start_fastapi(exports, args.workers),
        "kserve": lambda: servers.start_kserve(exports, args.workers),
        "litserve": lambda: servers.start_litserve(exports, args.workers),
        "litserve-batch": lambda: servers.start_litserve(
            exports, args.workers, max_batch_size=Settings().max_batch_size,
            name="litserve-batch"),
        "floor-rest": lambda: servers.start_floor_rest(args.workers, args.threads),
        "floor-grpc": lambda: servers.start_floor_grpc(args.workers, args.threads),
        "naive": lambda: servers.start_naive(runs, args.workers, args.threads),
    }
    for name in needed:
        say(f"starting {name}")
        t0 = time.monotonic()
        try:
            started[name] = starters[name]()
        except (RuntimeError, OSError) as exc:
            text = str(exc)
            say(f"SKIPPED {name}: it did not start: {text.splitlines()[0] if text else exc!r}"
                f"\n{text[-600:]}")
            continue
        say(f"{name} ready in {time.monotonic() - t0:.0f}s")
    return started


def _env_default(name: str, default: str) -> str:
    return os.environ.get(name) or default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = Settings()
    p = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n")[0],
                                epilog="Each option also reads the BENCH_* variable named in "
                                       "its help; a flag wins over the variable.")
    p.add_argument("--models", default=_env_default("BENCH_MODELS", "profiler,similarity"),
                   help="models to measure (BENCH_MODELS)")
    p.add_argument("--seconds", "--duration", dest="seconds", type=float,
                   default=float(_env_default("BENCH_SECONDS", "3")),
                   help="seconds per load point (BENCH_SECONDS; wrk rounds to whole seconds)")
    p.add_argument("--repeats", type=int, default=int(_env_default("BENCH_REPEATS", "3")),
                   help="repetitions of every point, interleaved (BENCH_REPEATS)")
    p.add_argument("--warmup", type=float, default=float(_env_default("BENCH_WARMUP", "1")),
                   help="seconds of warm-up per contender and model (BENCH_WARMUP)")
    p.add_argument("--concurrency", default=_env_default("BENCH_CONCURRENCY", "1,8,32"),
                   help="concurrency levels (BENCH_CONCURRENCY)")
    p.add_argument("--batch32-concurrency", type=int, default=8,
                   help="concurrency of the 32-example requests (the top one if not swept)")
    p.add_argument("--limit-seconds", type=float, default=None,
                   help="seconds per in-process limit measurement (default: --seconds)")
    p.add_argument("--skip", default=_env_default("BENCH_SKIP", ""),
                   help="comma list of contenders to leave out, or 'limit' (BENCH_SKIP); "
                        f"contenders: {', '.join(BY_NAME)}")
    p.add_argument("--runs", default="runs", help="finished training runs (runs/NAME)")
    p.add_argument("--preset", default=_env_default("BENCH_PRESET", "default"),
                   choices=("default", "test"),
                   help="training preset for missing runs (BENCH_PRESET)")
    p.add_argument("--out", default="build/bench")
    p.add_argument("--workers", type=int, default=defaults.workers)
    p.add_argument("--threads", type=int, default=defaults.threads)
    p.add_argument("--env", action="append", default=[], metavar="MULTIHEAD_X=V",
                   help="extra gateway setting for both gateways (repeatable)")
    p.add_argument("--name", default="results",
                   help="file names under --out: NAME.json and, for results, bench.png")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = (REPO_ROOT / args.out).resolve()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    skip = set(filter(None, (s.strip() for s in args.skip.split(","))))
    unknown = skip - set(BY_NAME) - {"limit"}
    if unknown:
        raise SystemExit(f"--skip names unknown contenders {sorted(unknown)}; known: "
                         f"limit, {', '.join(BY_NAME)}")
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    concurrency = [int(c) for c in args.concurrency.split(",")]
    plan = Plan(models, concurrency, args.seconds, args.warmup,
                choose_b32(concurrency, args.batch32_concurrency), out)
    say(f"models {', '.join(models)}; concurrency {args.concurrency}; {args.seconds:g}s per "
        f"point x {args.repeats} interleaved repeats; workers {args.workers} x threads "
        f"{args.threads}; load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    runs = prepare_runs(models, REPO_ROOT / args.runs, out, args.preset)
    exports = export_runs(runs, out / "models")
    for m in models:
        rows, names = example_rows(runs[m], exports[m])
        plan.rows[m], plan.bodies[(m, 1)] = load.write_inputs(out / "inputs", m, rows, names)
        plan.grpc_bodies[m] = load.write_grpc_body(out / "inputs", m, rows)
        plan.bodies[(m, BATCH32)] = load.write_batch_bodies(out / "inputs", m, rows, names,
                                                            BATCH32)
        plan.pa_data[m] = pa.write_input_data(out / "inputs" / f"{m}.perf_analyzer.json", rows)
    load.ensure_wrk()
    load.ensure_h2load()
    (out / "perf_analyzer").mkdir(parents=True, exist_ok=True)

    contenders = [k for k in CONTENDERS if k.name not in skip]
    for peer in ("kserve", "litserve"):
        if servers.peer_python(peer) is None and any(k.server.startswith(peer)
                                                     for k in contenders):
            say(f"SKIPPED {peer}: its environment {servers.PEER_VENVS / peer} is missing "
                "(make bench builds it)")
            contenders = [k for k in contenders if not k.server.startswith(peer)]
    needed = list(dict.fromkeys(k.server for k in contenders))
    started = start_servers(needed, exports, runs, out, args, extra_env)
    measurements: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    try:
        idle = {name: s.worker_rss_mb() for name, s in started.items()
                if not name.startswith("tfserving-fake")}
        for line in report.idle_lines(idle):
            say(line)
        contenders = [k for k in contenders if k.server in started]
        broken: set[tuple[str, str]] = set()  # (contender, model) that failed: not retried
        for k in contenders:
            for m in models:
                why = probe(k, started[k.server], m, plan)
                if why:
                    say(f"SKIPPED {k.name} for {m}: {why}")
                    skipped[f"{k.name}/{m}"] = why
                    broken.add((k.name, m))

        if "limit" not in skip:
            limit_s = args.limit_seconds or args.seconds
            for m in models:
                say(f"limit: {m} signature in-process ({limit_s:g}s batch 1, then batch 32, "
                    f"x {args.repeats})")
                limit = json.loads(_py("-m", "tests.bench.limit", "--export", str(exports[m]),
                                       "--inputs", str(plan.rows[m]), "--duration",
                                       str(limit_s), "--repeats", str(args.repeats),
                                       timeout=600))
                for lp in report.limit_points(m, limit):
                    measurements.append(lp)
                    say(f"{m:<10} {lp['contender']:<13} rep {lp['rep'] + 1} "
                        f"{lp['rps']:8.1f} /s  p50 {lp['p50_ms']:.2f} ms")

        first = {m: plan.bodies[(m, 1)].read_text().splitlines()[0].encode() for m in models}
        reference = {m: _post(f"{started['gateway'].http_url}/v1/models/{m}:predict", first[m])
                     for m in models} if "gateway" in started else {}
        for k in contenders:
            for m in models:
                if (k.name, m) in broken:
                    continue
                server = started[k.server]
                if k.load == "wrk" and k.batch == 1 and m in reference and \
                        k.server in SAME_ANSWER:
                    check_same(m, k.name, reference[m],
                               _post(f"{server.http_url}/v1/models/{m}:predict", first[m]))
                say(f"warming up {k.name} for {m}")
                try:
                    warm(k, server, m, plan)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                    say(f"SKIPPED {k.name} for {m}: warm-up failed ({str(exc)[-400:]})")
                    skipped[f"{k.name}/{m}"] = f"warm-up failed: {str(exc)[-400:]}"
                    broken.add((k.name, m))

        idle_cpu = procs.idle_cpu(started, IDLE_CPU_S)
        spinning = {name for name, pct in idle_cpu.items() if pct > SPIN_PCT}
        say(report.idle_cpu_line(idle_cpu, spinning))
        paused = [started[name] for name in spinning]
        for v in paused:
            v.pause()
        steps = [s for s in schedule(models, concurrency, contenders, args.repeats, plan.b32_at)
                 if (s.contender.name, s.model) not in broken]
        say(f"{len(steps)} measurements, interleaved; about "
            f"{len(steps) * (args.seconds + 1.5) / 60:.0f} min")
        t_start = time.monotonic()
        for i, step in enumerate(steps):
            k, m = step.contender, step.model
            if (k.name, m) in broken:
                continue
            server = started[k.server]
            woken = [v for v in (server, *server.companions) if any(v is p for p in paused)]
            try:
                for v in woken:
                    v.resume()
                if woken:  # back from a pause: un-timed load first, as every warm-up
                    warm(k, server, m, plan)
                point = load.measure(server, lambda s=step, v=server: run_load(s, v, plan,
                                                                               args.seconds),
                                     m if k.server in GATEWAYS else None,
                                     count_failures=k.load == "grpc")
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                say(f"FAILED {k.name} for {m} at c={step.concurrency}: {str(exc)[-400:]}; "
                    "its remaining points are skipped")
                skipped[f"{k.name}/{m}"] = f"failed: {str(exc)[-400:]}"
                broken.add((k.name, m))
                continue
            finally:
                for v in woken:
                    v.pause()
            point.update(model=m, contender=k.name, concurrency=step.concurrency, rep=step.rep,
                         examples_per_s=point["rps"] * k.batch)
            measurements.append(point)
            done = time.monotonic() - t_start
            eta = done / (i + 1) * (len(steps) - i - 1)
            say(f"({i + 1}/{len(steps)}, ETA {eta / 60:4.1f} min) {m:<10} c={step.concurrency:<3}"
                f" rep {step.rep + 1}/{args.repeats} {k.name:<13} {point['rps']:8.1f} req/s  "
                f"p50 {point['p50_ms']:7.2f} ms  p99 {point['p99_ms']:7.2f} ms  "
                f"cpu {point['cpu_ms_per_req']:6.2f} ms/req  "
                f"errors {point['errors'] + point['non_2xx']}"
                + (f"  batch {point['mean_batch']:.1f}" if "mean_batch" in point else ""))
    finally:
        for s in started.values():
            s.stop()

    points = report.aggregate(measurements)
    ratios = report.compute_ratios(points, plan.b32_at)
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": platform.node(), "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
            "seconds": args.seconds, "repeats": args.repeats, "concurrency": concurrency,
            "batch32_concurrency": plan.b32_at, "workers": args.workers,
            "threads": args.threads, "gateway_env": extra_env,
            "settings": dataclasses.asdict(Settings()), "idle_rss_mb_per_worker": idle,
            "idle_cpu_pct_of_a_core": idle_cpu, "paused_while_others_measured": sorted(spinning),
            "skipped": skipped, "contenders": {k.name: k.what for k in CONTENDERS},
            "runs": {m: str(r) for m, r in runs.items()},
            "wall_s": time.monotonic() - _T0}
    json_path = out / f"{args.name}.json"
    png_path = out / ("bench.png" if args.name == "results" else f"{args.name}.png")
    report.write_json(json_path, meta, measurements, points, ratios)
    report.plot(png_path, points)
    print()
    print(report.table(points))
    print()
    for line in report.idle_lines(idle):
        print(line)
    print(report.idle_cpu_line(idle_cpu, spinning))
    for what, why in skipped.items():
        print(f"skipped {what}: {why[:200]}")
    print(f"\nwrote {json_path} and {png_path} ({time.monotonic() - _T0:.0f}s)\n")
    for line in report.peer_lines(points):
        print(line)
    print()
    for line in report.ratio_lines(points, ratios, plan.b32_at):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
