"""The README's curl examples work as written: each `curl` line between the
`<!-- curl-examples:begin -->` and `<!-- curl-examples:end -->` markers runs against
a live gateway (its address swapped for http://127.0.0.1:8000) and gets HTTP 200
with a JSON body."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.processes import REPO_ROOT

pytestmark = pytest.mark.slow

# MULTIHEAD_TEST_README: check another file (a draft of the section, say).
README = Path(os.environ.get("MULTIHEAD_TEST_README") or REPO_ROOT / "README.md")
DEMO_URL = "http://127.0.0.1:8000"
BLOCK_RE = re.compile(r"<!-- curl-examples:begin -->(.*?)<!-- curl-examples:end -->", re.S)


def readme_curls(path: Path = README) -> list[str]:
    match = BLOCK_RE.search(path.read_text())
    assert match, f"{path.name} has no curl-examples block between the markers"
    fence = re.search(r"```(?:bash|sh|console)?\n(.*?)```", match.group(1), re.S)
    assert fence, "the curl-examples block has no ```bash code fence"
    joined = re.sub(r"\\\n\s*", " ", fence.group(1))  # backslash continuations
    return [line.strip().removeprefix("$ ") for line in joined.splitlines()
            if line.strip().removeprefix("$ ").startswith("curl ")]


def test_readme_has_curl_for_every_model():
    curls = readme_curls()
    text = "\n".join(curls)
    for path in ("/v1/models/qa:predict", "/v1/models/profiler:predict",
                 "/v1/models/similarity:predict", "/v1/models/headline:predict",
                 "/v1/similarity", "/v1/profile", "/v1/answer", "/metadata"):
        assert path in text, f"no README curl example calls {path}"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curls_answer_200_json(gateway):
    if gateway.backend != "embedded":
        pytest.skip("the README examples run once, against the default runtime")
    for command in readme_curls():
        args = shlex.split(command.replace(DEMO_URL, gateway.http_url))
        assert args[0] == "curl" and gateway.http_url in " ".join(args), command
        run = subprocess.run(args + ["-sS", "-w", "\n%{http_code}"], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, (command, run.stderr)
        body, _, status = run.stdout.rpartition("\n")
        assert status == "200", (command, body)
        assert isinstance(json.loads(body), dict), command
