"""`make profile` (tests/bench/profile.py): py-spy's samples of a real process, summed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.procs import cpu_seconds
from tests.bench.profile import py_spy, summarize
from tests.processes import wait_until

pytestmark = pytest.mark.timeout(120)

BUSY = """
import time
def parse(): return sum(range(2000))
def handle():
    while True:
        parse()
        time.sleep(0)
handle()
"""


def test_summary_counts_own_and_inclusive_samples(tmp_path: Path) -> None:
    raw = tmp_path / "w.txt"
    raw.write_text("run (a.py:1);handle (a.py:5);parse (a.py:9) 30\n"
                   "run (a.py:1);handle (a.py:6) 10\n")
    text = summarize([raw], top=5)
    own, inclusive = text.split("-- including callees")
    assert text.startswith("40 samples")
    assert " 75.0%  parse (a.py)" in own and " 25.0%  handle (a.py)" in own
    assert "100.0%  handle (a.py)" in inclusive and "100.0%  run (a.py)" in inclusive


def test_py_spy_samples_a_running_python_process(tmp_path: Path) -> None:
    target = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        # Sample once it runs its loop, not while the interpreter starts.
        wait_until(lambda: cpu_seconds(target.pid) > 0.3, 30, what="the target busy")
        out = tmp_path / "raw.txt"
        done = subprocess.run([py_spy(), "record", "--pid", str(target.pid), "--duration", "1",
                               "--rate", "100", "--format", "raw", "--output", str(out),
                               "--nonblocking"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    finally:
        target.kill()
        target.wait(10)
    text = summarize([out], top=10)
    inclusive = text.split("-- including callees")[1]
    share = next(float(line.split("%")[0]) for line in inclusive.splitlines()
                 if line.endswith("handle (<string>)"))
    assert share > 90  # the loop is all the process does
