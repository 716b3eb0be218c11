"""Results of one bench run: medians and spreads, the ratios, the table, results.json, the plot.

A measurement is one contender at one concurrency for one model, one repetition:
`{"model", "contender", "concurrency", "rep", "requests", "rps", "p50_ms",
"p90_ms", "p99_ms", "cpu_ms_per_req", "rss_mb_per_worker", "errors", "non_2xx"}`
(and `mean_batch` for the gateway: examples per model call, from its metrics).
`aggregate` folds the repetitions of a point into its median and spread
(min-max); the ratios and the table read the medians. `examples_per_s` is
requests/s times the examples per request (32 for `rest-b32`). The limit gives
two points per model and repetition: `limit-b1` (one example per call; rps =
calls/s) and `limit-b32` (32 examples per call; rps = examples/s, the latency
columns per call).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.bench.contenders import BATCH32, BY_NAME, ORDER, PEERS

SPREAD_KEYS = ("rps", "p50_ms", "examples_per_s")
MEDIAN_KEYS = ("rps", "p50_ms", "p90_ms", "p99_ms", "cpu_ms_per_req", "rss_mb_per_worker",
               "examples_per_s", "mean_batch")


def limit_points(model: str, limit: dict[str, Any]) -> list[dict[str, Any]]:
    """The limit points of a model from tests/bench/limit.py's output, one per repetition."""
    out = []
    for key, contender, per_call in (("batch1", "limit-b1", 1), ("batch32", "limit-b32", 32)):
        runs = limit[key] if isinstance(limit[key], list) else [limit[key]]
        for rep, m in enumerate(runs):
            lat = np.asarray(m["latencies_s"]) * 1e3
            calls = m["calls"]
            out.append({
                "model": model, "contender": contender, "concurrency": 1, "rep": rep,
                "requests": calls * per_call, "duration_s": m["elapsed_s"],
                "rps": calls * per_call / m["elapsed_s"],
                "examples_per_s": calls * per_call / m["elapsed_s"],
                "p50_ms": float(np.percentile(lat, 50)),
                "p90_ms": float(np.percentile(lat, 90)),
                "p99_ms": float(np.percentile(lat, 99)),
                "cpu_ms_per_req": m["cpu_s"] * 1e3 / (calls * per_call),
                "rss_mb_per_worker": limit.get("rss_mb", 0.0), "mean_batch": float(per_call),
                "errors": 0, "non_2xx": 0})
    return out


def examples_per_request(contender: str) -> int:
    known = BY_NAME.get(contender)
    return known.batch if known else 1


