"""TensorFlow's start-up lines, kept out of the gateway's output (and `make demo`'s).

Loading TensorFlow on a machine without a GPU prints lines that read like failures
("E0000 ... failed call to cuInit: ... CUDA error", oneDNN and CPU-feature notices,
"All log messages before absl::InitializeLog() ..."). TensorFlow's C++ runtime writes
them to file descriptor 2, partly before its logging is initialised, so
TF_CPP_MIN_LOG_LEVEL does not silence them all, and silencing its errors would hide real
ones. So the filter works on the descriptor: `filter_stderr()` puts a pipe in front of
fd 2 (inherited by gunicorn's workers) and a thread forwards every line except the known
start-up notices below. Anything else TensorFlow prints (a failing op, a SavedModel that
does not load) passes. `MULTIHEAD_LOG_LEVEL=DEBUG` turns the filter off.

`python -m serving.tfnoise CMD ...` runs a command with the same filter on its stderr
(`python -m training` runs itself that way, training/__main__.py) and exits with its
status.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from typing import BinaryIO

# Start-up notices of TensorFlow 2.21 and its CUDA/oneDNN/CPU probes, as they appear on a
# CPU-only machine; each is a line of its own.
NOISE = re.compile(
    rb"All log messages before absl::InitializeLog\(\) is called"
    rb"|oneDNN custom operations are on"
    rb"|Could not find cuda drivers on your machine"
    rb"|failed call to cuInit"
    rb"|cpu_feature_guard\.cc"
    rb"|^To enable the following instructions: "
    rb"|oneDNN supports DT_\w+ only on platforms with"
    rb"|Unable to register cu(DNN|FFT|BLAS) factory"
    rb"|TF-TRT Warning: Could not find TensorRT")


def wanted(log_level: str) -> bool:
    """Whether to filter at this log level: DEBUG shows TensorFlow's start-up lines too."""
    return log_level.upper() != "DEBUG"


def _forward(source: BinaryIO, sink: int) -> None:
    for line in source:
        if not NOISE.search(line):
            os.write(sink, line)


def filter_stderr() -> None:
    """From now on, this process's fd 2 (and its children's) loses TF's start-up lines."""
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    os.set_inheritable(read_end, False)
    os.set_inheritable(original, False)
    reader = os.fdopen(read_end, "rb")
    threading.Thread(target=_forward, args=(reader, original), name="tf-startup-filter",
                     daemon=True).start()


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m serving.tfnoise CMD [ARG ...]", file=sys.stderr)
        return 2
    child = subprocess.Popen(argv, stderr=subprocess.PIPE)
    # The child's SIGINT comes from the terminal's process group already; a SIGTERM or
    # SIGHUP sent to this process alone (a supervisor's, a test's) is the child's too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for forwarded in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(forwarded, lambda signum, _frame: child.send_signal(signum))
    assert child.stderr is not None
    _forward(child.stderr, sys.stderr.fileno())
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
