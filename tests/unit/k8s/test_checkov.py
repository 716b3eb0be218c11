"""The rendered overlays pass checkov, the scanner platform teams run on manifests.

Both overlays go into one checkov run (it takes a few seconds to start), offline:
--skip-download keeps it from fetching Bridgecrew/Prisma guidelines or policies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import OVERLAYS, Rendered

pytestmark = pytest.mark.timeout(180)

CHECKOV = Path(sys.executable).with_name("checkov")
# The only check skipped, each time in place with its reason (checkov.io/skipN
# annotations): the images are pinned by tag, their digests are not known offline.
ALLOWED_SKIPS = {"CKV_K8S_43"}


def _run_checkov(files: list[Path]) -> dict[str, Any]:
    assert CHECKOV.exists(), f"{CHECKOV} missing: checkov is locked in uv.lock (make setup)"
    command = [str(CHECKOV), "--framework", "kubernetes", "--skip-download", "--compact",
               "--output", "json"]
    for f in files:
        command += ["--file", str(f)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=150)
    # Exit status 1 means "failed checks": the JSON still says which.
    assert done.returncode in (0, 1), f"checkov failed to run:\n{done.stderr[-4000:]}"
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    kubernetes = [r for r in reports if r.get("check_type") == "kubernetes"]
    assert len(kubernetes) == 1, f"no kubernetes report in checkov's output: {done.stdout[:2000]}"
    return kubernetes[0]


@pytest.fixture(scope="module")
def checkov_report(rendered_all: dict[str, Rendered],
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("checkov")
    files = []
    for name in OVERLAYS:
        path = out / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(rendered_all[name].objects, sort_keys=False))
        files.append(path)
    return _run_checkov(files)


def _where(check: dict[str, Any]) -> str:
    return f"{Path(check['file_path']).stem}: {check['check_id']} {check['resource']}"


def test_both_overlays_pass_every_check(checkov_report: dict[str, Any]) -> None:
    results = checkov_report["results"]
    assert checkov_report["summary"]["parsing_errors"] == 0
    failed = [f"{_where(c)} ({c['check_name']})" for c in results["failed_checks"]]
    assert not failed, f"{len(failed)} failed checkov checks:\n" + "\n".join(failed)
    # Both files were scanned, with their workloads: not a vacuous pass.
    scanned = {Path(c["file_path"]).stem for c in results["passed_checks"]}
    assert scanned == set(OVERLAYS)
    for name in OVERLAYS:
        resources = {c["resource"] for c in results["passed_checks"]
                     if Path(c["file_path"]).stem == name}
        for workload in ("Deployment.multihead.gateway", "Deployment.multihead.tfserving",
                         "Job.multihead.train", "Job.multihead.tune-chief",
                         "Job.multihead.tune-workers"):
            assert workload in resources, f"{name}: checkov did not check {workload}"


def test_skips_are_few_and_give_their_reason(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"]["skipped_checks"]
    assert {c["check_id"] for c in skipped} <= ALLOWED_SKIPS, [_where(c) for c in skipped]
    for check in skipped:
        reason = check["check_result"].get("suppress_comment") or ""
        assert len(reason.split()) >= 8, f"{_where(check)}: skipped without a reason"
