"""The lock is the one source of what gets installed, and it cannot drift silently."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lockfile import LOCK, ROOT, locked_versions, uv

pytestmark = pytest.mark.timeout(300)
ENV = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}


def _check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([uv(), "lock", "--check"], cwd=project, capture_output=True,
                          text=True, timeout=240, env=ENV)


def _copy_project(dest: Path) -> Path:
    """What `uv lock` reads: both pyproject files, the SDK's build hook and proto, the lock."""
    for rel in ("pyproject.toml", "uv.lock", "README.md", "proto"):
        src = ROOT / rel
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / rel)
    shutil.copytree(ROOT / "clients" / "python", dest / "clients" / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return dest


def test_lock_matches_pyproject() -> None:
    result = _check(ROOT)
    assert result.returncode == 0, result.stderr


def test_a_range_changed_without_make_lock_fails_the_check(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    assert _check(project).returncode == 0  # the copy itself is consistent
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert '"flask>=3.0,<4"' in text
    pyproject.write_text(text.replace('"flask>=3.0,<4"', '"flask>=3.0,<3.1"'))
    result = _check(project)
    assert result.returncode != 0
    assert "lock" in (result.stderr + result.stdout).lower()


def test_the_locked_uv_is_the_one_make_bootstraps() -> None:
    required = re.search(r'^required-version = "==(.+)"', (ROOT / "pyproject.toml").read_text(),
                         re.M)
    assert required is not None
    assert locked_versions()["uv"] == required.group(1)
    version = subprocess.run([uv(), "--version"], capture_output=True, text=True,
                             timeout=30).stdout.split()[1]
    assert version == required.group(1)


def test_the_environment_runs_what_the_lock_pins() -> None:
    import importlib.metadata as md

    locked = locked_versions()
    for name in ("tensorflow", "grpcio", "protobuf", "numpy", "flask", "gunicorn",
                 "tritonclient", "multihead-client"):
        assert md.version(name) == locked[name], name
    assert LOCK.stat().st_size > 0
