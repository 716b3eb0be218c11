"""Results of one bench run: the table, the ratios, results.json and the plot.

A point is one contender at one concurrency for one model:
`{"model", "contender", "concurrency", "requests", "rps", "p50_ms", "p90_ms",
"p99_ms", "cpu_ms_per_req", "rss_mb_per_worker", "errors", "non_2xx"}`, and for
the gateway `mean_batch` (examples per model call, from its batch_size metric).
The limit contributes two points per model: `limit-b1` (one example per call;
rps = calls/s) and `limit-b32` (32 examples per call; rps = examples/s, the
latency columns are per 32-example call).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

CONTENDERS = ("limit-b1", "limit-b32", "naive", "rest", "rest-nobatch", "grpc", "grpc-nobatch")
RATIOS = ("gateway_rest_p50_over_limit", "gateway_rest_throughput_over_limit_batched",
          "gateway_over_naive_throughput", "grpc_over_rest_p50")
P50_SLACK_MS = 3.0


def limit_points(model: str, limit: dict[str, Any]) -> list[dict[str, Any]]:
    """The two limit points of a model from tests/bench/limit.py's output."""
    out = []
    for key, contender, per_call in (("batch1", "limit-b1", 1), ("batch32", "limit-b32", 32)):
        m = limit[key]
        lat = np.asarray(m["latencies_s"]) * 1e3
        calls = m["calls"]
        out.append({
            "model": model, "contender": contender, "concurrency": 1,
            "requests": calls * per_call, "duration_s": m["elapsed_s"],
            "rps": calls * per_call / m["elapsed_s"],
            "p50_ms": float(np.percentile(lat, 50)), "p90_ms": float(np.percentile(lat, 90)),
            "p99_ms": float(np.percentile(lat, 99)),
            "cpu_ms_per_req": m["cpu_s"] * 1e3 / (calls * per_call),
            "rss_mb_per_worker": limit.get("rss_mb", 0.0), "mean_batch": float(per_call),
            "errors": 0, "non_2xx": 0})
    return out


def find(points: Iterable[dict[str, Any]], model: str, contender: str,
         concurrency: int | None = None) -> dict[str, Any] | None:
    chosen = [p for p in points if p["model"] == model and p["contender"] == contender
              and (concurrency is None or p["concurrency"] == concurrency)]
    return chosen[0] if chosen else None


def _div(a: dict | None, b: dict | None, key: str) -> float | None:
    if a is None or b is None or not b.get(key) or a.get(key) is None:
        return None
    return a[key] / b[key]


