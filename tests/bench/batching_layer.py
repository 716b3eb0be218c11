"""Which layer should batch with the `tfserving` backend: the gateway, TF Serving, or both?

    python -m tests.bench.batching_layer [--model-dir DIR] [--models profiler,similarity]
                                         [--concurrency 1,8,32] [--seconds 3] [--repeats 3]

Three set-ups over the same SavedModels, each a gateway (2 workers, TF Serving REST route)
in front of the TF Serving stand-in (tests/fakes/tfserving_fake.py), measured interleaved
(A B C A B C ... for each model and concurrency, so a drift of the machine hits all alike):

- `gateway`:   the gateway's batcher on, the stand-in without batching;
- `tfserving`: the gateway's batcher off, the stand-in with `--enable-batching` (TF
               Serving's `--enable_batching`, same parameters as k8s/base/tfserving's
               batching.config: max_batch_size 64, batch_timeout_micros 0, one thread);
- `both`:      both batchers on (what the k8s manifests used to deploy).

The stand-in batches with the gateway's own batcher, in Python: it stands for TF Serving's
C++ batcher's algorithm, not its cost. What it does measure faithfully is what each layer
costs the gateway: one gRPC call per request, or one per merged batch. Prints req/s, p50
and the CPU milliseconds per request of both processes together (medians of the repeats,
with min-max). README ("TensorFlow Serving backend") has the figures and the decision.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.bench import load, procs
from tests.bench.servers import start_gateway
from tests.fakes.tfserving_fake import FakeTFServing

SETUPS = {"gateway": (True, False), "tfserving": (False, True), "both": (True, True)}
# Three examples per model (the integration suite's), cycled by wrk.
ROWS = {
    "profiler": [{"posts": p} for p in (
        "my toddler starts daycare\nthe mortgage is due",
        "exam week on campus\nmy roommate found a thrift store",
        "retirement party at the golf club\nthe grandchild loves the greenhouse")],
    "similarity": [{"left": a, "right": b} for a, b in (
        ("how do i learn python quickly", "what is the best way to study python"),
        ("where can i buy a cheap laptop", "how do i fix a broken bike"),
        ("is tokyo a good place to live", "what is it like to live in tokyo"))],
}
INPUTS = {"profiler": ["posts"], "similarity": ["left", "right"]}


@contextmanager
def setup(model_dir: Path, gateway_batches: bool, tfserving_batches: bool
          ) -> Iterator[tuple[Any, FakeTFServing]]:
    runtime = FakeTFServing(model_dir, enable_batching=tfserving_batches).start()
    try:
        gateway = start_gateway(model_dir, workers=2, threads=32, env={
            "MULTIHEAD_BACKEND": "tfserving", "MULTIHEAD_TFSERVING_ADDR": runtime.address,
            "MULTIHEAD_ENABLE_BATCHING": str(gateway_batches).lower()},
            name="gateway-tfserving")
        try:
            yield gateway, runtime
        finally:
            gateway.stop()
    finally:
        runtime.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", default="models")
    p.add_argument("--models", default="profiler,similarity")
    p.add_argument("--concurrency", default="1,8,32")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=float, default=1.0,
                   help="seconds of load on each set-up before a model's measurements")
    p.add_argument("--out", default="build/bench/batching_layer.json")
    args = p.parse_args(argv)
    models = args.models.split(",")
    levels = [int(c) for c in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="batching-layer-"))
    bodies = {m: load.write_inputs(work, m, ROWS[m], INPUTS[m])[1] for m in models}
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    with setup(Path(args.model_dir), *SETUPS["gateway"]) as a, \
            setup(Path(args.model_dir), *SETUPS["tfserving"]) as b, \
            setup(Path(args.model_dir), *SETUPS["both"]) as c:
        running = dict(zip(SETUPS, (a, b, c), strict=True))
        for model in models:
            for gateway, _ in running.values():
                load.run_wrk(gateway.http_url, f"/v1/models/{model}:predict", bodies[model],
                             max(levels), args.warmup)
            for level in levels:
                for repeat in range(args.repeats):
                    for name, (gateway, runtime) in running.items():
                        cpu0 = procs.cpu_seconds(runtime.process.pid)
                        got = load.measure(gateway, lambda g=gateway, m=model, lv=level:
                                           load.run_wrk(g.http_url, f"/v1/models/{m}:predict",
                                                        bodies[m], lv, args.seconds))
                        runtime_ms = (procs.cpu_seconds(runtime.process.pid) - cpu0) * 1e3 \
                            / max(got["requests"], 1)
                        row = {"rps": got["rps"], "p50_ms": got["p50_ms"],
                               "cpu_ms_per_req": got["cpu_ms_per_req"] + runtime_ms}
                        results.setdefault(f"{model} c={level}", {}).setdefault(
                            name, []).append(row)
                        print(f"{model} c={level} #{repeat + 1} {name}: {row['rps']:.0f} req/s,"
                              f" p50 {row['p50_ms']:.2f} ms, {row['cpu_ms_per_req']:.2f} ms "
                              "CPU/req", flush=True)
    print("\nmedian (min-max) of the repeats:")
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for point, by_setup in results.items():
        for name, rows in by_setup.items():
            cell = summary.setdefault(point, {}).setdefault(name, {})
            parts = []
            for key in ("rps", "p50_ms", "cpu_ms_per_req"):
                values = [r[key] for r in rows]
                cell[key] = statistics.median(values)
                parts.append(f"{key} {cell[key]:.2f} ({min(values):.2f}-{max(values):.2f})")
            print(f"  {point:16} {name:10} " + ", ".join(parts))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"raw": results, "median": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
