"""`stereo`: one vision model used as a layer, called on both views of a dual camera.

The course's "models as layers" example: a vision model (Xception's convolutional base,
`keras.applications.Xception(weights=None, include_top=False)`, or by default a small
convolutional base) is built once, as a `keras.Model` named `vision`, and called on the
left and on the right picture, so both cameras' features come from the same weights.
The two feature maps are concatenated along the channels, as the course merges them:
position by position, the features of both views sit side by side, and a convolution
wide along the rows (`match_width`) finds how far the right view's features moved. Its
output is pooled and feeds both heads:

- `disparity` (regression, pixels): the horizontal shift of the object between the views
  (what depth comes from), learnt normalized and de-normalized by the export;
- `same_object` (binary): whether both cameras see the same object.

Inputs `left` and `right` are pictures: the Keras model takes them decoded, RGB 0..1
flattened to `image_size * image_size * 3` floats (as `price`'s picture), the export's
signatures take JPEG or PNG bytes and decode them in the graph (training/images.py).
"""

from __future__ import annotations

import keras
from keras import layers

from training.models.stereo.config import StereoConfig

DESCRIPTION = ("Dual camera: the horizontal shift (disparity) of the object between a left "
               "and a right picture, and whether both show the same object.")
INPUTS = {
    "left": {"kind": "image", "channels": 3,
             "description": "the left camera's picture, JPEG or PNG bytes"},
    "right": {"kind": "image", "channels": 3,
              "description": "the right camera's picture, JPEG or PNG bytes"},
}
HEADS = {
    "disparity": {"kind": "regression", "unit": "px",
                  "description": "how far the object moved between the views"},
    "same_object": {"kind": "binary", "description": "both cameras see the same object"},
}
BASES = ("small", "xception")
XCEPTION_MIN_SIZE = 71  # the smallest input keras.applications.Xception accepts


def build_vision(cfg: StereoConfig) -> keras.Model:
    """The shared vision model: an [s, s, 3] picture in 0..1 -> a feature map."""
    if cfg.base not in BASES:
        raise ValueError(f"stereo base must be one of {BASES}, got {cfg.base!r}")
    side = cfg.image_size
    picture = keras.Input((side, side, 3), name="picture")
    if cfg.base == "xception":
        size = max(side, XCEPTION_MIN_SIZE)
        x = layers.Resizing(size, size, name="enlarge")(picture) if size != side else picture
        x = layers.Rescaling(2.0, offset=-1.0, name="xception_range")(x)  # Xception's -1..1
        xception = keras.applications.Xception(weights=None, include_top=False,
                                               input_shape=(size, size, 3))
        features = xception(x)
    else:
        x = layers.Conv2D(cfg.filters, 3, padding="same", activation="relu", name="conv1")(picture)
        x = layers.Conv2D(cfg.filters, 3, padding="same", activation="relu", name="conv2")(x)
        x = layers.MaxPooling2D(2, name="pool")(x)
        features = layers.Conv2D(2 * cfg.filters, 3, padding="same", activation="relu",
                                 name="conv3")(x)
    return keras.Model(picture, features, name="vision")


def build_inputs(cfg: StereoConfig) -> dict[str, keras.KerasTensor]:
    flat = cfg.image_size * cfg.image_size * 3
    return {name: keras.Input((flat,), dtype="float32", name=name) for name in INPUTS}


def build_model(cfg: StereoConfig) -> keras.Model:
    inputs = build_inputs(cfg)
    side = cfg.image_size
    vision = build_vision(cfg)
    left = vision(layers.Reshape((side, side, 3), name="left_picture")(inputs["left"]))
    right = vision(layers.Reshape((side, side, 3), name="right_picture")(inputs["right"]))
    x = layers.Concatenate(axis=-1, name="merge")([left, right])
    x = layers.Conv2D(cfg.match_filters, (3, cfg.match_width), padding="same",
                      activation="relu", name="match")(x)
    x = layers.GlobalMaxPooling2D(name="match_pool")(x)
    x = layers.Dense(cfg.units, activation="relu", name="dense")(x)
    if cfg.dropout > 0:
        x = layers.Dropout(cfg.dropout, name="dropout")(x)
    outputs = {"disparity": layers.Dense(1, name="disparity")(x),
               "same_object": layers.Dense(1, activation="sigmoid", name="same_object")(x)}
    return keras.Model(inputs, outputs, name="stereo")
