"""The limit: the exported signature called in-process, nothing in between.

`python -m tests.bench.limit --export DIR --inputs FILE --duration S --repeats N`
loads the SavedModel with `tf.saved_model.load`, then calls `serving_default` in
a loop with one example per call (batch-1 latency), then with 32 examples per
call (batch-32 throughput), on the same examples the load generators send,
alternating the two N times, and prints one JSON object (a list of N runs each).
Run in its own process so TensorFlow's thread pools are its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Any

BATCH = 32


def measure(fn: Any, feeds: list[Any], duration_s: float,
            warmup_calls: int = 5) -> dict[str, Any]:
    """Call `fn(feed)` round-robin over `feeds` for `duration_s`; latency per call."""
    for i in range(warmup_calls):
        fn(feeds[i % len(feeds)])
    samples: list[float] = []
    cpu0, start = time.process_time(), time.perf_counter()
    end = start + duration_s
    i = 0
    while True:
        t0 = time.perf_counter()
        fn(feeds[i % len(feeds)])
        t1 = time.perf_counter()
        samples.append(t1 - t0)
        i += 1
        if t1 >= end:
            break
    elapsed = time.perf_counter() - start
    return {"latencies_s": samples, "elapsed_s": elapsed,
            "cpu_s": time.process_time() - cpu0, "calls": len(samples)}


def run(export_dir: str, rows: list[dict[str, Any]], duration_s: float,
        repeats: int = 1) -> dict[str, Any]:
    import tensorflow as tf

    fn = tf.saved_model.load(export_dir).signatures["serving_default"]
    dtypes = {k: t.dtype for k, t in fn.structured_input_signature[1].items()}

    def feed(batch: list[dict[str, Any]]) -> dict[str, Any]:
        # Tensors are built per call from Python values, as any caller has to.
        return {name: tf.constant([r[name] for r in batch], dtype=dtype)
                for name, dtype in dtypes.items()}

    def call(batch: list[dict[str, Any]]) -> dict[str, Any]:
        return {k: v.numpy() for k, v in fn(**feed(batch)).items()}

    singles = [[r] for r in rows]
    wide = [[rows[(i + j) % len(rows)] for j in range(BATCH)] for i in range(len(rows))]
    b1, b32 = [], []
    for _ in range(max(1, repeats)):
        b1.append(measure(call, singles, duration_s))
        b32.append(measure(call, wide, duration_s))
        b32[-1]["examples"] = b32[-1]["calls"] * BATCH
    return {"batch1": b1, "batch32": b32,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads": {"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                        "inter": tf.config.threading.get_inter_op_parallelism_threads()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.limit")
    p.add_argument("--export", required=True, help="a SavedModel version directory")
    p.add_argument("--inputs", required=True,
                   help="JSON file: a list of examples keyed by input name")
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with open(args.inputs, encoding="utf-8") as fh:
        rows = json.load(fh)
    json.dump(run(args.export, rows, args.duration, args.repeats), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
