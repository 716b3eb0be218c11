"""Synthetic dual-camera pairs for the `stereo` model: one scene seen by two cameras.

A scene is a textured background far away (it looks the same to both cameras) and one
object in front of it: a circle, square, triangle or diamond of one colour, filled with
stripes, checks or dots. The left and the right camera see the object at the same height,
the right camera `disparity` pixels further left (0 to `MAX_DISPARITY`, uniform, sub-pixel:
the nearer the object, the larger the shift; depth is focal length x baseline / disparity).
Each camera adds its own gain, offset and pixel noise, so the two views never match pixel
for pixel. In half of the pairs the right view shows another object at the shifted place
(another shape, colour or texture): `same_object` is 0 there, 1 where both cameras see
one object. Neither head can be answered from one view alone.

Pictures are `image_size` x `image_size` RGB (32 by default), flattened to floats in 0..1
as the Keras model takes them (the export decodes JPEG/PNG bytes to the same, like the
`price` model's picture); `disparity` is in pixels of that width.

Predicting the training mean disparity scores MAE ~2.0 px on held-out pairs (uniform on
0..8); the majority class of `same_object` 0.5. Seeded and deterministic.
"""

from __future__ import annotations

import numpy as np

from training.data.examples import Examples

IMAGE_SIZE = 32
MAX_DISPARITY = 8.0
SHAPES = ("circle", "square", "triangle", "diamond")
TEXTURES = ("stripes", "checks", "dots")
COLOURS = {"red": (210, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 210),
           "yellow": (225, 205, 40), "purple": (150, 50, 170), "black": (30, 30, 30)}
SAME_LABELS = ["different", "same"]
CAMERA_NOISE = 6.0       # pixel noise sd per camera (of 255)
CAMERA_GAIN = 0.08       # each camera's brightness gain: 1 +- this
CAMERA_OFFSET = 10.0     # and offset: +- this (of 255)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A far, smooth texture: a few random low-frequency waves around a light grey."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    base = rng.uniform(150, 215) + np.zeros((size, size))
    for _ in range(3):
        fy, fx = rng.uniform(-0.25, 0.25, 2)
        base += rng.uniform(5, 20) * np.sin(fy * yy + fx * xx + rng.uniform(0, 2 * np.pi))
    tint = rng.uniform(-12, 12, 3)
    return base[..., None] + tint


def _mask(shape: str, yy: np.ndarray, xx: np.ndarray, r: float) -> np.ndarray:
    """The shape's pixels, from coordinates relative to its centre."""
    if shape == "circle":
        return yy ** 2 + xx ** 2 <= r * r
    if shape == "square":
        return (np.abs(yy) <= 0.85 * r) & (np.abs(xx) <= 0.85 * r)
    if shape == "diamond":
        return np.abs(yy) + np.abs(xx) <= 1.1 * r
    rel = (yy + r) / (2 * r)  # triangle, apex up: 0 at the apex, 1 at the base
    return (rel >= 0) & (rel <= 1) & (np.abs(xx) <= rel * r)


def _texture(kind: str, yy: np.ndarray, xx: np.ndarray, period: float, angle: float
             ) -> np.ndarray:
    """1 where the texture is dark, 0 elsewhere, in object coordinates (it moves with it)."""
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    if kind == "stripes":
        return (np.floor(u / period) % 2).astype(np.float64)
    if kind == "checks":
        return ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float64)
    return (((u % period) - period / 2) ** 2 + ((v % period) - period / 2) ** 2
            <= (period / 3) ** 2).astype(np.float64)


def _object(rng: np.random.Generator) -> dict:
    return {"shape": SHAPES[rng.integers(len(SHAPES))],
            "colour": list(COLOURS)[rng.integers(len(COLOURS))],
            "texture": TEXTURES[rng.integers(len(TEXTURES))],
            "period": rng.uniform(2.5, 4.5), "angle": rng.uniform(0, np.pi)}


def _another(rng: np.random.Generator, obj: dict) -> dict:
    """The object with one of shape, colour or texture changed."""
    other = dict(obj)
    what = ("shape", "colour", "texture")[rng.integers(3)]
    choices = {"shape": SHAPES, "colour": tuple(COLOURS), "texture": TEXTURES}[what]
    other[what] = [c for c in choices if c != obj[what]][rng.integers(len(choices) - 1)]
    return other


def render(background: np.ndarray, obj: dict, cy: float, cx: float, r: float) -> np.ndarray:
    """The background with the object centred at (cy, cx), radius r (floats: sub-pixel)."""
    size = background.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    yy, xx = yy + 0.5 - cy, xx + 0.5 - cx
    mask = _mask(obj["shape"], yy, xx, r)
    dark = _texture(obj["texture"], yy, xx, obj["period"], obj["angle"])
    colour = np.asarray(COLOURS[obj["colour"]], np.float64)
    fill = colour * (1.0 - 0.55 * dark[..., None])
    return np.where(mask[..., None], fill, background)


def camera(rng: np.random.Generator, scene: np.ndarray, noise: float = CAMERA_NOISE
           ) -> np.ndarray:
    """What one camera records: its own gain, offset and noise; uint8."""
    gain = 1 + rng.uniform(-CAMERA_GAIN, CAMERA_GAIN)
    offset = rng.uniform(-CAMERA_OFFSET, CAMERA_OFFSET)
    img = scene * gain + offset + (rng.normal(0, noise, scene.shape) if noise else 0)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def stereo_pair(rng: np.random.Generator, size: int = IMAGE_SIZE, same: bool = True,
                disparity: float | None = None, noise: float = CAMERA_NOISE
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """(left, right, disparity): two uint8 [size, size, 3] views of one scene."""
    scale = size / IMAGE_SIZE
    d = rng.uniform(0, MAX_DISPARITY) if disparity is None else disparity
    d *= scale
    r = rng.uniform(0.18, 0.28) * size
    cy = rng.uniform(r, size - r)
    cx = rng.uniform(r + d, size - r)        # the right view's object stays in the picture
    background = _background(rng, size)
    obj = _object(rng)
    seen_right = obj if same else _another(rng, obj)
    left = camera(rng, render(background, obj, cy, cx, r), noise)
    right = camera(rng, render(background, seen_right, cy, cx - d, r), noise)
    return left, right, d / scale


def stereo(n: int, seed: int = 0, image_size: int = IMAGE_SIZE) -> Examples:
    """`n` pairs: inputs `left`, `right` (flattened 0..1 floats); heads `disparity` (px)
    and `same_object` (1: both cameras see one object)."""
    rng = np.random.default_rng(seed)
    same = rng.random(n) < 0.5
    lefts, rights, disparities = [], [], []
    for s in same:
        left, right, d = stereo_pair(rng, image_size, bool(s))
        lefts.append(left)
        rights.append(right)
        disparities.append(d)
    flat = image_size * image_size * 3
    return Examples(
        inputs={"left": (np.stack(lefts).reshape(n, flat) / 255.0).astype(np.float32),
                "right": (np.stack(rights).reshape(n, flat) / 255.0).astype(np.float32)},
        targets={"disparity": np.array(disparities, np.float32),
                 "same_object": same.astype(np.float32)},
        labels={"disparity": None, "same_object": list(SAME_LABELS)},
        kinds={"disparity": "regression", "same_object": "binary"},
        description={"source": "synthetic", "generator": "training.models.stereo.data.stereo",
                     "seed": seed, "examples": n, "image_size": image_size,
                     "max_disparity": MAX_DISPARITY},
    )
