"""The gateway's rolling restart never takes capacity away before the new pod is ready,
and a stopping pod keeps serving while endpoints drop it, then drains within its grace."""

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
