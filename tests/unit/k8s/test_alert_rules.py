"""The drift alerts: the rendered PrometheusRule passes `promtool check rules`, and
`promtool test rules` shows them firing for a head whose PSI stays over the threshold and
staying quiet for a calm head and for a short spike."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from serving.drift import DRIFT_THRESHOLD

from .conftest import Rendered

pytestmark = pytest.mark.timeout(120)


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not on PATH (apt-get install prometheus)")
    return found


def rule_groups(rendered: Rendered) -> dict[str, Any]:
    return {"groups": rendered.get("PrometheusRule", "multihead-drift")["spec"]["groups"]}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60)


def test_the_rules_pass_promtool_and_use_the_documented_threshold(rendered: Rendered,
                                                                    tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rule_groups(rendered)))
    done = run("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    exprs = [r["expr"] for g in rule_groups(rendered)["groups"] for r in g["rules"]]
    assert exprs and all(e.endswith(f"> {DRIFT_THRESHOLD}") for e in exprs)


def test_the_head_alert_fires_for_lasting_drift_only(rendered_all: dict[str, Rendered],
                                                     tmp_path: Path) -> None:
    groups = rule_groups(rendered_all["gpu"])
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(groups))
    (head_rule,) = [r for g in groups["groups"] for r in g["rules"]
                    if r.get("alert") == "MultiheadHeadDrift"]
    series = 'multihead_drift_head_psi{{model="profiler",version="1",head="{}",pod="{}"}}'
    alert = {"alertname": "MultiheadHeadDrift", "severity": "warning", "model": "profiler",
             "version": "1"}
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            # One pod sees the age head drift for good; the other pod stays calm.
            {"series": series.format("age", "a"), "values": "0.6x40"},
            {"series": series.format("age", "b"), "values": "0.05x40"},
            # income: a 10-minute spike, then calm again.
            {"series": series.format("income", "a"), "values": "0.9x10 0.05x30"},
            {"series": series.format("gender", "a"), "values": "0.1x40"},
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "MultiheadHeadDrift", "exp_alerts": []},
            {"eval_time": "20m", "alertname": "MultiheadHeadDrift", "exp_alerts": [
                {"exp_labels": {**alert, "head": "age"}, "exp_annotations": {
                    "summary": "Head age of model profiler version 1 predicts unlike its "
                               "training data (PSI 0.6).",
                    "description": head_rule["annotations"]["description"]}}]},
        ],
    }]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    done = run("test", "rules", str(tmp_path / "tests.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
