"""/openapi.json is a valid OpenAPI 3 document of the routes the gateway serves, and a
bounded schemathesis run against the live gateway finds no 5xx answer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_document_validates_and_lists_every_route(gateway):
    from openapi_spec_validator import validate

    doc = gateway.get("/openapi.json").json()
    validate(doc)
    paths = set(doc["paths"])
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/models",
                 "/v1/similarity", "/v1/profile", "/v1/answer",
                 "/v1/models/{model_name}", "/v1/models/{model_name}/metadata",
                 "/v1/models/{model_name}:predict",
                 "/v1/models/{model_name}/versions/{version}:predict",
                 "/v1/models/{model_name}/labels/{label}/metadata"):
        assert path in paths, path
    # Documented example paths answer as documented.
    assert gateway.get("/v1/models/qa/labels/nope/metadata").status_code in \
        {int(c) for c in doc["paths"]["/v1/models/{model_name}/labels/{label}/metadata"]["get"][
            "responses"]}


def test_schemathesis_finds_no_server_error(gateway, tmp_path):
    if gateway.backend != "embedded":
        pytest.skip("one fuzzing run is enough: the REST layer is the same for every runtime")
    cli = Path(sys.executable).with_name("schemathesis")
    env = dict(os.environ, SCHEMATHESIS_HOOKS="", NO_COLOR="1")
    run = subprocess.run(
        [str(cli), "run", f"{gateway.http_url}/openapi.json",
         "--checks", "not_a_server_error", "--max-examples", "2", "--seed", "1",
         "--workers", "1", "--request-timeout", "30", "--no-shrink",
         "--generation-database", "none", "--phases", "coverage,fuzzing",
         "--max-failures", "5"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    passed = re.search(r"\d+ generated, (\d+) passed", out)
    assert passed and int(passed.group(1)) >= 50, out[-3000:]  # it really sent requests
    # The gateway is still healthy afterwards.
    assert gateway.get("/readyz").status_code == 200
