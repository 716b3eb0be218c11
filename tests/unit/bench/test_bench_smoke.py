"""The benchmark harness's parts, fast: medians, spreads and ratios against hand-computed
values, the interleaved order, the report files, /proc accounting, wrk and h2load
against real loopback servers, the framework floors, the FastAPI baseline and KServe's
model class against the in-process signature, the peers' locks, perf_analyzer's CSV from
a real run, and the naive app.

`make bench` itself is not run here (many minutes); these keep its pieces honest.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.bench import contenders, load, procs, report, servers
from tests.bench import perf_analyzer as pa
from tests.processes import REPO_ROOT, wait_until

pytestmark = pytest.mark.timeout(180)

PROFILER_POSTS = ["my toddler starts daycare\nthe mortgage is due",
                  "exam week on campus\nmy roommate found a thrift store"]


def _m(contender: str, c: int, rps: float, p50: float, rep: int = 0, model: str = "m",
       batch: int = 1, cpu: float = 1.0) -> dict:
    return {"model": model, "contender": contender, "concurrency": c, "rep": rep,
            "requests": 100, "rps": rps, "examples_per_s": rps * batch, "p50_ms": p50,
            "p90_ms": p50 * 1.5, "p99_ms": p50 * 2, "cpu_ms_per_req": cpu,
            "rss_mb_per_worker": 300.0, "errors": 0, "non_2xx": 0}


def _three(contender: str, c: int, rps: tuple[float, float, float],
           p50: tuple[float, float, float], batch: int = 1,
           cpu: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> list[dict]:
    return [_m(contender, c, r, p, rep, batch=batch, cpu=u) for rep, (r, p, u) in
            enumerate(zip(rps, p50, cpu, strict=True))]


def _limit() -> dict:
    one = {"latencies_s": [0.004, 0.005, 0.006, 0.005], "calls": 4, "elapsed_s": 0.02,
           "cpu_s": 0.02}
    wide = {"latencies_s": [0.010, 0.010], "calls": 2, "elapsed_s": 0.02, "cpu_s": 0.02}
    return {"batch1": [one, one], "batch32": [wide, {**wide, "elapsed_s": 0.04}],
            "rss_mb": 500.0}


def _run() -> list[dict]:
    """Three repetitions of each point, values chosen so medians and ratios are exact."""
    ms = report.limit_points("m", _limit())
    ms += _three("rest", 1, (300, 100, 200), (3.0, 5.0, 4.0))
    ms += _three("rest", 8, (900, 800, 1000), (9, 10, 8), cpu=(0.6, 0.5, 0.7))
    ms += _three("rest", 32, (1200, 1000, 1100), (30, 31, 29))
    ms += _three("rest-nobatch", 1, (250, 260, 270), (3.6, 3.5, 3.7))
    ms += _three("rest-nobatch", 8, (800, 600, 700), (10, 11, 12))
    ms += _three("rest-nobatch", 32, (1000, 1100, 1200), (30, 30, 30))
    ms += _three("fastapi", 1, (450, 480, 470), (2.0, 2.2, 2.1))
    ms += _three("fastapi", 8, (1000, 900, 950), (8, 8, 8))
    ms += _three("fastapi", 32, (800, 850, 900), (35, 35, 35))
    ms += _three("kserve", 1, (480, 490, 500), (2.5, 2.4, 2.6))
    ms += _three("kserve", 8, (700, 750, 800), (10, 10, 10))
    ms += _three("kserve", 32, (880, 700, 1000), (34, 34, 34))
    ms += _three("litserve", 8, (300, 310, 320), (30, 30, 30), cpu=(0.9, 0.8, 0.7))
    ms += _three("litserve-batch", 1, (200, 210, 220), (2.0, 1.9, 1.8))
    ms += _three("floor-rest", 32, (2000, 2200, 2400), (10, 10, 10))
    ms += _three("grpc", 32, (1650, 1500, 1800), (20, 20, 20))
    ms += _three("grpc", 1, (400, 410, 420), (2.0, 2.0, 2.0))
    ms += _three("tfsb-gateway", 8, (600, 600, 600), (12, 12, 12))
    ms += _three("tfsb-tfserving", 8, (500, 500, 500), (14, 14, 14))
    ms += _three("rest-b32", 8, (50, 40, 60), (150, 160, 170), batch=32)
    return ms


def test_medians_and_spreads_follow_the_repetitions() -> None:
    points = report.aggregate(_run())
    rest1 = report.find(points, "m", "rest", 1)
    assert rest1["reps"] == 3 and rest1["requests"] == 300
    assert rest1["rps"] == 200 and rest1["rps_min"] == 100 and rest1["rps_max"] == 300
    assert rest1["p50_ms"] == 4.0 and rest1["p50_ms_min"] == 3.0 and rest1["p50_ms_max"] == 5.0
    b1, b32 = report.find(points, "m", "limit-b1"), report.find(points, "m", "limit-b32")
    assert b1["reps"] == 2 and b1["p50_ms"] == pytest.approx(5.0)
    assert b1["rps"] == pytest.approx(200.0)  # 4 calls of one example in 0.02 s
    # 2 calls x 32 examples in 0.02 s and in 0.04 s: 3200 and 1600 examples/s.
    assert b32["examples_per_s"] == pytest.approx(2400.0)
    assert (b32["rps_min"], b32["rps_max"]) == (pytest.approx(1600.0), pytest.approx(3200.0))
    assert report.find(points, "m", "rest-b32", 8)["examples_per_s"] == 50 * 32
    # The table's order is the contender catalogue's, limits first.
    assert [p["contender"] for p in points][:3] == ["limit-b1", "limit-b32", "rest"]


def test_ratios_against_hand_computed_values() -> None:
    points = report.aggregate(_run())
    r = {k: v["m"] for k, v in report.compute_ratios(points, b32_at=8).items()}
    # best peer at c=8: fastapi 950 (kserve 750, litserve 310); at c=32: kserve 880
    # (fastapi 850)
    assert r["gateway_rest_over_best_peer_throughput_c8"] == pytest.approx(900 / 950)
    assert r["gateway_rest_over_best_peer_throughput_c32"] == pytest.approx(1100 / 880)
    # the best peer's p50 at c=1 is the lowest: litserve-batch 1.9 ms (fastapi 2.1)
    assert r["gateway_rest_p50_over_best_peer_c1"] == pytest.approx(4.0 / 1.9)
    # CPU per request: the best peer is the cheapest, litserve's 0.8 ms at c=8
    assert r["gateway_rest_cpu_over_best_peer_c8"] == pytest.approx(0.6 / 0.8)
    assert r["gateway_rest_cpu_over_best_peer_c32"] == pytest.approx(1.0)
    assert r["gateway_grpc_over_rest_throughput_c32"] == pytest.approx(1650 / 1100)
    assert r["gateway_grpc_p50_over_rest_c1"] == pytest.approx(2.0 / 4.0)
    assert r["gateway_v2_grpc_over_rest_throughput_c32"] is None  # not measured
    assert r["gateway_v2_grpc_over_v2_rest_throughput_c32"] is None
    assert r["tfserving_backend_gateway_over_tfserving_batching_throughput_c8"] == \
        pytest.approx(1.2)
    assert r["batching_on_over_off_throughput_c8"] == pytest.approx(900 / 700)
    assert r["batching_on_over_off_throughput_c32"] == pytest.approx(1100 / 1100)
    assert r["batching_on_over_off_p50_c1"] == pytest.approx(4.0 / 3.6)
    assert r["gateway_batch32_examples_over_limit"] == pytest.approx(50 * 32 / 2400)
    assert r["gateway_rest_over_framework_floor_c32"] == pytest.approx(1100 / 2200)

    lines = report.ratio_lines(points, report.compute_ratios(points, 8), 8)
    by_name = {line.split()[0]: line for line in lines}
    assert list(by_name) == list(report.ratio_rules(8))
    assert "m=0.95" in by_name["gateway_rest_over_best_peer_throughput_c8"]
    assert "m MISSED" in by_name["gateway_rest_over_best_peer_throughput_c8"]
    assert "best peer fastapi" in by_name["gateway_rest_over_best_peer_throughput_c8"]
    assert "best peer kserve" in by_name["gateway_rest_over_best_peer_throughput_c32"]
    assert "best peer litserve" in by_name["gateway_rest_cpu_over_best_peer_c8"]
    assert "m ok" in by_name["gateway_rest_cpu_over_best_peer_c8"]  # 0.75 <= 0.8
    assert "m ok" in by_name["gateway_grpc_over_rest_throughput_c32"]  # 1.5 >= 1.2
    assert "which layer batches, the gateway or TF Serving: reported" in \
        by_name["tfserving_backend_gateway_over_tfserving_batching_throughput_c8"]
    assert "m=n/a" in by_name["gateway_v2_grpc_over_v2_rest_throughput_c32"]
    assert "not measured" in by_name["gateway_v2_grpc_over_v2_rest_throughput_c32"]
    assert "the loaders differ: not measured" in \
        by_name["gateway_v2_grpc_over_rest_throughput_c32"]
    assert "m MISSED" in by_name["batching_on_over_off_p50_c1"]  # 1.11 > 1.05
    peers = {line.split(":")[0]: line for line in report.peer_lines(points)}
    assert peers["m c=8"].startswith("m c=8: rest 900 req/s 0.60 ms; fastapi 950 req/s")
    assert "litserve 310 req/s 0.80 ms" in peers["m c=8"]


def test_interleaving_measures_every_contender_once_before_repeating() -> None:
    rest, fast, b32, naive = (contenders.BY_NAME[n] for n in ("rest", "fastapi", "rest-b32",
                                                              "naive"))
    steps = contenders.schedule(["p", "s"], [1, 8, 32], [rest, fast, b32, naive], repeats=3)
    order = [(s.model, s.concurrency, s.rep, s.contender.name) for s in steps]
    assert order[:9] == [("p", 1, 0, "rest"), ("p", 1, 0, "fastapi"), ("p", 1, 0, "naive"),
                         ("p", 1, 1, "rest"), ("p", 1, 1, "fastapi"), ("p", 1, 1, "naive"),
                         ("p", 1, 2, "rest"), ("p", 1, 2, "fastapi"), ("p", 1, 2, "naive")]
    assert order[9:12] == [("p", 8, 0, "rest"), ("p", 8, 0, "fastapi"), ("p", 8, 0, "rest-b32")]
    # the naive footnote runs at the ends only, 32-example requests at c=8 only
    assert {c for m, c, _, n in order if n == "naive"} == {1, 32}
    assert {c for m, c, _, n in order if n == "rest-b32"} == {8}
    assert len(order) == 2 * (3 * 3 + 3 * 3 + 3 * 3)
    assert order[len(order) // 2][0] == "s"
    assert contenders.b32_concurrency([1, 2]) == 2


def test_table_json_and_plot_are_written(tmp_path: Path) -> None:
    measurements = _run()
    points = report.aggregate(measurements)
    text = report.table(points)
    rest1 = next(line for line in text.splitlines() if line.split()[1:3] == ["rest", "1"])
    assert "200.0" in rest1 and "100-300" in rest1 and "3.00-5.00" in rest1
    b32 = next(line for line in text.splitlines() if "rest-b32" in line.split()[1:2])
    assert "1600.0" in b32  # examples/s in the req/s column
    ratios = report.compute_ratios(points)
    report.write_json(tmp_path / "results.json", {"cpus": 2}, measurements, points, ratios)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["measurements"]) == len(measurements)
    assert {p["contender"] for p in saved["points"]} == {m["contender"] for m in measurements}
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
        wait_until(lambda: procs.tree_cpu_seconds(parent.pid) >= 0.35 + procs.cpu_seconds(
            parent.pid), 20, 0.1, what="the grandchild's CPU counted in the tree")
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


def test_a_server_that_burns_cpu_while_idle_is_found_and_can_be_paused(tmp_path: Path) -> None:
    # LitServe's batching loop polls while idle; the bench pauses such a server while the
    # others are measured, and must find it, stop it wholly, and get it going again.
    def server(name: str, code: str) -> procs.Server:
        process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        return procs.Server(name, process, None, None, tmp_path / f"{name}.log", 1)

    both = {"spin": server("spin", "while True: pass"),
            "calm": server("calm", "import time\ntime.sleep(60)")}
    try:
        idle = procs.idle_cpu(both, 0.5)
        assert idle["spin"] > 50 and idle["calm"] < 5, idle
        both["spin"].pause()
        assert procs.idle_cpu(both, 0.5)["spin"] < 5
        both["spin"].resume()
        assert procs.idle_cpu(both, 0.5)["spin"] > 50
        line = report.idle_cpu_line(idle, {"spin"})
        assert line.startswith("idle CPU, % of a core: spin ")
        assert "spin" in line.split("(paused")[0] and line.count("(paused") == 1
        both["spin"].pause()  # stop() must end a paused server too
    finally:
        for s in both.values():
            s.stop()
    assert all(s.process.poll() is not None for s in both.values())


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


def test_h2load_sends_framed_grpc_predicts_and_reports_percentiles(tmp_path: Path) -> None:
    if shutil.which("h2load") is None:
        pytest.skip("h2load is not installed (make setup installs Debian's nghttp2-client)")
    from serving.protocols.multihead._gen import gateway_pb2 as pb
    from serving.protocols.multihead._gen import gateway_pb2_grpc

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
        body = load.write_grpc_body(tmp_path, "m", [{"posts": "x y", "aux": [0.5, 1.0]},
                                                   {"posts": "z", "aux": [0.0, 0.0]}])
        result = load.run_grpc(f"127.0.0.1:{port}", body, 6, 1.0)
    finally:
        server.stop(0)
    # calls still in flight when the duration ends are not counted
    assert len(seen) - 6 <= result["requests"] <= len(seen) and result["requests"] > 6
    assert result["non_2xx"] == 0
    assert 0 < result["p50_ms"] <= result["p90_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert 0.5 < result["duration_s"] < 3
    first = seen[0]
    assert first.model_spec.name == "m"
    assert first.inputs["posts"].dtype == pb.DataType.DATA_TYPE_STRING
    assert list(first.inputs["posts"].shape) == [1]
    assert list(first.inputs["aux"].shape) == [1, 2]
    assert {bytes(r.inputs["posts"].string_values[0]) for r in seen} == {b"x y"}
    assert load.grpc_split(32) == (8, 4) and load.grpc_split(1) == (1, 1)
    assert load.grpc_split(12) == (4, 3)


def test_h2load_log_is_read_into_latencies_and_failures() -> None:
    log = "1000000\t200\t1500\n1000500\t200\t2500\n1001000\t503\t100\n"
    latencies, non_2xx, elapsed = load.parse_h2load_log(log)
    assert latencies == [1.5, 2.5] and non_2xx == 1
    assert elapsed == pytest.approx(0.003)  # first start to last end (1003000 us)


def test_naive_app_answers_with_keras_predict(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from tests.bench.naive_app import create_app
    from training.config import save_config
    from training.models import build_model, config_for
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


def test_floor_rest_runs_the_gateways_gunicorn_settings_without_its_hooks(
        tmp_path: Path) -> None:
    from tests.bench.floor_app import gateway_settings

    env = {**os.environ, "MULTIHEAD_WORKERS": "3", "MULTIHEAD_THREADS": "5"}
    code = ("import json; from tests.bench.floor_app import gateway_settings as g; "
            "print(json.dumps({k: v for k, v in g().items() if isinstance(v, (int, str))}))")
    got = json.loads(subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                                    capture_output=True, text=True, timeout=60,
                                    check=True).stdout)
    assert got["workers"] == 3 and got["threads"] == 5
    import runpy

    gateway = runpy.run_path(str(REPO_ROOT / "serving" / "gunicorn.conf.py"))
    mine = gateway_settings()
    for name in ("worker_class", "keepalive", "timeout", "preload_app"):
        assert mine[name] == gateway[name]
    assert "post_worker_init" in gateway and not any(callable(v) for v in mine.values())
    assert "bind" not in mine

    server = servers.start_floor_rest(workers=2, threads=4)
    try:
        assert len(server.worker_pids()) == 2
        out = load.run_wrk(server.http_url, "/v1/models/m:predict",
                           _bodies(tmp_path),
                           2, 1.0)
    finally:
        server.stop()
    assert out["requests"] > 5 and out["errors"] == 0 and out["non_2xx"] == 0


def _bodies(directory: Path) -> Path:
    return load.write_inputs(directory, "m", [{"posts": p} for p in PROFILER_POSTS],
                             ["posts"])[1]


def test_floor_grpc_answers_empty_predicts_on_every_worker(tmp_path: Path) -> None:
    server = servers.start_floor_grpc(workers=2, threads=4)
    try:
        assert len(server.worker_pids()) == 2
        body = load.write_grpc_body(tmp_path, "m", [{"posts": "x y"}])
        out = load.run_grpc(server.grpc_target, body, 4, 1.0)
    finally:
        server.stop()
    assert out["requests"] > 5 and out["errors"] == 0


def _signature_rows(export: Path, instances: list) -> list[dict]:
    """The reference: the exported signature called in-process."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(export)).signatures["serving_default"]
    specs = fn.structured_input_signature[1]
    names = list(specs)
    rows = [i if isinstance(i, dict) else {names[0]: i} for i in instances]
    out = fn(**{n: tf.constant([r[n] for r in rows], dtype=specs[n].dtype) for n in names})
    return [{k: v.numpy()[i] for k, v in out.items()} for i in range(len(rows))]