def compute_ratios(points: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """The four ratios of the issue, per model, from this run's points."""
    models = sorted({p["model"] for p in points})
    top = max((p["concurrency"] for p in points), default=1)
    ratios: dict[str, dict[str, float | None]] = {r: {} for r in RATIOS}
    for m in models:
        rest1, rest_top = find(points, m, "rest", 1), find(points, m, "rest", top)
        ratios["gateway_rest_p50_over_limit"][m] = _div(rest1, find(points, m, "limit-b1"),
                                                        "p50_ms")
        ratios["gateway_rest_throughput_over_limit_batched"][m] = _div(
            rest_top, find(points, m, "limit-b32"), "rps")
        ratios["gateway_over_naive_throughput"][m] = _div(rest_top,
                                                          find(points, m, "naive", top), "rps")
        ratios["grpc_over_rest_p50"][m] = _div(find(points, m, "grpc", 1), rest1, "p50_ms")
    return ratios


def _fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def ratio_lines(points: list[dict[str, Any]], ratios: dict[str, dict[str, float | None]]
                ) -> list[str]:
    """One line per ratio (every model on it) with the issue's target checked."""
    top = max((p["concurrency"] for p in points), default=1)
    lines = []
    for name in RATIOS:
        per_model = ratios.get(name, {})
        values = " ".join(f"{m}={_fmt(v)}" for m, v in sorted(per_model.items()))
        notes = []
        for m, v in sorted(per_model.items()):
            if v is None:
                continue
            if name == "gateway_rest_p50_over_limit":
                rest, lim = find(points, m, "rest", 1), find(points, m, "limit-b1")
                extra = rest["p50_ms"] - lim["p50_ms"]
                ok = extra <= P50_SLACK_MS
                notes.append(f"{m} +{extra:.1f} ms {'ok' if ok else 'MISSED'}")
            elif name == "gateway_rest_throughput_over_limit_batched":
                notes.append(f"{m} {'ok' if v >= 0.5 else 'MISSED'}")
            elif name == "gateway_over_naive_throughput":
                notes.append(f"{m} {'ok' if v >= 5 else 'MISSED'}")
            else:
                notes.append(f"{m} {'ok' if v <= 1 else 'MISSED'}")
        target = {"gateway_rest_p50_over_limit": f"c=1, target p50 <= limit + {P50_SLACK_MS:g} ms",
                  "gateway_rest_throughput_over_limit_batched": f"c={top}, target >= 0.5",
                  "gateway_over_naive_throughput": f"c={top}, target >= 5",
                  "grpc_over_rest_p50": "c=1, target <= 1"}[name]
        lines.append(f"{name} {values}  ({target}: {', '.join(notes) or 'not measured'})")
    return lines


def table(points: list[dict[str, Any]]) -> str:
    head = (f"{'model':<11}{'contender':<14}{'conc':>5}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}"
            f"{'p99 ms':>9}{'cpu ms/req':>11}{'rss MB/w':>10}{'batch':>7}{'errors':>8}")
    lines = [head, "-" * len(head)]
    order = {c: i for i, c in enumerate(CONTENDERS)}
    for p in sorted(points, key=lambda p: (p["model"], order.get(p["contender"], 99),
                                           p["concurrency"])):
        errors = int(p.get("errors", 0)) + int(p.get("non_2xx", 0))
        lines.append(f"{p['model']:<11}{p['contender']:<14}{p['concurrency']:>5}"
                     f"{p['rps']:>9.1f}{p['p50_ms']:>9.2f}{p['p90_ms']:>9.2f}{p['p99_ms']:>9.2f}"
                     f"{p['cpu_ms_per_req']:>11.2f}{p['rss_mb_per_worker']:>10.0f}"
                     f"{_fmt(p.get('mean_batch'), 1):>7}{errors:>8}")
    return "\n".join(lines)


def write_json(path: Path, meta: dict[str, Any], points: list[dict[str, Any]],
               ratios: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "points": points, "ratios": ratios}, indent=1,
                               sort_keys=True) + "\n")


def plot(path: Path, points: list[dict[str, Any]]) -> None:
    """Throughput and p99 against concurrency, one line per contender, one row per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({p["model"] for p in points})
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 4 * len(models)), squeeze=False)
    for row, model in zip(axes, models, strict=True):
        for contender in CONTENDERS:
            # A point where nothing finished in time has no latency to draw.
            pts = sorted((p for p in points if p["model"] == model and p["requests"]
                          and p["contender"] == contender), key=lambda p: p["concurrency"])
            if not pts:
                continue
            if contender.startswith("limit"):
                style = {"linestyle": "--", "color": "grey" if contender == "limit-b1"
                         else "black"}
                row[0].axhline(pts[0]["rps"], label=contender, **style)
                if contender == "limit-b1":
                    row[1].axhline(pts[0]["p99_ms"], label=contender, **style)
                continue
            xs = [p["concurrency"] for p in pts]
            row[0].plot(xs, [p["rps"] for p in pts], marker="o", label=contender)
            row[1].plot(xs, [p["p99_ms"] for p in pts], marker="o", label=contender)
        row[0].set(title=f"{model}: throughput", xlabel="concurrency", ylabel="requests/s",
                   xscale="log", yscale="log")
        row[1].set(title=f"{model}: p99 latency", xlabel="concurrency", ylabel="ms",
                   xscale="log", yscale="log")
        for ax in row:
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
