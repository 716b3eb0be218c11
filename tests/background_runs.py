"""Default-preset runs that a few tests need, trained beside the rest of the session.

`test_qa_real_words.py` and `test_similarity_real_english.py` check the models `make
models` trains (the default presets: ~15 s and ~35 s of training on 2 idle cores). Most
tests keep one core busy, so when the session collects either file, one process trains
those runs (qa first: its test comes first) at the lowest CPU priority (nice 19): it takes
the core the tests leave idle and yields to anything else, timing-sensitive tests included.
A test asks for its run and waits for it if it is not finished yet; a run that failed fails
that test with the end of its log. Runs live in a temporary directory removed when the
session ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.processes import REPO_ROOT, stop_process, subprocess_env, wait_until

# model -> the test file that needs its default run (in the order the session runs them)
USERS = {
    "qa": "tests/unit/training/test_qa_real_words.py",
    "similarity": "tests/unit/training/test_similarity_real_english.py",
}
FINISHED = "metrics.json"  # train() writes it last


class BackgroundRuns:
    """One process training `models` one after the other into a temporary directory."""

    def __init__(self, models: list[str]) -> None:
        self.models = models
        self.out = Path(tempfile.mkdtemp(prefix="mh-default-runs-"))
        self._log = self.out / "train.log"
        # One process, in this session's scheduling group: with a session of its own the
        # kernel's autogroup would share the cores between the groups, whatever its nice.
        train = ("import sys\nfrom training import cli\n"
                 f"for m in {models!r}:\n"
                 "    code = cli.main(['train', '--model', m, '--preset', 'default', "
                 f"'--out', {str(self.out)!r}])\n"
                 "    if code:\n        sys.exit(code)\n")
        with self._log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", train], cwd=REPO_ROOT, env=subprocess_env(),
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda: os.nice(19))

    def run_dir(self, model: str, timeout_s: float = 900) -> Path:
        """The finished default run of `model`, waiting for it if needed."""
        assert model in self.models, f"{model} is not trained in the background"
        done = self.out / model / FINISHED
        wait_until(lambda: done.is_file() or self.process.poll() is not None, timeout_s,
                   interval_s=0.5, what=f"the default {model} run finished")
        if not done.is_file():
            tail = self._log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"the default {model} run did not finish:\n{tail}")
        return self.out / model

    def stop(self) -> None:
        stop_process(self.process, kill=True)
        shutil.rmtree(self.out, ignore_errors=True)
