"""Triton's load tool perf_analyzer (2.60, scripts/install-perf-analyzer.sh) as a bench load.

Three kinds of run against the gateway, each only where the gateway answers it:
`v2-rest` (`-i http`, Open Inference Protocol REST), `v2-grpc` (`-i grpc`,
`inference.GRPCInferenceService`) and `tfs-grpc` (`--service-kind=tfserving -i
grpc`, TF Serving's PredictionService). Requests carry the run's real examples
(`--input-data`), batch 1. perf_analyzer measures in windows until three agree;
the bench repeats points itself, so each run is three windows of a third of the
point's seconds, accepted as they come (`--stability-percentage 999`). Its CSV
(`-f`) gives throughput and latency percentiles in microseconds.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.processes import REPO_ROOT

BINARY = REPO_ROOT / "build" / "tools" / "perf_analyzer" / "bin" / "perf_analyzer"
PROBE_TIMEOUT_S = 300.0
KINDS = {"v2-rest": ("triton", "http"), "v2-grpc": ("triton", "grpc"),
         "tfs-grpc": ("tfserving", "grpc")}


def binary() -> Path | None:
    return BINARY if BINARY.is_file() else None


def parse_csv(text: str) -> dict[str, float]:
    """The first row of perf_analyzer's `-f` CSV: req/s and p50/p90/p95/p99 in ms."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ValueError("perf_analyzer's CSV holds no measurement row")
    row = rows[0]
    out = {"rps": float(row["Inferences/Second"]), "concurrency": int(row["Concurrency"])}
    for p in (50, 90, 95, 99):
        out[f"p{p}_ms"] = float(row[f"p{p} latency"]) / 1e3
    return out


def parse_request_count(stdout: str) -> int:
    found = re.search(r"Request count:\s*(\d+)", stdout)
    return int(found.group(1)) if found else 0


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def probe_v2(http_url: str, model: str) -> tuple[dict[str, Any] | None, str]:
    """(metadata with the config's max_batch_size, "") when perf_analyzer can start
    against the gateway's OIP v2 REST for `model`; else (None, why not)."""
    try:
        _get_json(f"{http_url}/v2")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"the gateway does not answer GET /v2 ({exc}): no OIP v2 protocol yet"
    try:
        meta = _get_json(f"{http_url}/v2/models/{model}")
        config = _get_json(f"{http_url}/v2/models/{model}/config")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, (f"GET /v2/models/{model} and .../config must both answer for "
                      f"perf_analyzer ({exc})")
    meta["max_batch_size"] = int(config.get("max_batch_size", 0) or 0)
    return meta, ""


