"""`training` carries its data: the wheel built from pyproject.toml holds the generators'
templates and the hand-written evaluation sets, so an installed package never reads the
checkout's files (about 3 s: one setuptools build of the training package)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from training.data import evalsets, wordnet_templates

REPO = Path(__file__).resolve().parents[3]


def test_the_wheel_holds_templates_and_evaluation_sets(tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "training", src / "training",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(src)],
                   check=True, timeout=120)
    (wheel,) = (tmp_path / "dist").glob("multihead-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = [evalsets.eval_file(evalsets.SIMILARITY_EVAL), wordnet_templates.TEMPLATES]
    for path in data:
        assert path.relative_to(REPO).as_posix() in names
    # and no code of training builds a path into the checkout's tests/
    for path in (REPO / "training").rglob("*.py"):
        assert not re.search(r"[\"']tests[/\"']", path.read_text()), path


def test_a_missing_set_is_one_clear_error(tmp_path) -> None:
    import pytest

    with pytest.raises(evalsets.EvalSetMissing, match="ships with the training package"):
        evalsets.eval_file("similarity_eval.tsv", tmp_path)
