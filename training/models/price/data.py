"""Synthetic second-hand clothing listings for the `price` model.

Each listing has a brand, a condition (0 worn .. 1 new), an age in years, a
description and a 32x32 RGB picture: one coloured shape (circle, square or
triangle, standing for coat, shirt and skirt) at a random place and size on a
noisy light background. The price in euros is additive:

    price = brand base (basix 25 .. luxe 120) + material word in the description
            (polyester -5 .. leather +50) + colour of the shape (yellow -10 ..
            red +20) + shape (triangle -10, square 0, circle +15)
            + 30 * condition - 2 * age_years + noise(sd 5),   at least 5

so the metadata, the description and the picture each carry part of it; the
colour and shape (sd ~13 EUR together) are only in the picture. Descriptions
also hold an adjective, a garment word and filler that do not matter.

Predicting the training mean scores MAE ~33 EUR on held-out listings. The
default `price` config (inception + one residual block on the picture, Conv1D
on the description, Dense on the metadata) trained 8 epochs on 1.4k listings
reaches MAE ~9-11 EUR on 300 held-out ones (~70 % below the baseline); without
the picture the best possible is ~11 EUR, with everything the noise floor ~4.
"""

from __future__ import annotations

import numpy as np

from training.data.examples import Examples
from training.models.price.model import BRANDS, metadata_vector

IMAGE_SIZE = 32
BRAND_BASE = {"basix": 25.0, "vintage": 40.0, "urbanite": 50.0, "nordwear": 70.0,
              "luxe": 120.0, "other": 35.0}
MATERIALS = {"polyester": -5.0, "cotton": 5.0, "denim": 10.0, "wool": 25.0, "silk": 40.0,
             "leather": 50.0}
# RGB colour -> price effect
COLOURS = {"red": ((210, 30, 30), 20.0), "black": ((25, 25, 25), 15.0),
           "blue": ((30, 60, 200), 0.0), "green": ((30, 160, 50), -5.0),
           "yellow": ((230, 210, 40), -10.0)}
SHAPES = {"circle": 15.0, "square": 0.0, "triangle": -10.0}
ADJECTIVES = ["lovely", "classic", "cosy", "smart", "casual", "warm", "light", "stylish",
              "comfy", "elegant"]
GARMENTS = ["coat", "shirt", "skirt", "jacket", "dress", "top", "sweater", "blouse"]
FILLER = ["barely", "worn", "great", "fit", "size", "medium", "small", "large", "from",
          "smoke", "free", "home", "pet", "collection", "only", "pickup", "or", "post",
          "offers", "welcome", "bought", "last", "year", "selling", "because", "moving"]
CONDITION_WEIGHT, AGE_WEIGHT, NOISE = 30.0, -2.0, 5.0


def draw_picture(rng: np.random.Generator, shape: str, colour: str,
                 size: int = IMAGE_SIZE) -> np.ndarray:
    """One uint8 [size, size, 3] picture: the shape in the colour on a light background."""
    img = rng.integers(190, 240) + rng.integers(-12, 13, (size, size, 3))
    yy, xx = np.mgrid[0:size, 0:size]
    r = rng.uniform(0.18, 0.32) * size
    cy, cx = rng.uniform(r, size - r, 2)
    if shape == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    elif shape == "square":
        mask = (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
    else:  # triangle, apex up
        rel = (yy - (cy - r)) / (2 * r)  # 0 at the apex, 1 at the base
        mask = (rel >= 0) & (rel <= 1) & (np.abs(xx - cx) <= rel * r)
    rgb = np.asarray(COLOURS[colour][0]) + rng.integers(-15, 16, 3)
    img[mask] = rgb
    return np.clip(img, 0, 255).astype(np.uint8)


def price(n: int, seed: int = 0, image_size: int = IMAGE_SIZE) -> Examples:
    rng = np.random.default_rng(seed)
    brands = rng.choice(BRANDS, n)
    materials = rng.choice(list(MATERIALS), n)
    colours = rng.choice(list(COLOURS), n)
    shapes = rng.choice(list(SHAPES), n)
    condition = rng.uniform(0, 1, n).round(2)
    age = rng.uniform(0, 10, n).round(1)
    value = (np.array([BRAND_BASE[b] for b in brands])
             + np.array([MATERIALS[m] for m in materials])
             + np.array([COLOURS[c][1] for c in colours])
             + np.array([SHAPES[s] for s in shapes])
             + CONDITION_WEIGHT * condition + AGE_WEIGHT * age + rng.normal(0, NOISE, n))
    value = np.maximum(value, 5.0).round(2)
    pictures = np.stack([draw_picture(rng, s, c, image_size) for s, c in zip(shapes, colours,
                                                                             strict=True)])
    descriptions = []
    for m in materials:
        words = [str(rng.choice(ADJECTIVES)), str(m), str(rng.choice(GARMENTS))]
        words += list(rng.choice(FILLER, rng.integers(2, 7)))
        descriptions.append(" ".join(words))
    return Examples(
        inputs={
            "metadata": np.array([metadata_vector(b, c, a) for b, c, a in
                                  zip(brands, condition, age, strict=True)], np.float32),
            "description": np.array(descriptions, dtype=object),
            "picture": (pictures.reshape(n, -1) / 255.0).astype(np.float32),
        },
        targets={"price": value.astype(np.float32)},
        labels={"price": None},
        kinds={"price": "regression"},
        description={"source": "synthetic", "generator": "training.models.price.data.price",
                     "seed": seed, "examples": n, "image_size": image_size},
    )