def probe_tfs(grpc_target: str, model: str) -> tuple[dict[str, list[int]] | None, str]:
    """({input: dims}, "") when the gateway's gRPC port answers TF Serving's
    GetModelMetadata for `model` (what perf_analyzer reads first); else (None, why not).

    In a child process: TF Serving's stubs import all of TensorFlow, which the
    harness itself does not need."""
    try:
        done = subprocess.run([sys.executable, "-m", "tests.bench.perf_analyzer", "--probe-tfs",
                               grpc_target, model], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:  # importing TensorFlow on a busy machine
        return None, (f"probing TF Serving's GetModelMetadata took over {PROBE_TIMEOUT_S:g} s "
                      "(the probe imports TensorFlow)")
    if done.returncode != 0:
        return None, f"probing TF Serving's GetModelMetadata failed: {done.stderr[-800:]}"
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["dims"], answer["reason"]


def _probe_tfs_here(grpc_target: str, model: str) -> tuple[dict[str, list[int]] | None, str]:
    import grpc
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        model_pb2,
        prediction_service_pb2_grpc,
    )
    from tensorflow_serving.apis.get_model_metadata_pb2 import SignatureDefMap

    request = get_model_metadata_pb2.GetModelMetadataRequest(
        model_spec=model_pb2.ModelSpec(name=model), metadata_field=["signature_def"])
    with grpc.insecure_channel(grpc_target) as channel:
        try:
            answer = prediction_service_pb2_grpc.PredictionServiceStub(channel) \
                .GetModelMetadata(request, timeout=10)
        except grpc.RpcError as exc:
            return None, (f"the gateway's gRPC port does not answer TF Serving's "
                          f"GetModelMetadata ({exc.code().name}): no TF Serving gRPC yet")
    sigs = SignatureDefMap()
    answer.metadata["signature_def"].Unpack(sigs)
    inputs = sigs.signature_def["serving_default"].inputs
    return {name: [d.size for d in info.tensor_shape.dim] for name, info in inputs.items()}, ""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "--probe-tfs":
        print("usage: python -m tests.bench.perf_analyzer --probe-tfs TARGET MODEL",
              file=sys.stderr)
        return 2
    dims, reason = _probe_tfs_here(args[1], args[2])
    print(json.dumps({"dims": dims, "reason": reason}))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def shape_flags(dims: dict[str, list[int]]) -> list[str]:
    """`--shape name:d,...` for every input left with a variable dim (batch-1 examples)."""
    flags = []
    for name, shape in dims.items():
        if any(d < 0 for d in shape):
            flags += ["--shape", f"{name}:" + ",".join(str(1 if d < 0 else d) for d in shape)]
    return flags


def v2_dims(meta: dict[str, Any]) -> dict[str, list[int]]:
    """Per-request input dims perf_analyzer uses: less the batch dim when the model batches."""
    cut = 1 if meta.get("max_batch_size", 0) > 0 else 0
    return {i["name"]: [int(d) for d in i["shape"]][cut:] for i in meta.get("inputs", [])}


def write_input_data(path: Path, rows: list[dict[str, Any]]) -> Path:
    """perf_analyzer's --input-data JSON: one step per example, flat content per input."""
    def flat(v: Any) -> list[Any]:
        return [x for item in v for x in flat(item)] if isinstance(v, list) else [v]

    steps = [{name: flat(value) for name, value in row.items()} for row in rows]
    path.write_text(json.dumps({"data": steps}))
    return path


def run(kind: str, target: str, model: str, input_data: Path, dims: dict[str, list[int]],
        concurrency: int, duration_s: float, out_csv: Path) -> dict[str, Any]:
    """One perf_analyzer run; the result in the shape of a wrk point."""
    exe = binary()
    if exe is None:
        raise RuntimeError(f"perf_analyzer is not installed at {BINARY}: run make bench "
                           "(scripts/install-perf-analyzer.sh)")
    service, protocol = KINDS[kind]
    window_ms = max(500, int(duration_s * 1000 / 3))
    argv = [str(exe), "-m", model, "-u", target, "-i", protocol, f"--service-kind={service}",
            "--concurrency-range", f"{concurrency}:{concurrency}",
            "--measurement-interval", str(window_ms), "--max-trials", "3",
            "--stability-percentage", "999", "--input-data", str(input_data),
            *shape_flags(dims), "-f", str(out_csv)]
    out_csv.unlink(missing_ok=True)
    done = subprocess.run(argv, capture_output=True, text=True,
                          timeout=3 * window_ms / 1000 + 90)
    if done.returncode != 0 or not out_csv.is_file():
        raise RuntimeError(f"perf_analyzer {kind} failed ({done.returncode}): "
                           f"{(done.stdout + done.stderr)[-1500:]}")
    got = parse_csv(out_csv.read_text())
    requests = parse_request_count(done.stdout)
    return {"requests": requests, "duration_s": requests / got["rps"] if got["rps"] else 0.0,
            "errors": 0, "non_2xx": 0, "p50_ms": got["p50_ms"], "p90_ms": got["p90_ms"],
            "p99_ms": got["p99_ms"], "mean_ms": float("nan"), "max_ms": float("nan")}
