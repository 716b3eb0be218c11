"""`python -m training` entry point.

TensorFlow's start-up lines ("failed call to cuInit: ... CUDA error" and the oneDNN and
CPU notices, written to fd 2 partly before its logging starts) read like failures on a
CPU machine. Unless MULTIHEAD_LOG_LEVEL=DEBUG asks for them, the CLI runs itself behind
serving/tfnoise.py's filter: a parent process that forwards every other stderr line until
the CLI exits (so no last line is lost), passes it SIGTERM and exits with its status.
"""

from __future__ import annotations

import os
import sys

from serving import tfnoise  # stdlib only: nothing of TensorFlow is imported yet

_FILTERED = "MULTIHEAD_TRAINING_STDERR_FILTERED"

if (__name__ == "__main__" and not os.environ.get(_FILTERED)
        and tfnoise.wanted(os.environ.get("MULTIHEAD_LOG_LEVEL", ""))):
    os.environ[_FILTERED] = "1"
    os.execv(sys.executable, [sys.executable, "-m", "serving.tfnoise", sys.executable,
                              "-m", "training", *sys.argv[1:]])

# Before TensorFlow is first imported: hide its C++ start-up chatter.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
