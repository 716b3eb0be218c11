"""uv.lock, read the way the tests need it: versions by package, and the locked uv."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "uv.lock"


def uv() -> str:
    """The uv of this environment (the lock installs it beside the interpreter)."""
    path = Path(sys.executable).with_name("uv")
    return str(path) if path.exists() else "uv"


@cache
def locked_versions() -> dict[str, str]:
    """Package name (normalised) -> the version uv.lock pins."""
    data = tomllib.loads(LOCK.read_text())
    return {p["name"].lower().replace("_", "-"): p["version"] for p in data["package"]
            if "version" in p}


def export_constraints(path: Path) -> Path:
    """Every locked pin as a pip constraints file (for installs outside the project venv)."""
    result = subprocess.run(
        [uv(), "export", "--frozen", "--all-packages", "--all-extras", "--all-groups",
         "--no-hashes", "--no-emit-workspace", "--no-annotate", "--no-header",
         "-o", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    assert result.returncode == 0, result.stderr
    return path
