"""Policies over the rendered overlays: what a platform team checks before merging."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from .conftest import Rendered, container, pod_spec, pod_template, selects

pytestmark = pytest.mark.timeout(120)

TF_VERSION = importlib.metadata.version("tensorflow")
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")


def _args(c: dict[str, Any]) -> dict[str, str]:
    out = {}
    for arg in c.get("command", []) + c.get("args", []):
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            out[key] = value
    return out


def _env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c.get("env", [])}


def _mount_for(workload: dict[str, Any], c: dict[str, Any], path: str) -> tuple[dict, dict]:
    """(volumeMount, volume) of the mount that holds `path` in container `c`."""
    mounts = sorted((m for m in c.get("volumeMounts", [])
                     if path == m["mountPath"]
                     or path.startswith(m["mountPath"].rstrip("/") + "/")),
                    key=lambda m: len(m["mountPath"]))
    assert mounts, f"{path} is on no volume of {c['name']}"
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    return mounts[-1], volumes[mounts[-1]["name"]]


def _resolve_port(workload: dict[str, Any], port: int | str) -> int | None:
    for c in pod_spec(workload)["containers"]:
        for p in c.get("ports", []):
            if port in (p["containerPort"], p.get("name")):
                return p["containerPort"]
    return None


# --- every container ------------------------------------------------------------

def test_every_container_has_requests_and_limits(rendered: Rendered) -> None:
    for workload, c in rendered.containers():
        resources = c.get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), (
                f"{workload['metadata']['name']}/{c['name']} lacks {kind}")


def test_every_container_runs_as_non_root(rendered: Rendered) -> None:
    for workload, c in rendered.containers():
        pod_ctx = pod_spec(workload).get("securityContext", {})
        ctx = {**pod_ctx, **c.get("securityContext", {})}
        where = f"{workload['metadata']['name']}/{c['name']}"
        assert ctx.get("runAsNonRoot") is True, where
        # A non-zero uid on every pod: TF Serving's image runs as root, so
        # runAsNonRoot alone would refuse to start it; ours are numeric but explicit.
        assert isinstance(ctx.get("runAsUser"), int) and ctx["runAsUser"] > 0, where
        assert ctx.get("allowPrivilegeEscalation") is False, where
        assert ctx.get("readOnlyRootFilesystem") is True, where
        assert ctx.get("capabilities", {}).get("drop") == ["ALL"], where
        assert ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", where


def test_every_image_is_pinned(rendered: Rendered) -> None:
    for workload, c in rendered.containers():
        image = c["image"]
        name, _, digest = image.partition("@")
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        assert digest or (tag and tag != "latest" and re.search(r"\d+\.\d+", tag)), (
            f"{workload['metadata']['name']}/{c['name']}: {image} is not pinned to a version")
        # A tag can be pushed again: without a digest, every pod start must resolve it
        # (and check the pull credentials) at the registry, not trust a node's cache.
        if not digest:
            assert c.get("imagePullPolicy") == "Always", (
                f"{workload['metadata']['name']}/{c['name']}: {image} has no digest")


def test_no_pod_mounts_a_service_account_token(rendered: Rendered) -> None:
    # Nothing here calls the Kubernetes API.
    for workload in rendered.workloads():
        assert pod_spec(workload).get("automountServiceAccountToken") is False, (
            workload["metadata"]["name"])


def test_long_running_containers_have_probes(rendered: Rendered) -> None:
    for workload, c in rendered.containers():
        if workload["kind"] in LONG_RUNNING:
            assert "readinessProbe" in c and "livenessProbe" in c, (
                f"{workload['metadata']['name']}/{c['name']}")


def test_tfserving_matches_the_models_tensorflow(rendered: Rendered) -> None:
    image = container(rendered.get("Deployment", "tfserving"), "tfserving")["image"]
    suffix = "-gpu" if rendered.name == "gpu" else ""
    assert image == f"tensorflow/serving:{TF_VERSION}{suffix}"


# --- GPU scheduling -------------------------------------------------------------

def test_gpu_overlay_puts_tfserving_and_training_on_gpus(rendered_all) -> None:
    gpu = rendered_all["gpu"]
    for kind, name, cname in (("Deployment", "tfserving", "tfserving"),
                              ("Job", "train", "trainer"), ("Job", "tune-workers", "tuner")):
        workload = gpu.get(kind, name)
        c = container(workload, cname)
        assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
        spec = pod_spec(workload)
        assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists",
                "effect": "NoSchedule"} in spec["tolerations"]
    assert container(gpu.get("Job", "train"), "trainer")["image"].endswith("-gpu")
    # The gateway and the tuning oracle need no GPU: they must not hold one.
    assert "nvidia.com/gpu" not in str(gpu.get("Deployment", "gateway"))
    assert "nvidia.com/gpu" not in str(gpu.get("Job", "tune-chief"))


def test_cpu_overlay_needs_no_gpu(rendered_all) -> None:
    cpu = rendered_all["cpu"]
    for workload, c in cpu.containers():
        assert "nvidia.com/gpu" not in c["resources"]["limits"]
        assert "nodeSelector" not in pod_spec(workload)
        assert not c["image"].endswith("-gpu")
    assert cpu.get("PersistentVolumeClaim", "models")["spec"]["accessModes"] == ["ReadWriteOnce"]


# --- wiring -----------------------------------------------------------------------

def test_every_service_target_port_is_declared_by_its_pods(rendered: Rendered) -> None:
    for service in rendered.of_kind("Service"):
        selector = service["spec"]["selector"]
        backends = [w for w in rendered.workloads()
                    if selects(selector, pod_template(w)["metadata"]["labels"])]
        assert backends, f"Service {service['metadata']['name']} selects no pods"
        for workload in backends:
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                assert _resolve_port(workload, target) is not None, (
                    f"Service {service['metadata']['name']} targets {target}, which "
                    f"{workload['metadata']['name']} does not declare")


def test_gateway_reaches_tfserving_through_its_service(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    env = _env(container(gateway, "gateway"))
    assert env["MULTIHEAD_BACKEND"] == "tfserving"
    assert env["MULTIHEAD_HOST"] == "0.0.0.0"
    host, _, port = env["MULTIHEAD_TFSERVING_ADDR"].rpartition(":")
    service = rendered.get("Service", host.split(".")[0])
    if "." in host:
        assert host.split(".")[1] == service["metadata"]["namespace"]
    ports = {p["port"]: p for p in service["spec"]["ports"]}
    assert int(port) in ports, f"{service['metadata']['name']} has no port {port}"
    tfserving = rendered.get("Deployment", "tfserving")
    assert selects(service["spec"]["selector"], pod_template(tfserving)["metadata"]["labels"])
    # ... and that port lands on TF Serving's gRPC port.
    target = _resolve_port(tfserving, ports[int(port)]["targetPort"])
    assert f"--port={target}" in container(tfserving, "tfserving")["args"]


def test_network_policy_admits_only_the_gateway_and_prometheus(rendered: Rendered) -> None:
    policy = rendered.get("NetworkPolicy", "tfserving-ingress")
    selector = policy["spec"]["podSelector"]["matchLabels"]
    tfserving_labels = pod_template(rendered.get("Deployment", "tfserving"))["metadata"]["labels"]
    assert selects(selector, tfserving_labels)
    for workload in rendered.workloads():
        if workload["metadata"]["name"] != "tfserving":
            assert not selects(selector, pod_template(workload)["metadata"]["labels"])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    gateway_labels = pod_template(rendered.get("Deployment", "gateway"))["metadata"]["labels"]
    peers = [(peer, rule) for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    gateway_rules = [rule for peer, rule in peers if "namespaceSelector" not in peer
                     and selects(peer["podSelector"]["matchLabels"], gateway_labels)]
    assert gateway_rules and {"protocol": "TCP", "port": 8500} in gateway_rules[0]["ports"]
    others = [peer for peer, _ in peers if peer not in [p for p, r in peers if r in gateway_rules]]
    # Every other peer is Prometheus, from its own namespace.
    assert others and all(p["podSelector"]["matchLabels"] == {"app.kubernetes.io/name":
                                                              "prometheus"}
                          and "namespaceSelector" in p for p in others)


def test_service_monitors_select_their_services(rendered: Rendered) -> None:
    for name, path in (("gateway", "/metrics"),
                       ("tfserving", "/monitoring/prometheus/metrics")):
        monitor = rendered.get("ServiceMonitor", name)
        service = rendered.get("Service", name)
        assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        others = [s for s in rendered.of_kind("Service") if s is not service]
        assert not any(selects(monitor["spec"]["selector"]["matchLabels"],
                               s["metadata"]["labels"]) for s in others)
        port_names = {p["name"] for p in service["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in port_names
            assert endpoint["path"] == path


def test_gateway_pod(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    c = container(gateway, "gateway")
    assert {p["containerPort"] for p in c["ports"]} == {8000, 9000}
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["startupProbe"]["grpc"]["port"] == 9000
    env = _env(c)
    assert _resolve_port(gateway, c["livenessProbe"]["httpGet"]["port"]) == int(
        env["MULTIHEAD_HTTP_PORT"])
    assert int(env["MULTIHEAD_GRPC_PORT"]) == 9000
    # Multiprocess metrics need a writable directory on a read-only root filesystem.
    _, volume = _mount_for(gateway, c, env["PROMETHEUS_MULTIPROC_DIR"])
    assert "emptyDir" in volume
    _, tmp = _mount_for(gateway, c, "/tmp")
    assert "emptyDir" in tmp
    annotations = pod_template(gateway)["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == 8000
    assert annotations["prometheus.io/path"] == "/metrics"


def test_autoscaler_and_disruption_budget_target_the_gateway(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    hpa = rendered.get("HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "gateway"}
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = rendered.get("PodDisruptionBudget", "gateway")
    assert selects(pdb["spec"]["selector"]["matchLabels"],
                   pod_template(gateway)["metadata"]["labels"])
    # The budget never blocks every eviction (a drain would hang forever).
    if "minAvailable" in pdb["spec"]:
        assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


# --- TF Serving and its configuration -------------------------------------------

def _config_map_file(rendered: Rendered, workload: dict[str, Any], c: dict[str, Any],
                     path: str) -> str:
    mount, volume = _mount_for(workload, c, path)
    assert "configMap" in volume, f"{path} is not from a ConfigMap"
    config_map = rendered.get("ConfigMap", volume["configMap"]["name"])
    return config_map["data"][path[len(mount["mountPath"]):].lstrip("/")]


def test_models_config_map_lists_every_default_model(rendered: Rendered) -> None:
    from training.models import DEFAULT_MODELS

    tfserving = rendered.get("Deployment", "tfserving")
    c = container(tfserving, "tfserving")
    args = _args(c)
    text = _config_map_file(rendered, tfserving, c, args["model_config_file"])
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    models = {m.name: m for m in config.model_config_list.config}
    assert sorted(models) == sorted(DEFAULT_MODELS)
    for name, model in models.items():
        mount, volume = _mount_for(tfserving, c, model.base_path)
        assert model.base_path == f"{mount['mountPath']}/{name}"
        assert volume["persistentVolumeClaim"]["claimName"] == "models"
        assert mount["readOnly"] is True and volume["persistentVolumeClaim"]["readOnly"] is True
    monitoring = _config_map_file(rendered, tfserving, c, args["monitoring_config_file"])
    assert '"/monitoring/prometheus/metrics"' in monitoring


def test_tfserving_flags(rendered: Rendered) -> None:
    c = container(rendered.get("Deployment", "tfserving"), "tfserving")
    args = _args(c)
    assert args["port"] == "8500" and args["rest_api_port"] == "8501"
    assert int(args["model_config_file_poll_wait_seconds"]) > 0
    assert args["enable_model_warmup"] == "true"
    # Without it TF Serving refuses version labels in the first config it reads.
    assert args["allow_version_labels_for_unavailable_models"] == "true"
    assert c["command"] == ["/usr/bin/tensorflow_model_server"]


def test_exactly_one_layer_batches_and_it_is_the_gateway(rendered: Rendered) -> None:
    """Two batchers in a row only queue twice; the gateway's batcher is the one measured
    to pay (README, "TensorFlow Serving backend")."""
    from serving.config import Settings

    gateway = Settings.from_env(_env(container(rendered.get("Deployment", "gateway"),
                                               "gateway")))
    tfserving = _args(container(rendered.get("Deployment", "tfserving"), "tfserving"))
    assert gateway.backend == "tfserving"
    assert gateway.enable_batching
    assert tfserving.get("enable_batching", "false") == "false"
    assert "batching_parameters_file" not in tfserving


def test_training_job_exports_into_the_models_volume(rendered: Rendered) -> None:
    job = rendered.get("Job", "train")
    c = container(job, "trainer")
    argv = c["command"] + c["args"]
    assert argv[:4] == ["python", "-m", "training", "all"]
    model_dir = argv[argv.index("--model-dir") + 1]
    mount, volume = _mount_for(job, c, model_dir)
    assert volume["persistentVolumeClaim"]["claimName"] == "models"
    assert not mount.get("readOnly", False)
    assert pod_spec(job)["restartPolicy"] == "Never"
    tfserving = rendered.get("Deployment", "tfserving")
    tfs_mount, _ = _mount_for(tfserving, container(tfserving, "tfserving"), "/models/x")
    assert tfs_mount["mountPath"] == model_dir


def test_tuning_is_a_chief_oracle_behind_a_service_and_an_indexed_job_of_workers(
        rendered: Rendered) -> None:
    # keras-tuner's distributed mode (training/tune_cluster.py), created suspended.
    chief_job, workers_job = rendered.get("Job", "tune-chief"), rendered.get("Job", "tune-workers")
    chief, worker = container(chief_job, "tuner"), container(workers_job, "tuner")
    assert chief_job["spec"]["suspend"] is True and workers_job["spec"]["suspend"] is True
    assert workers_job["spec"]["completionMode"] == "Indexed"
    assert workers_job["spec"]["completions"] == workers_job["spec"]["parallelism"] >= 2
    # Every process runs the same search, distributed, into the same shared volume.
    argv = chief["command"] + chief["args"]
    assert argv[:4] == ["python", "-m", "training", "tune"] and "--distributed" in argv
    assert worker["command"] + worker["args"] == argv
    out = argv[argv.index("--out") + 1]
    for job, c in ((chief_job, chief), (workers_job, worker)):
        _, volume = _mount_for(job, c, out + "/x")
        assert volume["persistentVolumeClaim"]["claimName"] == "tuning"
    env = {e["name"]: e for e in chief["env"]}
    assert env["KERASTUNER_TUNER_ID"]["value"] == "chief"
    assert env["KERASTUNER_ORACLE_IP"]["value"] == "0.0.0.0"
    port = int(env["KERASTUNER_ORACLE_PORT"]["value"])
    # Each worker's id is unique: from its completion index.
    wenv = {e["name"]: e for e in worker["env"]}
    index = wenv["WORKER_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert wenv["KERASTUNER_TUNER_ID"]["value"] == "tuner$(WORKER_INDEX)"
    assert "chief" not in wenv["KERASTUNER_TUNER_ID"]["value"]
    # The workers dial the Service, which selects the chief only, on the oracle's port.
    service = rendered.get("Service", wenv["KERASTUNER_ORACLE_IP"]["value"])
    assert int(wenv["KERASTUNER_ORACLE_PORT"]["value"]) == service["spec"]["ports"][0]["port"]
    assert selects(service["spec"]["selector"], pod_template(chief_job)["metadata"]["labels"])
    assert not selects(service["spec"]["selector"],
                       pod_template(workers_job)["metadata"]["labels"])
    assert _resolve_port(chief_job, service["spec"]["ports"][0]["targetPort"]) == port
    modes = rendered.get("PersistentVolumeClaim", "tuning")["spec"]["accessModes"]
    assert modes == (["ReadWriteOnce"] if rendered.name == "cpu" else ["ReadWriteMany"])


# --- TF Serving's readiness probe, run for real against a stand-in REST API --------

class _StatusHandler(BaseHTTPRequestHandler):
    states: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.states:
            body, code = b'{"error": "Servable not found"}', 404
        else:
            # TF Serving's GetModelStatus JSON (tensorflow_serving/apis/get_model_status.proto).
            state = self.states[name]
            error = "UNAVAILABLE" if state == "END" else "OK"
            body = json.dumps({"model_version_status": [{
                "version": "1", "state": state,
                "status": {"error_code": error, "error_message": ""}}]}, indent=1).encode()
            code = 200
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def status_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_tfserving_readiness_probe_needs_every_model_available(
        rendered_all, status_server, tmp_path: Path) -> None:
    rendered = rendered_all["gpu"]
    tfserving = rendered.get("Deployment", "tfserving")
    c = container(tfserving, "tfserving")
    command = c["readinessProbe"]["exec"]["command"]
    config_path = _args(c)["model_config_file"]
    local_config = tmp_path / "models.config"
    local_config.write_text(_config_map_file(rendered, tfserving, c, config_path))
    port = status_server.server_address[1]
    script = command[-1].replace(config_path, str(local_config)).replace(
        "/dev/tcp/127.0.0.1/8501", f"/dev/tcp/127.0.0.1/{port}")
    assert script != command[-1]

    def probe(states: dict[str, str]) -> int:
        _StatusHandler.states = states
        return subprocess.run([*command[:-1], script], capture_output=True, timeout=20).returncode

    from training.models import DEFAULT_MODELS

    available = dict.fromkeys(DEFAULT_MODELS, "AVAILABLE")
    assert probe(available) == 0
    first = DEFAULT_MODELS[0]
    for state in ("LOADING", "START", "END", "UNLOADING"):
        assert probe({**available, first: state}) != 0, state
    missing = dict(available)
    missing.pop(DEFAULT_MODELS[-1])
    assert probe(missing) != 0
    assert shlex.split(" ".join(command[:-1]))[0] == "/bin/bash"


# --- NetworkPolicy, evaluated flow by flow ----------------------------------------
# The policies' meaning per the NetworkPolicy API (networking.k8s.io/v1): a pod is
# isolated in a direction once any policy selecting it lists that policyType; then
# only what some rule of such a policy allows gets through.

def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    # Only matchLabels is used in k8s/; matchExpressions would need more here.
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_admits(peer: dict[str, Any], policy_ns: str, ns: str, labels: dict[str, str]) -> bool:
    assert "ipBlock" not in peer, "ipBlock peers are not evaluated here"
    if "namespaceSelector" in peer:
        ns_ok = _matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": ns})
    else:
        ns_ok = ns == policy_ns
    return ns_ok and _matches(peer.get("podSelector", {}), labels)


def _allowed(rendered: Rendered, direction: str, pod: tuple[str, dict[str, str]],
             peer: tuple[str, dict[str, str]], port: int, protocol: str = "TCP") -> bool:
    """Whether `pod` (namespace, labels) may send (Egress) to / receive (Ingress) from `peer`."""
    ns, labels = pod
    policies = [p for p in rendered.of_kind("NetworkPolicy")
                if p["metadata"]["namespace"] == ns
                and _matches(p["spec"]["podSelector"], labels)
                and direction in p["spec"]["policyTypes"]]
    if not policies:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in policies:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            peer_ok = peers is None or any(
                _peer_admits(p, ns, peer[0], peer[1]) for p in peers)
            ports = rule.get("ports")
            port_ok = ports is None or any(
                p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)
            if peer_ok and port_ok:
                return True
    return False


def _pod(rendered: Rendered, kind: str, name: str) -> tuple[str, dict[str, str]]:
    workload = rendered.get(kind, name)
    return workload["metadata"]["namespace"], pod_template(workload)["metadata"]["labels"]


def _flow(rendered: Rendered, src: tuple[str, dict], dst: tuple[str, dict], port: int,
          protocol: str = "TCP") -> bool:
    """A connection needs both the sender's egress and the receiver's ingress."""
    return (_allowed(rendered, "Egress", src, dst, port, protocol)
            and _allowed(rendered, "Ingress", dst, src, port, protocol))


def test_network_policies_allow_exactly_the_documented_flows(rendered: Rendered) -> None:
    gateway = _pod(rendered, "Deployment", "gateway")
    tfserving = _pod(rendered, "Deployment", "tfserving")
    trainer = _pod(rendered, "Job", "train")
    chief, worker = _pod(rendered, "Job", "tune-chief"), _pod(rendered, "Job", "tune-workers")
    client = ("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    prometheus = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
    dns = ("kube-system", {"k8s-app": "kube-dns"})
    other_kube_system = ("kube-system", {"k8s-app": "metrics-server"})
    internet_like = ("default", {"app": "anything"})
    allowed = [
        (client, gateway, 8000, "TCP"), (client, gateway, 9000, "TCP"),
        (prometheus, gateway, 8000, "TCP"),
        (gateway, tfserving, 8500, "TCP"), (prometheus, tfserving, 8501, "TCP"),
        (gateway, dns, 53, "UDP"), (gateway, dns, 53, "TCP"),
        # A distributed search: the workers reach the chief's oracle, by name.
        (worker, chief, 9500, "TCP"), (worker, dns, 53, "UDP"), (worker, dns, 53, "TCP"),
    ]
    denied = [
        (client, gateway, 8001, "TCP"), (client, tfserving, 8500, "TCP"),
        (prometheus, tfserving, 8500, "TCP"), (trainer, tfserving, 8500, "TCP"),
        (gateway, tfserving, 8600, "TCP"), (gateway, trainer, 8000, "TCP"),
        (gateway, other_kube_system, 53, "UDP"), (gateway, internet_like, 443, "TCP"),
        (tfserving, dns, 53, "UDP"), (tfserving, internet_like, 443, "TCP"),
        (tfserving, gateway, 8000, "TCP"),
        # The training Job talks to nobody and nobody talks to it.
        (trainer, dns, 53, "UDP"), (trainer, internet_like, 443, "TCP"),
        (trainer, gateway, 8000, "TCP"), (client, trainer, 12345, "TCP"),
        (gateway, trainer, 12345, "TCP"),
        # The oracle serves the workers only; the search reaches nothing else.
        (gateway, chief, 9500, "TCP"), (client, chief, 9500, "TCP"),
        (trainer, chief, 9500, "TCP"), (chief, worker, 9500, "TCP"),
        (chief, internet_like, 443, "TCP"), (chief, dns, 53, "UDP"),
        (worker, internet_like, 443, "TCP"), (worker, gateway, 8000, "TCP"),
        (worker, tfserving, 8500, "TCP"), (worker, chief, 9000, "TCP"),
    ]
    wrong = [f"{'denied' if ok else 'allowed'}: {src} -> {dst}:{port}/{proto}"
             for flows, ok in ((allowed, True), (denied, False))
             for src, dst, port, proto in flows
             if _flow(rendered, src, dst, port, proto) != ok]
    assert not wrong, "\n".join(wrong)


def test_every_pod_of_the_namespace_is_denied_by_default(rendered: Rendered) -> None:
    deny = rendered.get("NetworkPolicy", "default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    # A pod nobody thought of gets nothing either.
    stray = (deny["metadata"]["namespace"], {"app": "debug"})
    anyone = ("default", {})
    assert not _allowed(rendered, "Ingress", stray, anyone, 80)
    assert not _allowed(rendered, "Egress", stray, anyone, 80)
