"""A gateway's log holds its own lines and TensorFlow's real messages, not TF's start-up
notices (the CUDA probe reads like a failure on a CPU machine; serving/tfnoise.py)."""

from __future__ import annotations

import pytest

from serving.tfnoise import NOISE


def test_no_tensorflow_startup_noise_in_the_gateway_log(gateway) -> None:  # noqa: ANN001
    if gateway.backend != "embedded":
        pytest.skip("only the embedded runtime loads TensorFlow in the gateway")
    log = gateway.log_path.read_bytes()
    assert b"serving on" in log or b": serving;" in log  # the workers' own lines are there
    noisy = [line for line in log.splitlines() if NOISE.search(line)]
    assert noisy == []
