"""`python -m training` entry point."""

from __future__ import annotations

import os
import sys

# Before TensorFlow is first imported: hide its C++ start-up chatter.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
