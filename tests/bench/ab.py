"""`python -m tests.bench.ab`: an interleaved before/after of the gateway's REST throughput.

Two gateways run side by side on the same models and settings except the `--env-b`
settings (e.g. `MULTIHEAD_DRIFT_WINDOW=0`: drift monitoring off); each load point runs
on A and on B in turn (A first on even repeats, B first on odd ones), `--repeats` times, so
both see the same machine load. Prints one line
per point and the median of each, with the spread of A's own repeats as the noise.
Batch-1 profiler requests (the bench's default body shape) from the training generator.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from tests.bench.load import run_wrk
from tests.bench.servers import start_gateway


def profiler_bodies(directory: Path, n: int = 256) -> Path:
    from training.data.synthetic import generate

    posts = generate("profiler", n, seed=7).inputs["posts"]
    path = directory / "profiler.bodies.jsonl"
    path.write_text("".join(json.dumps({"instances": [str(p)]}) + "\n" for p in posts))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--env-b", action="append", default=[], metavar="MULTIHEAD_X=V")
    parser.add_argument("--env", action="append", default=[], metavar="MULTIHEAD_X=V",
                        help="settings of both gateways")
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args(argv)
    both = dict(kv.split("=", 1) for kv in args.env)
    env_b = dict(kv.split("=", 1) for kv in args.env_b)
    bodies = profiler_bodies(Path(tempfile.mkdtemp(prefix="bench-ab-")))
    path = "/v1/models/profiler:predict"
    a = start_gateway(Path(args.model_dir), args.workers, args.threads, both, name="a")
    b = start_gateway(Path(args.model_dir), args.workers, args.threads, {**both, **env_b},
                      name="b")
    results: dict[tuple[str, int], list[float]] = {}
    try:
        for c in (int(x) for x in args.concurrency.split(",")):
            for server in (a, b):  # warm-up
                run_wrk(server.http_url, path, bodies, c, 2)
            for r in range(args.repeats):
                pair = (("a", a), ("b", b))
                for name, server in pair if r % 2 == 0 else pair[::-1]:  # no order bias
                    got = run_wrk(server.http_url, path, bodies, c, args.seconds)
                    assert got["errors"] == 0 and got["non_2xx"] == 0, got
                    rps = got["requests"] / got["duration_s"]
                    results.setdefault((name, c), []).append(rps)
                    print(f"c={c} repeat {r} {name}: {rps:.0f} req/s", flush=True)
    finally:
        a.stop()
        b.stop()
    print(f"B = A with {env_b}")
    for c in sorted({c for _, c in results}):
        ra, rb = results[("a", c)], results[("b", c)]
        ma, mb = statistics.median(ra), statistics.median(rb)
        print(f"c={c}: A median {ma:.0f} req/s (repeats {min(ra):.0f}-{max(ra):.0f}), "
              f"B median {mb:.0f} req/s (repeats {min(rb):.0f}-{max(rb):.0f}), B/A {mb / ma:.3f}")


if __name__ == "__main__":
    main()
