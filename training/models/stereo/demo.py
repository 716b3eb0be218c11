"""The stereo room's demo request: one pair of small PNG pictures, made from the generator.

Pictures cannot be written into a room as JSON literals, so they are drawn here, without
camera noise (a few hundred bytes of PNG each, so that the demo's curl line stays short),
and sent as TF Serving's `{"b64": ...}`. The scene is fixed: the same bytes every export.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from training.models.stereo.data import IMAGE_SIZE, stereo_pair
from training.room import Example

DEMO_SEED = 7
DEMO_DISPARITY = 5.0


def png(pixels: np.ndarray) -> bytes:
    """uint8 [h, w, 3] -> PNG bytes (Pillow's encoder, independent of the model's decoder)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def pair() -> tuple[bytes, bytes]:
    """The demo's left and right pictures: one object, DEMO_DISPARITY pixels apart."""
    left, right, _ = stereo_pair(np.random.default_rng(DEMO_SEED), IMAGE_SIZE, same=True,
                                 disparity=DEMO_DISPARITY, noise=0.0)
    return png(left), png(right)


def requests() -> tuple[Example, ...]:
    left, right = pair()

    def b64(data: bytes) -> dict[str, str]:
        return {"b64": base64.b64encode(data).decode("ascii")}

    return (Example("tfserving", "/v1/models/{name}:predict",
                    {"instances": [{"left": b64(left), "right": b64(right)}]}),)
