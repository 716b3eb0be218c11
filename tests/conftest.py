"""Session fixtures shared by every test folder.

`trained_runs` trains the four default models once per session with the "test"
preset (small synthetic data sets, a few epochs; ~28 s on 2 cores, two processes) and
exports each into a temporary model repository; `model_repo` is that repository
(`models/NAME/1/`). Both are read-only: a test that adds versions copies the
repository first.

Set MULTIHEAD_TEST_MODEL_REPO to an existing repository (e.g. the output of
`python -m training all --model-dir /tmp/mh-models`) to skip training in a
session that only needs `model_repo`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MODELS = ("qa", "profiler", "similarity", "headline")
BACKGROUND = pytest.StashKey["object"]()
PENDING = pytest.StashKey[list]()


# One training keeps about one of the two cores busy: the session's first training is
# shared between this process and a second one (the same call, preset and seed), each
# model exported into the same repository.
HERE, BESIDE = ("profiler", "similarity"), ("qa", "headline")
_TRAIN_AND_SUMMARIZE = (
    "import json, sys\nfrom training.pipeline import train_and_export\n"
    "models, runs, names, out = sys.argv[1:]\n"
    "done = train_and_export(models, runs, models=names.split(','), preset='test', "
    "verbose=False)\n"
    "open(out, 'w').write(json.dumps([t.summary() for t in done]))\n")


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """model name -> summary: run_dir, path (export), version, validation/test/baseline."""
    from tests.processes import REPO_ROOT, subprocess_env
    from training.pipeline import train_and_export

    root = tmp_path_factory.mktemp("trained")
    models, runs, beside_json = root / "models", root / "runs", root / "beside.json"
    with (root / "beside.log").open("w") as log:
        beside = subprocess.Popen(
            [sys.executable, "-c", _TRAIN_AND_SUMMARIZE, str(models), str(runs),
             ",".join(BESIDE), str(beside_json)],
            cwd=REPO_ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        results = train_and_export(models, runs, models=HERE, preset="test", verbose=False)
    finally:
        code = beside.wait(600)
    assert code == 0, (root / "beside.log").read_text()[-3000:]
    summaries = [r.summary() for r in results] + json.loads(beside_json.read_text())
    by_name = {s["model"]: s for s in summaries}
    return {name: by_name[name] for name in MODELS}


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read a long background run go last (tests/background_runs.py)."""
    from tests.background_runs import run_last

    items.sort(key=lambda item: run_last(item.nodeid))  # stable: the rest keep their order


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