def aggregate(measurements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per (model, contender, concurrency): medians, min-max spreads, rep count."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for m in measurements:
        groups.setdefault((m["model"], m["contender"], m["concurrency"]), []).append(m)
    points = []
    for (model, contender, c), runs in groups.items():
        p: dict[str, Any] = {"model": model, "contender": contender, "concurrency": c,
                             "reps": len(runs), "requests": sum(r["requests"] for r in runs),
                             "errors": sum(int(r.get("errors", 0)) + int(r.get("non_2xx", 0))
                                           for r in runs)}
        for key in MEDIAN_KEYS:
            values = [r[key] for r in runs if r.get(key) is not None
                      and not (isinstance(r[key], float) and math.isnan(r[key]))]
            p[key] = statistics.median(values) if values else None
        for key in SPREAD_KEYS:
            values = [r[key] for r in runs if r.get(key) is not None]
            p[f"{key}_min"] = min(values) if values else None
            p[f"{key}_max"] = max(values) if values else None
        points.append(p)
    return sorted(points, key=lambda p: (p["model"], ORDER.get(p["contender"], 99),
                                         p["concurrency"]))


def find(points: Iterable[dict[str, Any]], model: str, contender: str,
         concurrency: int | None = None) -> dict[str, Any] | None:
    chosen = [p for p in points if p["model"] == model and p["contender"] == contender
              and (concurrency is None or p["concurrency"] == concurrency)]
    return chosen[0] if chosen else None


def _get(points: list[dict], m: str, contender: str, c: int | None, key: str) -> float | None:
    p = find(points, m, contender, c)
    v = p.get(key) if p else None
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def best_peer(points: list[dict[str, Any]], model: str, c: int, key: str,
              lowest: bool = False) -> tuple[str, float] | None:
    """(peer, value) of the best peer (FastAPI, KServe, LitServe and its batching variant)
    at `c`: highest, or `lowest`."""
    found = [(name, v) for name in PEERS if (v := _get(points, model, name, c, key))]
    if not found:
        return None
    return (min if lowest else max)(found, key=lambda nv: nv[1])


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


@dataclass(frozen=True)
class Rule:
    """One ratio: its value per model, the target text and check (None: reported only),
    and, for a ratio against the best peer, which peer point it reads."""

    value: Callable[[list[dict], str], float | None]
    target: str
    met: Callable[[float], bool] | None = None
    peer: tuple[int, str, bool] | None = None  # (concurrency, key, lowest is best)


def _over_peer(c: int, key: str, lowest: bool = False) -> Callable[[list[dict], str], Any]:
    def value(points: list[dict], m: str) -> float | None:
        peer = best_peer(points, m, c, key, lowest)
        return _ratio(_get(points, m, "rest", c, key), peer[1] if peer else None)
    return value


def _pair(a: str, b: str, c: int | None, key: str, bc: int | None = None,
          bkey: str | None = None) -> Callable[[list[dict], str], Any]:
    return lambda points, m: _ratio(_get(points, m, a, c, key),
                                    _get(points, m, b, c if bc is None else bc, bkey or key))


def _peer_rule(c: int, key: str, target: str, met: Callable[[float], bool],
               lowest: bool = False) -> Rule:
    return Rule(_over_peer(c, key, lowest), target, met, (c, key, lowest))


_LAYER = "tfserving backend: which layer batches, the gateway or TF Serving"


def ratio_rules(b32_at: int) -> dict[str, Rule]:
    """Every ratio `make bench` prints, with the performance issue's target."""
    at_least = {x: (lambda v, x=x: v >= x) for x in (0.5, 1.0, 1.2, 1.3)}
    return {
        "gateway_rest_over_best_peer_throughput_c8": _peer_rule(
            8, "rps", "c=8, target >= 1.3", at_least[1.3]),
        "gateway_rest_over_best_peer_throughput_c32": _peer_rule(
            32, "rps", "c=32, target >= 1.3", at_least[1.3]),
        "gateway_rest_p50_over_best_peer_c1": _peer_rule(
            1, "p50_ms", "c=1, target <= 1", lambda v: v <= 1.0, lowest=True),
        "gateway_rest_cpu_over_best_peer_c8": _peer_rule(
            8, "cpu_ms_per_req", "CPU ms per request, c=8, target <= 0.8",
            lambda v: v <= 0.8, lowest=True),
        "gateway_rest_cpu_over_best_peer_c32": _peer_rule(
            32, "cpu_ms_per_req", "CPU ms per request, c=32, target <= 0.8",
            lambda v: v <= 0.8, lowest=True),
        "gateway_grpc_over_rest_throughput_c32": Rule(
            _pair("grpc", "rest", 32, "rps"), "multihead gRPC, c=32, target >= 1.2 "
            "(aim 1.5)", at_least[1.2]),
        # The same API both ways and the same loader (perf_analyzer, whose own CPU shares
        # the cores): the v2 p50 rule below compares the same pair.
        "gateway_v2_grpc_over_v2_rest_throughput_c32": Rule(
            _pair("v2-grpc", "v2-rest", 32, "rps"), "OIP v2 gRPC over v2 REST (both "
            "perf_analyzer), c=32, target >= 1.2 (aim 1.5)", at_least[1.2]),
        "gateway_v2_grpc_over_rest_throughput_c32": Rule(
            _pair("v2-grpc", "rest", 32, "rps"), "OIP v2 gRPC (perf_analyzer) over TF "
            "Serving REST (wrk), c=32, the loaders differ"),
        "gateway_grpc_p50_over_rest_c1": Rule(
            _pair("grpc", "rest", 1, "p50_ms"), "multihead gRPC (h2load) over TF Serving "
            "REST (wrk), c=1, target <= 1", lambda v: v <= 1.0),
        "gateway_v2_grpc_p50_over_v2_rest_c1": Rule(
            _pair("v2-grpc", "v2-rest", 1, "p50_ms"), "OIP v2 gRPC over v2 REST (both "
            "perf_analyzer), c=1, target <= 1", lambda v: v <= 1.0),
        "batching_on_over_off_throughput_c8": Rule(
            _pair("rest", "rest-nobatch", 8, "rps"), "c=8, target >= 1", at_least[1.0]),
        "batching_on_over_off_throughput_c32": Rule(
            _pair("rest", "rest-nobatch", 32, "rps"), "c=32, target >= 1", at_least[1.0]),
        "batching_on_over_off_p50_c1": Rule(
            _pair("rest", "rest-nobatch", 1, "p50_ms"), "c=1, target <= 1.05",
            lambda v: v <= 1.05),
        "tfserving_backend_gateway_over_tfserving_batching_throughput_c8": Rule(
            _pair("tfsb-gateway", "tfsb-tfserving", 8, "rps"), _LAYER),
        "tfserving_backend_gateway_over_tfserving_batching_throughput_c32": Rule(
            _pair("tfsb-gateway", "tfsb-tfserving", 32, "rps"), _LAYER),
        "tfserving_backend_gateway_over_tfserving_batching_p50_c1": Rule(
            _pair("tfsb-gateway", "tfsb-tfserving", 1, "p50_ms"), _LAYER),
        "tfserving_backend_gateway_over_tfserving_batching_cpu_c32": Rule(
            _pair("tfsb-gateway", "tfsb-tfserving", 32, "cpu_ms_per_req"), _LAYER),
        "gateway_batch32_examples_over_limit": Rule(
            _pair("rest-b32", "limit-b32", b32_at, "examples_per_s", bc=1),
            f"{BATCH32} examples per request at c={b32_at}, target >= 0.5", at_least[0.5]),
        "gateway_rest_over_framework_floor_c32": Rule(
            _pair("rest", "floor-rest", 32, "rps"),
            "c=32, share of the empty route's throughput kept"),
        "gateway_grpc_over_framework_floor_c32": Rule(
            _pair("grpc", "floor-grpc", 32, "rps"),
            "c=32, share of the empty RPC's throughput kept"),
    }


def compute_ratios(points: list[dict[str, Any]], b32_at: int = 8
                   ) -> dict[str, dict[str, float | None]]:
    """Every ratio of the issue, per model, from this run's aggregated points."""
    models = sorted({p["model"] for p in points})
    return {name: {m: rule.value(points, m) for m in models}
            for name, rule in ratio_rules(b32_at).items()}


def _fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def ratio_lines(points: list[dict[str, Any]], ratios: dict[str, dict[str, float | None]],
                b32_at: int = 8) -> list[str]:
    """One line per ratio (every model on it), with the issue's target checked."""
    lines = []
    for name, rule in ratio_rules(b32_at).items():
        per_model = ratios.get(name, {})
        values = " ".join(f"{m}={_fmt(v)}" for m, v in sorted(per_model.items()))
        notes = [f"{m} {'ok' if rule.met(v) else 'MISSED'}" for m, v in sorted(per_model.items())
                 if v is not None and rule.met is not None]
        if rule.peer is not None:
            c, key, lowest = rule.peer
            for m in sorted(per_model):
                peer = best_peer(points, m, c, key, lowest)
                if peer:
                    notes.append(f"{m} best peer {peer[0]}")
        if all(v is None for v in per_model.values()):
            notes = ["not measured"]
        lines.append(f"{name} {values}  ({rule.target}: {', '.join(notes) or 'reported'})")
    return lines


def peer_lines(points: list[dict[str, Any]]) -> list[str]:
    """Each peer's and the gateway's REST throughput beside its CPU per request, per model
    and concurrency: what the best-peer ratios compare."""
    lines = []
    for m in sorted({p["model"] for p in points}):
        for c in sorted({p["concurrency"] for p in points if p["model"] == m}):
            cells = [f"{name} {_fmt(p['rps'], 0)} req/s {_fmt(p.get('cpu_ms_per_req'))} ms"
                     for name in ("rest", *PEERS) if (p := find(points, m, name, c))]
            if len(cells) > 1:
                lines.append(f"{m} c={c}: " + "; ".join(cells) + " (CPU per request)")
    return lines


def _spread(p: dict[str, Any], key: str, digits: int) -> str:
    lo, hi = p.get(f"{key}_min"), p.get(f"{key}_max")
    if lo is None or hi is None or p["reps"] < 2:
        return ""
    return f"{lo:.{digits}f}-{hi:.{digits}f}"


def table(points: list[dict[str, Any]]) -> str:
    """Medians with their min-max spread; the footnote contenders last, apart."""
    head = (f"{'model':<11}{'contender':<13}{'conc':>5}{'req/s':>9} {'(min-max)':<16}"
            f"{'p50 ms':>8} {'(min-max)':<14}{'p90 ms':>8}{'p99 ms':>9}{'cpu ms/req':>11}"
            f"{'rss MB/w':>9}{'batch':>6}{'reps':>5}{'err':>5}")
    lines = [head, "-" * len(head)]
    main = [p for p in points if not getattr(BY_NAME.get(p["contender"]), "footnote", False)]
    notes = [p for p in points if p not in main]
    for group in (main, notes):
        if group is notes and notes:
            lines.append("footnote (what no one would pick, for scale):")
        for p in group:
            rps = p["examples_per_s"] if p["contender"] == "rest-b32" else p["rps"]
            spread = _spread(p, "examples_per_s" if p["contender"] == "rest-b32" else "rps", 0)
            lines.append(
                f"{p['model']:<11}{p['contender']:<13}{p['concurrency']:>5}"
                f"{_fmt(rps, 1):>9} {spread:<16}{_fmt(p['p50_ms']):>8} "
                f"{_spread(p, 'p50_ms', 2):<14}{_fmt(p['p90_ms']):>8}{_fmt(p['p99_ms']):>9}"
                f"{_fmt(p['cpu_ms_per_req']):>11}{_fmt(p['rss_mb_per_worker'], 0):>9}"
                f"{_fmt(p.get('mean_batch'), 1):>6}{p['reps']:>5}{p['errors']:>5}")
    lines.append("rest-b32 and limit-b32: examples/s in the req/s column; limits run in-process.")
    return "\n".join(lines)


def idle_lines(idle: dict[str, list[float]]) -> list[str]:
    return [f"idle RSS per worker, MB: {name} "
            + ", ".join(f"{v:.0f}" for v in values) for name, values in idle.items()]


def idle_cpu_line(idle_cpu: dict[str, float], paused: set[str]) -> str:
    """Each server's CPU while it served nothing, in % of one core; which are paused."""
    return ("idle CPU, % of a core: "
            + ", ".join(f"{name} {pct:.1f}" + (" (paused while the others are measured)"
                                               if name in paused else "")
                        for name, pct in idle_cpu.items()))


def write_json(path: Path, meta: dict[str, Any], measurements: list[dict[str, Any]],
               points: list[dict[str, Any]], ratios: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "points": points, "measurements": measurements,
                                "ratios": ratios}, indent=1, sort_keys=True, default=str) + "\n")


