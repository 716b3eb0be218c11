"""The gateway's rolling restart never takes capacity away before the new pod is ready,
a stopping pod keeps serving while endpoints drop it, then drains within its grace, and
the probes' timings fit what the gateway promises a prober under load."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from .conftest import Rendered, container, pod_spec

pytestmark = pytest.mark.timeout(120)
GUNICORN = runpy.run_path(str(Path(__file__).resolve().parents[3] / "serving" /
                              "gunicorn.conf.py"))


def test_rollout_surges_before_it_stops_a_pod(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    strategy = gateway["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    assert strategy["rollingUpdate"]["maxSurge"] >= 1
    c = container(gateway, "gateway")
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_stopping_pod_drains_within_its_grace_period(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    c = container(gateway, "gateway")
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop_s = int(command[1])
    assert pre_stop_s >= 3
    assert pod_spec(gateway)["terminationGracePeriodSeconds"] >= \
        pre_stop_s + GUNICORN["graceful_timeout"] + GUNICORN["GRPC_GRACE_S"]


def test_probe_timeouts_leave_room_for_the_gateways_answer(rendered: Rendered) -> None:
    """The gateway answers /healthz and /readyz within PROBE_ANSWER_S under any load
    (README "Overload"); a kubelet waits at least twice that, and a pod whose runtime
    hangs leaves its Service within 15 s."""
    from serving.rest.probes import PROBE_ANSWER_S

    c = container(rendered.get("Deployment", "gateway"), "gateway")
    for probe in (c["livenessProbe"], c["readinessProbe"]):
        assert probe.get("timeoutSeconds", 1) >= 2 * PROBE_ANSWER_S
    ready = c["readinessProbe"]
    assert ready["periodSeconds"] * ready.get("failureThreshold", 3) <= 15
    live = c["livenessProbe"]  # a restart needs a long silence, not one slow answer
    assert live["periodSeconds"] * live.get("failureThreshold", 3) >= 20
