"""Both overlays render, and every object validates against its API schema."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from serving.drift import psi_families
from serving.metrics import Metrics

from .conftest import K8S, NAMESPACE, Rendered, kustomize

pytestmark = pytest.mark.timeout(120)

# The oldest Kubernetes release still in upstream support when this was written;
# every API used here (autoscaling/v2, policy/v1, batch/v1, gRPC probes) is GA in it.
KUBERNETES_VERSION = "1.31"
# Custom resources have no schema in kubernetes-validate; ServiceMonitor is checked
# against our own strict schema of the fields this project uses.
CRD_SCHEMAS = {"ServiceMonitor": Path(__file__).with_name("servicemonitor.schema.json"),
               "PrometheusRule": Path(__file__).with_name("prometheusrule.schema.json")}
EXPECTED = {
    ("Namespace", "multihead"), ("PersistentVolumeClaim", "models"),
    ("Deployment", "tfserving"), ("Service", "tfserving"), ("NetworkPolicy", "tfserving-ingress"),
    ("NetworkPolicy", "default-deny"), ("NetworkPolicy", "gateway"),
    ("Deployment", "gateway"), ("Service", "gateway"), ("HorizontalPodAutoscaler", "gateway"),
    ("PodDisruptionBudget", "gateway"), ("Job", "train"), ("ServiceMonitor", "gateway"),
    ("ServiceMonitor", "tfserving"), ("ConfigMap", "tfserving-models"),
    ("ConfigMap", "multihead-grafana-dashboard"), ("PrometheusRule", "multihead-drift"),
}


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    return json.loads(CRD_SCHEMAS[kind].read_text())


def validate(obj: dict[str, Any]) -> None:
    """Raises if `obj` does not validate against its schema."""
    if obj["kind"] in CRD_SCHEMAS:
        jsonschema.validate(obj, crd_schema(obj["kind"]))
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_overlay_renders_every_part(rendered: Rendered) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered.objects}
    assert EXPECTED <= names, f"missing: {EXPECTED - names}"
    # The batching/monitoring ConfigMap carries kustomize's content hash.
    assert any(kind == "ConfigMap" and re.fullmatch(r"tfserving-runtime-[a-z0-9]{10}", name)
               for kind, name in names)


def test_every_object_validates(rendered: Rendered) -> None:
    failures = []
    for obj in rendered.objects:
        try:
            validate(obj)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError,
                kubernetes_validate.SchemaNotFoundError) as exc:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind, name, mutate", [
    ("Deployment", "gateway",
     lambda o: o["spec"]["template"]["spec"]["containers"][0].update(readinesProbe={})),
    ("Service", "tfserving", lambda o: o["spec"]["ports"][0].update(port="8500")),
    ("ServiceMonitor", "gateway", lambda o: o["spec"]["endpoints"][0].update(interval="15 s")),
    ("ServiceMonitor", "tfserving", lambda o: o["spec"].update(endpoint=[])),
    ("PrometheusRule", "multihead-drift",
     lambda o: o["spec"]["groups"][0]["rules"][0].update(fore="15m")),
])
def test_validation_rejects_a_broken_object(rendered_all: dict[str, Rendered], kind: str,
                                            name: str, mutate) -> None:
    """The validators are strict: a typo or a wrong type is an error, not a pass."""
    obj = copy.deepcopy(rendered_all["gpu"].get(kind, name))
    validate(obj)
    mutate(obj)
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate(obj)


def test_everything_lives_in_the_namespace(rendered: Rendered) -> None:
    for obj in rendered.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "multihead"


def test_base_renders_alone() -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in kustomize(K8S / "base")}
    assert EXPECTED <= names


# --- the Grafana dashboard ---------------------------------------------------

def _dashboard(rendered: Rendered) -> dict[str, Any]:
    config_map = rendered.get("ConfigMap", "multihead-grafana-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    return json.loads(config_map["data"]["multihead-dashboard.json"])


def _exprs(dashboard: dict[str, Any]) -> dict[str, list[str]]:
    return {panel["title"]: [t["expr"] for t in panel["targets"]]
            for panel in dashboard["panels"]}


def test_dashboard_shows_what_the_issue_asks(rendered_all: dict[str, Rendered]) -> None:
    exprs = " ".join(e for es in _exprs(_dashboard(rendered_all["gpu"])).values() for e in es)
    for needle in ("sum by (model, protocol, transport) (rate(multihead_requests_total",
                   "histogram_quantile(0.5, sum by (model, le) "
                   "(rate(multihead_request_duration_seconds_bucket",
                   "histogram_quantile(0.99, sum by (model, le) "
                   "(rate(multihead_request_duration_seconds_bucket",
                   'sum by (code) (rate(multihead_requests_total{code!="OK"',
                   "multihead_batch_size_bucket",
                   "sum by (model, head, label) (rate(multihead_head_predictions_total",
                   "multihead_drift_head_psi{model=~\"$model\", head=~\"$head\"}",
                   "multihead_drift_head_window{", "multihead_drift_head_training_ratio{",
                   "multihead_drift_input_psi{"):
        assert needle in exprs


def test_dashboard_metrics_are_the_gateways(rendered_all: dict[str, Rendered]) -> None:
    exposed = set()
    # The registry's families, and the drift PSI gauges computed at scrape time.
    for family in [*Metrics().registry.collect(), *psi_families([])]:
        exposed.add(family.name)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exposed.update(family.name + s for s in suffixes.get(family.type, []))
    for title, exprs in _exprs(_dashboard(rendered_all["gpu"])).items():
        for name in re.findall(r"\bmultihead_\w+", " ".join(exprs)):
            assert name in exposed, f"panel {title!r} uses {name}, which the gateway lacks"


def test_dashboard_queries_parse_as_promql(rendered_all: dict[str, Rendered],
                                           tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not on PATH (apt-get install prometheus)")
    rules = []
    for i, exprs in enumerate(_exprs(_dashboard(rendered_all["gpu"])).values()):
        for j, expr in enumerate(exprs):
            # Grafana's variables, as Grafana substitutes them.
            expr = expr.replace("$__rate_interval", "5m").replace("$model", ".*")
            rules.append({"record": f"dashboard:panel{i}:target{j}", "expr": expr})
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_tcp_migrate_req_component_sets_the_sysctl_on_the_gateway_only(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    rel = os.path.relpath(K8S, overlay)  # kustomize takes relative paths only
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{rel}/overlays/cpu]\ncomponents: [{rel}/components/tcp-migrate-req]\n")
    objects = kustomize(overlay)
    with_sysctls = {o["metadata"]["name"]: o["spec"]["template"]["spec"]["securityContext"]
                    ["sysctls"] for o in objects if o["kind"] == "Deployment"
                    and "sysctls" in o["spec"]["template"]["spec"].get("securityContext", {})}
    assert with_sysctls == {"gateway": [{"name": "net.ipv4.tcp_migrate_req", "value": "1"}]}
    for obj in objects:
        validate(obj)
    plain = [o for o in kustomize(K8S / "overlays" / "cpu") if o["kind"] == "Deployment"]
    assert not any("sysctls" in o["spec"]["template"]["spec"].get("securityContext", {})
                   for o in plain)  # opt-in: a default cluster would refuse the pod


def test_otel_tracing_component_points_the_gateway_at_a_collector(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    rel = os.path.relpath(K8S, overlay)
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{rel}/overlays/gpu]\ncomponents: [{rel}/components/otel-tracing]\n")
    objects = kustomize(overlay)
    for obj in objects:
        validate(obj)

    def otel_env(objs: list[dict[str, Any]]) -> dict[str, str]:
        (gateway,) = [o for o in objs if o["kind"] == "Deployment"
                      and o["metadata"]["name"] == "gateway"]
        return {e["name"]: e["value"] for e in
                gateway["spec"]["template"]["spec"]["containers"][0]["env"]
                if e["name"].startswith("OTEL_")}

    env = otel_env(objects)
    from serving.tracing import enabled

    assert enabled(env) and env["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4317")
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy"
                 and o["metadata"]["name"] == "gateway"]
    assert any({"protocol": "TCP", "port": 4317} in rule.get("ports", [])
               for rule in policy["spec"]["egress"])
    assert not enabled(otel_env(kustomize(K8S / "overlays" / "gpu")))  # off by default