def _assert_same(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert set(g) == set(w)
        for head, value in w.items():
            if isinstance(value, bytes):
                assert g[head] == value.decode()
            else:
                assert np.allclose(np.asarray(g[head]), value, atol=1e-5), head


def test_fastapi_baseline_answers_the_gateways_payload_as_the_signature_does(
        model_repo: Path) -> None:
    from fastapi.testclient import TestClient

    from tests.bench import fastapi_app

    exports = {m: model_repo / m / "1" for m in ("profiler", "similarity")}
    os.environ["BENCH_FASTAPI_MODELS"] = ",".join(f"{m}={p}" for m, p in exports.items())
    try:
        with TestClient(fastapi_app.app) as client:  # runs the lifespan: loads per worker
            profile = client.post("/v1/models/profiler:predict",
                                  json={"instances": PROFILER_POSTS})
            pair = {"left": "how do i learn python", "right": "what is python"}
            similar = client.post("/v1/models/similarity:predict", json={"instances": [pair]})
            missing = client.post("/v1/models/nope:predict", json={"instances": ["x"]})
    finally:
        os.environ.pop("BENCH_FASTAPI_MODELS")
        fastapi_app.MODELS.clear()
    assert profile.status_code == 200 and similar.status_code == 200
    _assert_same(profile.json()["predictions"],
                 _signature_rows(exports["profiler"], PROFILER_POSTS))
    _assert_same(similar.json()["predictions"], _signature_rows(exports["similarity"], [pair]))
    assert missing.status_code == 404


KSERVE_CHECK = """
import asyncio, json, pickle, sys
sys.path.insert(0, sys.argv[1])
from kserve_server import SignatureModel
model = SignatureModel("profiler", sys.argv[2])
assert model.load() and model.ready and model._fn is None  # the parent loads nothing
sent = pickle.dumps(model)                                 # what KServe sends a worker
arrived = pickle.loads(sent)                               # starts loading, returns at once
arrived._loader.join(120)
loaded_on_arrival = arrived._fn is not None and asyncio.run(arrived.healthy())
payload = {"instances": json.loads(sys.argv[3])}
answer = arrived.predict(payload)
again = pickle.loads(pickle.dumps(arrived))                # a loaded model still travels
print(json.dumps({"sent_bytes": len(sent), "loaded_on_arrival": loaded_on_arrival,
                  "answer": answer, "again": again.predict(payload)}))
"""


def _in_peer_env(peer: str, check: str, export: Path) -> dict:
    """Run `check` with a bench-only peer environment's interpreter (skipped when `make
    bench` has not built it): its JSON answer."""
    python = servers.peer_python(peer)
    if python is None:
        pytest.skip(f"the bench-only {peer} environment {servers.PEER_VENVS / peer} is not "
                    "built (make bench builds it; too slow for make test)")
    done = subprocess.run([str(python), "-c", check, str(servers.PEERS_DIR / peer),
                           str(export), json.dumps(PROFILER_POSTS)], capture_output=True,
                          text=True, timeout=150, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_kserve_model_loads_in_each_worker_and_answers_as_the_signature(
        model_repo: Path) -> None:
    export = model_repo / "profiler" / "1"
    got = _in_peer_env("kserve", KSERVE_CHECK, export)
    assert got["loaded_on_arrival"] and got["sent_bytes"] < 100_000  # no TF function inside
    want = _signature_rows(export, PROFILER_POSTS)
    _assert_same(got["answer"]["predictions"], want)
    _assert_same(got["again"]["predictions"], want)


LITSERVE_CHECK = """
import json, sys
sys.path.insert(0, sys.argv[1])
from litserve_server import SignatureAPI
posts = json.loads(sys.argv[3])
one = SignatureAPI("profiler", sys.argv[2], 1)
one.setup("cpu")
single = one.encode_response(one.predict(one.decode_request({"instances": posts})))
many = SignatureAPI("profiler", sys.argv[2], 64)
many.setup("cpu")
merged = many.batch([many.decode_request({"instances": posts}),
                     many.decode_request({"instances": posts[1:]})])
batched = [many.encode_response(out) for out in many.predict(merged)]
print(json.dumps({"path": one.api_path, "single": single, "batched": batched}))
"""


def test_litserve_api_answers_as_the_signature_alone_and_batched(model_repo: Path) -> None:
    export = model_repo / "profiler" / "1"
    got = _in_peer_env("litserve", LITSERVE_CHECK, export)
    want = _signature_rows(export, PROFILER_POSTS)
    assert got["path"] == "/v1/models/profiler:predict"
    _assert_same(got["single"]["predictions"], want)
    first, second = got["batched"]  # two requests merged into one call, split back
    _assert_same(first["predictions"], want)
    _assert_same(second["predictions"], want[1:])


@pytest.mark.parametrize("peer", ["kserve", "litserve"])
def test_peer_locks_match_their_pyprojects(peer: str) -> None:
    from tests.lockfile import uv

    done = subprocess.run([uv(), "lock", "--check", "--project", str(servers.PEERS_DIR / peer)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    assert done.returncode == 0, done.stderr


def test_perf_analyzer_csv_from_a_real_run(model_repo: Path, tmp_path: Path) -> None:
    """perf_analyzer against the project's TF Serving stand-in (its CSV writer is the same
    for every service kind): probe, input data, shapes, run, CSV parsed."""
    if pa.binary() is None:
        pytest.skip(f"perf_analyzer is not installed at {pa.BINARY} (make bench installs it "
                    "with scripts/install-perf-analyzer.sh)")
    from tests.fakes.tfserving_fake import InProcessTFServing

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "profiler").symlink_to(model_repo / "profiler")
    data = pa.write_input_data(tmp_path / "in.json", [{"posts": p} for p in PROFILER_POSTS])
    with InProcessTFServing(repo).start() as fake:
        dims, why = pa.probe_tfs(fake.address, "profiler")
        assert why == "" and dims == {"posts": [-1]}
        assert pa.shape_flags(dims) == ["--shape", "posts:1"]
        pa.run("tfs-grpc", fake.address, "profiler", data, dims, 1, 1.5,
               tmp_path / "warm.csv")  # the first calls trace the signature
        got = pa.run("tfs-grpc", fake.address, "profiler", data, dims, 2, 1.5,
                     tmp_path / "out.csv")
    assert got["requests"] > 0
    assert 0 < got["p50_ms"] <= got["p90_ms"] <= got["p99_ms"]
    parsed = pa.parse_csv((tmp_path / "out.csv").read_text())
    assert parsed["concurrency"] == 2 and parsed["rps"] > 0
    assert got["requests"] / got["duration_s"] == pytest.approx(parsed["rps"])


def test_perf_analyzer_v2_against_the_gateway(model_repo: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("serving.protocols.v2") is None:
        pytest.skip("the gateway has no OIP v2 protocol yet (serving/protocols/v2): "
                    "the v2 perf_analyzer rows are skipped in make bench too")
    if pa.binary() is None:
        pytest.skip(f"perf_analyzer is not installed at {pa.BINARY}")
    gateway = servers.start_gateway(model_repo, workers=1, threads=4)
    try:
        meta, why = pa.probe_v2(gateway.http_url, "profiler")
        if meta is None:
            pytest.skip(f"the gateway's /v2 is not complete enough for perf_analyzer: {why}")
        data = pa.write_input_data(tmp_path / "in.json", [{"posts": p} for p in PROFILER_POSTS])
        target = gateway.http_url.removeprefix("http://")
        got = pa.run("v2-rest", target, "profiler", data, pa.v2_dims(meta), 1, 1.5,
                     tmp_path / "out.csv")
    finally:
        gateway.stop()
    assert got["requests"] > 0 and got["p50_ms"] > 0


def test_probes_say_why_a_gateway_without_the_protocol_is_skipped() -> None:
    meta, why = pa.probe_v2("http://127.0.0.1:9", "profiler")  # nothing listens there
    assert meta is None and "GET /v2" in why


