"""Training runs that a few tests need, made beside the rest of the session.

`test_qa_real_words.py` and `test_similarity_real_english.py` check the models `make
models` trains (the default presets: ~15 s and ~60 s of training on 2 idle cores),
`test_tune.py` and `test_tune_distributed.py` share one small search (tests/tune_support.py,
~15 s), and the `price` and `stereo` tests share one "test"-preset export of each
(tests/trained_support.py, ~13 s each). Most tests keep one core busy, so once the
session's test models are trained, one process makes the runs the collected tests need,
one after the other in the order the tests come, at the lowest CPU priority (nice 19): it
takes the core the tests leave idle and yields to anything else, timing-sensitive tests
included. The tests of the two default-preset runs come last in the session (`LONG`), so
that the rest of the suite runs while those train. A test asks for its job and waits for
it if it is not finished; a job that failed fails that test with the end of its log.
Everything lives in a temporary directory removed when the session ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.processes import REPO_ROOT, stop_process, subprocess_env, wait_until
from tests.tune_support import ARGS as SEARCH_ARGS
from tests.tune_support import MODEL as SEARCH_MODEL


@dataclass(frozen=True)
class Job:
    users: tuple[str, ...]    # the test files that need it
    args: tuple[str, ...]     # `python -m training` arguments, less --out; {out} is --out
    result: str               # the folder under --out that holds it
    done: str                 # what in that folder is written last (a file, or a folder
    #                           an export renames into place)


def _trained_export(model: str, users: tuple[str, ...]) -> Job:
    """tests/trained_support.py's export: the "test" preset, exported to {out}/NAME-models."""
    return Job(users, ("train", "--model", model, "--preset", "test",
                       "--export-to", f"{{out}}/{model}-models"), ".", f"{model}-models/{model}/1")


# In the order the tests that need them come.
JOBS = {
    "price": _trained_export("price", (
        "tests/unit/training/test_monitoring.py", "tests/unit/training/test_price.py",
        "tests/unit/training/test_report.py", "tests/integration/test_diagram.py",
        "tests/integration/test_price_serving.py", "tests/browser/")),
    "qa": Job(("tests/unit/training/test_qa_real_words.py",),
              ("train", "--model", "qa", "--preset", "default"), "qa", "metrics.json"),
    "similarity": Job(("tests/unit/training/test_similarity_real_english.py",),
                      ("train", "--model", "similarity", "--preset", "default"), "similarity",
                      "metrics.json"),
    "stereo": _trained_export("stereo", (
        "tests/unit/training/test_stereo.py", "tests/integration/test_stereo_serving.py",
        "tests/browser/")),
    "search": Job(("tests/unit/training/test_tune.py",
                   "tests/integration/test_tune_distributed.py"),
                  tuple(SEARCH_ARGS), f"{SEARCH_MODEL}-tune", "best_config.json"),
}

_current: BackgroundRuns | None = None


def current() -> BackgroundRuns | None:
    """The session's background runs, once started."""
    return _current


def made(name: str) -> Path | None:
    """The folder of job `name` if this session makes it in the background (waiting for it
    to finish), else None: the caller makes it itself."""
    runs = _current
    return runs.result(name) if runs is not None and name in runs.names else None


class BackgroundRuns:
    """One process making `names` (keys of JOBS) one after the other."""

    def __init__(self, names: list[str]) -> None:
        global _current
        self.names = names
        self.out = Path(tempfile.mkdtemp(prefix="mh-background-runs-"))
        # cli.main per job, its output in NAME.log. One process, in this session's
        # scheduling group: with a session of its own the kernel's autogroup would share
        # the cores between the groups, whatever its nice.
        jobs = [(n, [*(a.format(out=self.out) for a in JOBS[n].args), "--out", str(self.out)])
                for n in names]
        script = ("import contextlib, sys\nfrom training import cli\n"
                  f"for name, args in {jobs!r}:\n"
                  f"    with open({str(self.out)!r} + '/' + name + '.log', 'w') as f, "
                  "contextlib.redirect_stdout(f):\n"
                  "        code = cli.main(args)\n"
                  "    if code:\n        sys.exit(code)\n")
        with (self.out / "process.log").open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", script], cwd=REPO_ROOT, env=subprocess_env(),
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda: os.nice(19))
        _current = self

    def result(self, name: str, timeout_s: float = 900) -> Path:
        """The finished job's folder, waiting for it if needed."""
        assert name in self.names, f"{name} is not made in the background"
        job = JOBS[name]
        done = self.out / job.result / job.done
        wait_until(lambda: done.exists() or self.process.poll() is not None, timeout_s,
                   interval_s=0.5, what=f"the background {name} run finished")
        if not done.exists():
            logs = [self.out / "process.log", self.out / f"{name}.log"]
            tail = "".join(p.read_text(errors="replace") for p in logs if p.is_file())
            raise AssertionError(f"the background {name} run did not finish:\n{tail[-3000:]}")
        return (self.out / job.result).resolve()

    def printed(self, name: str) -> str:
        """What the job printed (its progress lines), once finished."""
        self.result(name)
        return (self.out / f"{name}.log").read_text()

    def stop(self) -> None:
        global _current
        stop_process(self.process, kill=True)
        shutil.rmtree(self.out, ignore_errors=True)
        _current = None


# The jobs that train a default preset (a minute or more of CPU each): the tests that read
# them run at the end of the session (tests/conftest.py), so that the rest of the suite runs
# while they train instead of one core waiting for them.
LONG = ("qa", "similarity")


def run_last(nodeid: str) -> bool:
    return any(nodeid.startswith(JOBS[name].users) for name in LONG)


def needed(nodeids: list[str], environ: dict[str, str]) -> list[str]:
    """The jobs the collected tests need, in the order their first test comes."""
    first: dict[str, int] = {}
    for i, nodeid in enumerate(nodeids):
        for name, job in JOBS.items():
            if name not in first and nodeid.startswith(job.users):
                first[name] = i
    names = sorted(first, key=first.__getitem__)
    if environ.get("MULTIHEAD_SIMILARITY_RUN"):
        names = [n for n in names if n != "similarity"]
    return names
