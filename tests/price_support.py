"""One trained and exported `price` model per test session, shared by unit and
integration tests (training it costs ~30 s on 2 cores, so it is done once).

`trained_price()` trains the "test" preset on synthetic listings, exports it, and
returns the run, the export and the model directory; the files live in a
temporary directory removed at exit. Tests treat them as read-only.
"""

from __future__ import annotations

import numpy as np

from tests.trained_support import TrainedExport, trained_export


def trained_price() -> TrainedExport:
    """The session's trained and exported `price` model (tests/trained_support.py)."""
    return trained_export("price")


def png_bytes(rgb: np.ndarray) -> bytes:
    """uint8 [h, w, 3] -> PNG, written by PIL (an independent encoder from the model's)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def sample_listings(n: int = 3, seed: int = 11) -> dict:
    """Raw listings as a client has them: metadata floats, descriptions, PNG bytes."""
    from training.models.price.data import IMAGE_SIZE, price

    ex = price(n, seed=seed)
    pictures = (ex.inputs["picture"].reshape(n, IMAGE_SIZE, IMAGE_SIZE, 3) * 255).round()
    return {
        "metadata": ex.inputs["metadata"],
        "description": [str(d) for d in ex.inputs["description"]],
        "png": [png_bytes(p) for p in pictures],
        # What the PNG holds: the generator's floats rounded to whole 8-bit levels.
        "pixels": (pictures / 255.0).reshape(n, -1).astype(np.float32),
        "price": ex.targets["price"],
    }
