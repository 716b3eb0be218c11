"""Session fixtures shared by every test folder.

`trained_runs` trains the four default models once per session with the "test"
preset (small synthetic data sets, a few epochs; ~1-1.5 min on 2 cores) and
exports each into a temporary model repository; `model_repo` is that repository
(`models/NAME/1/`). Both are read-only: a test that adds versions copies the
repository first.

Set MULTIHEAD_TEST_MODEL_REPO to an existing repository (e.g. the output of
`python -m training all --model-dir /tmp/mh-models`) to skip training in a
session that only needs `model_repo`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MODELS = ("qa", "profiler", "similarity", "headline")
BACKGROUND = pytest.StashKey["object"]()


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """model name -> summary: run_dir, path (export), version, validation/test/baseline."""
    from training.pipeline import train_and_export

    root = tmp_path_factory.mktemp("trained")
    results = train_and_export(root / "models", root / "runs", models=MODELS, preset="test",
                               verbose=False)
    return {r.export.name: r.summary() for r in results}


@pytest.fixture(scope="session")
def model_repo(request: pytest.FixtureRequest) -> Path:
    """A model repository holding version 1 of each default model (read-only)."""
    preset = os.environ.get("MULTIHEAD_TEST_MODEL_REPO")
    if preset:
        path = Path(preset)
        missing = [m for m in MODELS if not (path / m).is_dir()]
        if missing:
            raise RuntimeError(f"MULTIHEAD_TEST_MODEL_REPO={preset} lacks {missing}")
        return path
    runs = request.getfixturevalue("trained_runs")
    return Path(runs[MODELS[0]]["path"]).parents[1]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the default-preset runs the collected tests need (tests/background_runs.py)."""
    from tests.background_runs import USERS, BackgroundRuns

    needed = [model for model, path in USERS.items()
              if any(item.nodeid.startswith(path) for item in session.items)]
    if os.environ.get("MULTIHEAD_SIMILARITY_RUN"):
        needed = [m for m in needed if m != "similarity"]
    if needed and not session.config.option.collectonly:
        session.config.stash[BACKGROUND] = BackgroundRuns(needed)


def pytest_sessionfinish(session: pytest.Session) -> None:
    runs = session.config.stash.get(BACKGROUND, None)
    if runs is not None:
        runs.stop()


@pytest.fixture(scope="session")
def default_runs(request: pytest.FixtureRequest):  # noqa: ANN201 - BackgroundRuns
    """The default-preset runs trained beside the session (tests/background_runs.py)."""
    from tests.background_runs import USERS, BackgroundRuns

    runs = request.config.stash.get(BACKGROUND, None)
    if runs is None:  # collected by another name (e.g. -k): start them now
        runs = request.config.stash[BACKGROUND] = BackgroundRuns(list(USERS))
    return runs
