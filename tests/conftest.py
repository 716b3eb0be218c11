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
PENDING = pytest.StashKey[list]()


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
        background_runs(request.config)  # the cores are free now
        return path
    runs = request.getfixturevalue("trained_runs")
    background_runs(request.config)  # after the session's own training
    return Path(runs[MODELS[0]]["path"]).parents[1]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Note the background runs the collected tests need (tests/background_runs.py); they
    start once the session's test models are trained (`model_repo`)."""
    from tests.background_runs import needed

    if not session.config.option.collectonly:
        session.config.stash[PENDING] = needed([item.nodeid for item in session.items],
                                               dict(os.environ))


def background_runs(config: pytest.Config):  # noqa: ANN201 - BackgroundRuns | None
    """The session's background runs, started now if they are pending."""
    from tests.background_runs import BackgroundRuns

    runs = config.stash.get(BACKGROUND, None)
    pending = config.stash.get(PENDING, [])
    if runs is None and pending:
        runs = config.stash[BACKGROUND] = BackgroundRuns(pending)
    return runs


def pytest_sessionfinish(session: pytest.Session) -> None:
    runs = session.config.stash.get(BACKGROUND, None)
    if runs is not None:
        runs.stop()


@pytest.fixture(scope="session")
def default_runs(request: pytest.FixtureRequest):  # noqa: ANN201 - BackgroundRuns
    """The runs made beside the session (tests/background_runs.py)."""
    runs = background_runs(request.config)
    assert runs is not None, "no background run was collected for this session"
    return runs
