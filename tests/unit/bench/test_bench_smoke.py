"""The benchmark harness's parts, fast: ratios and report files, /proc accounting,
wrk and the gRPC load generator against real loopback servers, and the naive app.

`make bench` itself is not run here (minutes); these keep its pieces honest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.bench import load, procs, report

pytestmark = pytest.mark.timeout(120)


def _point(model: str, contender: str, c: int, rps: float, p50: float) -> dict:
    return {"model": model, "contender": contender, "concurrency": c, "requests": 100,
            "rps": rps, "p50_ms": p50, "p90_ms": p50 * 1.5, "p99_ms": p50 * 2,
            "cpu_ms_per_req": 1.0, "rss_mb_per_worker": 300.0, "errors": 0, "non_2xx": 0}


def _synthetic() -> list[dict]:
    limit = {"batch1": {"latencies_s": [0.004, 0.005, 0.006, 0.005], "calls": 4,
                        "elapsed_s": 0.02, "cpu_s": 0.02},
             "batch32": {"latencies_s": [0.010, 0.010], "calls": 2, "elapsed_s": 0.02,
                         "cpu_s": 0.02}, "rss_mb": 500.0}
    points = report.limit_points("m", limit)
    points += [_point("m", "rest", 1, 150.0, 7.0), _point("m", "rest", 32, 1600.0, 20.0),
               _point("m", "naive", 1, 10.0, 90.0), _point("m", "naive", 32, 20.0, 900.0),
               _point("m", "grpc", 1, 170.0, 6.3)]
    return points


def test_limit_points_and_ratios_follow_the_definitions() -> None:
    points = _synthetic()
    b1 = report.find(points, "m", "limit-b1")
    b32 = report.find(points, "m", "limit-b32")
    assert b1["p50_ms"] == pytest.approx(5.0)
    assert b1["rps"] == pytest.approx(200.0)  # 4 calls of one example in 0.02 s
    assert b32["rps"] == pytest.approx(3200.0)  # 2 calls x 32 examples in 0.02 s
    assert b32["cpu_ms_per_req"] == pytest.approx(20 / 64)

    ratios = report.compute_ratios(points)
    assert ratios["gateway_rest_p50_over_limit"]["m"] == pytest.approx(7.0 / 5.0)
    assert ratios["gateway_rest_throughput_over_limit_batched"]["m"] == pytest.approx(0.5)
    assert ratios["gateway_over_naive_throughput"]["m"] == pytest.approx(80.0)
    assert ratios["grpc_over_rest_p50"]["m"] == pytest.approx(0.9)

    lines = report.ratio_lines(points, ratios)
    assert [line.split()[0] for line in lines] == list(report.RATIOS)
    assert "m=1.40" in lines[0] and "+2.0 ms ok" in lines[0]
    assert "MISSED" not in "".join(lines)
    slow = [p if p["contender"] != "rest" or p["concurrency"] != 1 else
            {**p, "p50_ms": 9.0} for p in points]
    assert "+4.0 ms MISSED" in report.ratio_lines(slow, report.compute_ratios(slow))[0]


def test_missing_contender_gives_no_ratio() -> None:
    points = [p for p in _synthetic() if p["contender"] != "naive"]
    ratios = report.compute_ratios(points)
    assert ratios["gateway_over_naive_throughput"]["m"] is None
    assert "not measured" in report.ratio_lines(points, ratios)[2]


def test_table_json_and_plot_are_written(tmp_path: Path) -> None:
    points = _synthetic()
    text = report.table(points)
    rows = text.splitlines()[2:]
    assert [r.split()[1] for r in rows] == ["limit-b1", "limit-b32", "naive", "naive", "rest",
                                            "rest", "grpc"]
    ratios = report.compute_ratios(points)
    report.write_json(tmp_path / "results.json", {"cpus": 2}, points, ratios)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["ratios"]["grpc_over_rest_p50"]["m"] == pytest.approx(0.9)
    assert len(saved["points"]) == len(points)
    report.plot(tmp_path / "bench.png", points)
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_proc_accounting_counts_the_whole_tree() -> None:
    # A parent whose child burns CPU: the tree total must include the grandchild.
    burn = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.4: pass\n" \
           "time.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess,sys,time\n"
                               f"subprocess.Popen([sys.executable,'-c',{burn!r}])\n"
                               "time.sleep(30)"], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and procs.tree_cpu_seconds(parent.pid) < 0.35 + \
                procs.cpu_seconds(parent.pid):
            time.sleep(0.1)
        kids = procs.children(parent.pid)
        assert len(kids) == 1
        assert procs.tree(parent.pid) == [parent.pid, kids[0]]
        assert procs.cpu_seconds(kids[0]) >= 0.35
        assert procs.tree_cpu_seconds(parent.pid) >= procs.cpu_seconds(kids[0])
        assert 1 < procs.rss_mb(kids[0]) < 500
    finally:
        os.killpg(parent.pid, 9)
        parent.wait()
    assert procs.cpu_seconds(parent.pid) == 0.0  # gone: counted as nothing, no error


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: list[bytes] = []
    scrapes = 0

    def do_GET(self) -> None:  # noqa: N802
        """A /metrics whose batch totals grow with every scrape."""
        _Recorder.scrapes += 1
        n = _Recorder.scrapes
        out = (f'multihead_batch_size_sum{{model="m"}} {10.0 * n}\n'
               f'multihead_batch_size_count{{model="m"}} {4.0 * n}\n'
               f'multihead_batch_size_sum{{model="other"}} {99.0 * n}\n').encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.bodies.append(body)
        status = 200 if self.path == "/v1/models/m:predict" else 404
        out = b'{"predictions": [1]}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


def test_wrk_posts_every_body_and_reports_json(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (make bench installs Debian's wrk)")
    rows = [{"left": "a", "right": "b"}, {"left": "c", "right": "d"}]
    _, bodies = load.write_inputs(tmp_path, "m", rows, ["left", "right"])
    assert json.loads(bodies.read_text().splitlines()[1]) == {
        "instances": [{"left": "c", "right": "d"}]}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _Recorder.bodies = []
        ok = load.run_wrk(url, "/v1/models/m:predict", bodies, 2, 1.0)
        assert ok["requests"] > 5 and ok["errors"] == 0 and ok["non_2xx"] == 0
        assert 0 < ok["p50_ms"] <= ok["p90_ms"] <= ok["p99_ms"] <= ok["max_ms"]
        assert {json.loads(b)["instances"][0]["left"] for b in _Recorder.bodies} == {"a", "c"}
        bad = load.run_wrk(url, "/v1/models/x:predict", bodies, 1, 1.0)
        assert bad["non_2xx"] == bad["requests"] > 0
    finally:
        server.shutdown()


def test_grpc_load_sends_batch1_predicts_from_its_own_process(tmp_path: Path) -> None:
    from serving.grpc._gen import gateway_pb2 as pb
    from serving.grpc._gen import gateway_pb2_grpc

    seen: list[pb.PredictRequest] = []

    class Servicer(gateway_pb2_grpc.GatewayServicer):
        def Predict(self, request, context):  # noqa: N802 (gRPC's naming)
            seen.append(request)
            return pb.PredictResponse()

    server = grpc.server(futures.ThreadPoolExecutor(4))
    gateway_pb2_grpc.add_GatewayServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        rows, _ = load.write_inputs(tmp_path, "m", [{"posts": "x y"}, {"posts": "z"}], ["posts"])
        result = load.run_grpc(f"127.0.0.1:{port}", "m", rows, 3, 0.5)
    finally:
        server.stop(0)
    assert result["requests"] == len(seen) > 3 and result["errors"] == 0
    assert result["p50_ms"] <= result["p99_ms"]
    first = seen[0]
    assert first.model_spec.name == "m"
    assert first.inputs["posts"].dtype == pb.DataType.DATA_TYPE_STRING
    assert list(first.inputs["posts"].shape) == [1]
    assert {bytes(r.inputs["posts"].string_values[0]) for r in seen} == {b"x y", b"z"}


def test_naive_app_answers_with_keras_predict(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from tests.bench.naive_app import create_app
    from training.config import config_for, save_config
    from training.models import build_model
    from training.text import fit_length, make_vectorizer

    # A finished run in miniature: config, vocabulary, weights (untrained is enough).
    cfg = config_for("similarity", "test")
    keras.utils.set_random_seed(0)
    model = build_model("similarity", cfg)
    run = tmp_path / "similarity"
    run.mkdir()
    save_config(cfg, run / "config.json")
    vocab = ["", "[UNK]", "how", "do", "i", "learn", "python", "cook", "rice"]
    (run / "vocab.txt").write_text("\n".join(vocab) + "\n")
    model.save_weights(run / "best.weights.h5")

    client = create_app({"similarity": str(run)}).test_client()
    pair = {"left": "how do i learn python", "right": "how do i cook rice"}
    got = client.post("/v1/models/similarity:predict", json={"instances": [pair]})
    assert got.status_code == 200, got.data
    score = got.get_json()["predictions"][0]["similarity"]

    vectorizer = make_vectorizer(len(vocab), vocabulary=vocab)
    ids = {k: fit_length(vectorizer([v]), cfg.max_tokens[k], cfg.pad_to_max)
           for k, v in pair.items()}
    want = float(np.asarray(model(ids, training=False)["similarity"]).ravel()[0])
    assert score == pytest.approx(want, abs=1e-5)
    assert client.post("/v1/models/nope:predict", json={"instances": [pair]}).status_code == 404


def test_measure_adds_rates_cpu_and_mean_batch() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                            start_new_session=True)
    target = procs.Server("t", idle, f"http://127.0.0.1:{server.server_address[1]}", None,
                          Path(os.devnull), 1)
    try:
        got = load.measure(target, lambda: {"requests": 50, "duration_s": 2.0, "errors": 0,
                                            "non_2xx": 0}, model="m")
    finally:
        server.shutdown()
        idle.kill()
        idle.wait()
    assert got["rps"] == pytest.approx(25.0)
    assert got["mean_batch"] == pytest.approx(10.0 / 4.0)  # only model "m" counted
    assert 0 <= got["cpu_ms_per_req"] < 5  # a sleeping server uses next to no CPU
