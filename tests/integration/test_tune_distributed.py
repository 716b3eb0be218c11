"""A distributed search with keras-tuner's own mode, as real processes on loopback: a chief
oracle and two workers (`python -m training tune --distributed`, the roles from
KERASTUNER_TUNER_ID / _ORACLE_IP / _ORACLE_PORT), all sharing one --out. The workers split
the trials, the chief writes the result, and the trials cover exactly the configurations a
search in one process tries (a random search: same seed, same trials; that search is
tests/tune_support.py's, shared with the unit tests). About 30 s on 2 cores: three
processes start TensorFlow and train three tiny trials."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.conftest import REPO_ROOT, free_port
from tests.processes import stop_process
from tests.tune_support import ARGS, MODEL, TRIALS, one_process_search

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

TRIAL_LINE = re.compile(rf"\[{MODEL} (tuner\d)\] trial (\d+)/{TRIALS} completed val_loss [\d.]+ ")


class Process:
    """A started `python -m training` whose output lines are read as they come."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.popen = subprocess.Popen([sys.executable, "-m", "training", *argv], env=env,
                                      cwd=REPO_ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> None:
        """Until a line matches `pattern`: the event the test waits on, bounded."""
        while not any(re.search(pattern, line) for line in self.lines):
            line = self._queue.get(timeout=timeout)
            assert line is not None, "exited before printing " + pattern + "\n" + self.text()
            self.lines.append(line)

    def finish(self, timeout: float) -> int:
        code = self.popen.wait(timeout=timeout)
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code

    def text(self) -> str:
        return "".join(self.lines)


def _trials(path: Path) -> set[str]:
    """The configurations a search tried, as comparable strings."""
    doc = json.loads(path.read_text())
    return {json.dumps(t["hyperparameters"], sort_keys=True) for t in doc["trials"]}


def test_a_chief_and_two_workers_search_as_one_process_does(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env.update({"KERASTUNER_ORACLE_IP": "127.0.0.1",
                "KERASTUNER_ORACLE_PORT": str(free_port()), "TF_CPP_MIN_LOG_LEVEL": "3"})
    shared = ["--out", str(tmp_path / "cluster"), "--distributed"]
    started: list[Process] = []
    try:
        # The workers first: each announces itself, then waits for the chief's oracle, so
        # that both are waiting when it starts and each is given a trial.
        workers = [Process([*ARGS, *shared], {**env, "KERASTUNER_TUNER_ID": f"tuner{i}"})
                   for i in range(2)]
        started += workers
        for w in workers:
            w.wait_for(r"trials of a random search", timeout=180)
        chief = Process([*ARGS, *shared], {**env, "KERASTUNER_TUNER_ID": "chief"})
        started.append(chief)
        assert chief.finish(timeout=300) == 0, chief.text()
        for w in workers:
            assert w.finish(timeout=60) == 0, w.text()
    finally:
        for p in started:
            stop_process(p.popen, kill=True)

    ran = [m.groups() for w in workers for m in map(TRIAL_LINE.search, w.lines) if m]
    assert sorted(int(n) for _, n in ran) == list(range(1, TRIALS + 1)), ran
    assert {tuner for tuner, _ in ran} == {"tuner0", "tuner1"}  # both workers trained
    assert f"best of {TRIALS} trial(s)" in chief.text()
    assert "held-out test (best trial only)" in chief.text()
    # The same search in one process (shared with tests/unit/training/test_tune.py): the
    # same configurations.
    one_process, _ = one_process_search()
    assert _trials(tmp_path / "cluster" / f"{MODEL}-tune" / "best_config.json") == \
        _trials(one_process / "best_config.json")


def test_distributed_needs_the_three_variables(monkeypatch) -> None:
    from training.tune_cluster import search_role

    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT"):
        search_role({"KERASTUNER_TUNER_ID": "chief", "KERASTUNER_ORACLE_IP": "0.0.0.0"}, True)
    with pytest.raises(ValueError, match="pass --distributed"):
        search_role({"KERASTUNER_ORACLE_IP": "10.0.0.1"}, False)
    role = search_role({"KERASTUNER_TUNER_ID": "tuner3", "KERASTUNER_ORACLE_IP": "oracle",
                        "KERASTUNER_ORACLE_PORT": "9500"}, True)
    assert (role.chief, role.oracle) == (False, "oracle:9500")
    assert search_role({}, False) is None
