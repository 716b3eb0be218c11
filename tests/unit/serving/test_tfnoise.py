"""TensorFlow's start-up lines are dropped from stderr; every other line passes."""

from __future__ import annotations

import subprocess
import sys

NOISE = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1796531083.988903   13959 port.cc:153] oneDNN custom operations are on. "
    b"You may see slightly different numerical results.",
    b"I0000 00:00:1796531083.989756   13959 cudart_stub.cc:31] Could not find cuda drivers on "
    b"your machine, GPU will not be used.",
    b"E0000 00:00:1796532368.849191    3645 cuda_platform.cc:52] failed call to cuInit: "
    b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    b"I0000 00:00:1796531084.082404   13959 cpu_feature_guard.cc:227] This TensorFlow binary "
    b"is optimized to use available CPU instructions in performance-critical operations.",
    b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    b"TensorFlow with the appropriate compiler flags.",
    b"E0000 00:00:1796531176.505961   14820 util.cc:131] oneDNN supports DT_BOOL only on "
    b"platforms with AVX-512. Falling back to the default Eigen-based implementation.",
]
REAL = [b"E0000 00:00:1.0 1 op_kernel.cc:1] OP_REQUIRES failed: Invalid argument: bad shape",
        b"2026-12-06 INFO serving.gunicorn: worker 12: serving"]

WRITER = """
import os, sys
from serving.tfnoise import filter_stderr
filter_stderr()
for line in sys.stdin.buffer.read().split(b"\\n"):
    os.write(2, line + b"\\n")
sys.stderr.flush()
import time, threading
t = [t for t in threading.enumerate() if t.name == "tf-startup-filter"][0]
os.close(2)  # end of input for the filter thread
t.join(5)
"""


def test_filter_drops_only_the_startup_lines() -> None:
    lines = [*NOISE[:3], REAL[0], *NOISE[3:], REAL[1]]
    done = subprocess.run([sys.executable, "-c", WRITER], input=b"\n".join(lines),
                          capture_output=True, timeout=60, check=True)
    assert done.stderr.splitlines() == REAL


def test_wrapper_filters_a_commands_stderr_and_keeps_its_status() -> None:
    script = ("import sys; sys.stderr.buffer.write(" + repr(b"\n".join([*NOISE, *REAL]) + b"\n")
              + "); sys.exit(3)")
    done = subprocess.run([sys.executable, "-m", "serving.tfnoise", sys.executable, "-c",
                           script], capture_output=True, timeout=60)
    assert done.returncode == 3
    assert done.stderr.splitlines() == REAL


def test_wrapper_passes_a_sigterm_to_its_command() -> None:
    script = ("import signal, sys, time\n"
              "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    wrapper = subprocess.Popen([sys.executable, "-m", "serving.tfnoise", sys.executable, "-c",
                                script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wrapper.stdout.readline() == b"ready\n"
        wrapper.terminate()
        assert wrapper.wait(timeout=30) == 7  # the command's own status: it got the signal
    finally:
        wrapper.kill()
        wrapper.wait()