def plot(path: Path, points: list[dict[str, Any]]) -> None:
    """Throughput and p50 against concurrency (median, min-max bars), one line per contender,
    one row per model; the limits as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({p["model"] for p in points})
    fig, axes = plt.subplots(max(len(models), 1), 2, figsize=(12, 4.5 * max(len(models), 1)),
                             squeeze=False)
    for row, model in zip(axes, models, strict=False):
        names = sorted({p["contender"] for p in points if p["model"] == model},
                       key=lambda n: ORDER.get(n, 99))
        for name in names:
            pts = sorted((p for p in points if p["model"] == model and p["contender"] == name
                          and p["requests"] and p.get("rps")), key=lambda p: p["concurrency"])
            if not pts:
                continue
            key = "examples_per_s" if name in ("rest-b32", "limit-b32") else "rps"
            label = name + (" (examples/s)" if key == "examples_per_s" else "")
            if name.startswith("limit"):
                style = {"linestyle": "--", "color": "grey" if name == "limit-b1" else "black"}
                row[0].axhline(pts[0][key], label=label, **style)
                if name == "limit-b1":
                    row[1].axhline(pts[0]["p50_ms"], label=label, **style)
                continue
            xs = [p["concurrency"] for p in pts]
            for ax, k in ((row[0], key), (row[1], "p50_ms")):
                ys = [p[k] for p in pts]
                err = [[y - (p.get(f"{k}_min") or y) for y, p in zip(ys, pts, strict=True)],
                       [(p.get(f"{k}_max") or y) - y for y, p in zip(ys, pts, strict=True)]]
                ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label,
                            linestyle=":" if BY_NAME.get(name) and BY_NAME[name].footnote
                            else "-")
        row[0].set(title=f"{model}: throughput (median, min-max)", xlabel="concurrency",
                   ylabel="requests/s", xscale="log", yscale="log")
        row[1].set(title=f"{model}: p50 latency (median, min-max)", xlabel="concurrency",
                   ylabel="ms", xscale="log", yscale="log")
        for ax in row:
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
