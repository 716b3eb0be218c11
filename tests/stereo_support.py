"""One trained and exported `stereo` model per test session, shared by unit, integration
and browser tests (the "test" preset: about 15 s of training on 2 cores, done once).

`trained_stereo()` returns the run, the export and the model directory (a temporary
directory removed at exit; read-only for tests); `sample_pairs()` makes pairs of PNG
pictures as a client has them, written by Pillow.
"""

from __future__ import annotations

import numpy as np

from tests.trained_support import TrainedExport, trained_export


def trained_stereo() -> TrainedExport:
    """The session's trained and exported `stereo` model (tests/trained_support.py)."""
    return trained_export("stereo")


def sample_pairs(n: int = 3, seed: int = 11) -> dict:
    """`n` stereo pairs: PNG bytes of both views, and their disparities."""
    from tests.price_support import png_bytes
    from training.models.stereo.data import IMAGE_SIZE, stereo_pair

    rng = np.random.default_rng(seed)
    pairs = [stereo_pair(rng, IMAGE_SIZE, same=bool(i % 2 == 0)) for i in range(n)]
    return {"left": [png_bytes(left) for left, _, _ in pairs],
            "right": [png_bytes(right) for _, right, _ in pairs],
            "disparity": np.array([d for _, _, d in pairs], np.float32)}
