"""Reusable functional blocks: a text input, an inception module and a residual block.

Both take and return Keras tensors, so they compose inside any functional model
(the multimodal `price` model will use them on pictures). They are written for
2-D feature maps (`Conv2D`) and, with `rank=1`, for sequences (`Conv1D`).
"""

from __future__ import annotations

import keras
from keras import layers


def token_input(name: str) -> keras.KerasTensor:
    """A text input as the vectorizer feeds every model: token ids, any length."""
    return keras.Input((None,), dtype="int32", name=name)


def _conv(rank: int):
    return layers.Conv1D if rank == 1 else layers.Conv2D


def _pool(rank: int):
    return layers.MaxPooling1D if rank == 1 else layers.MaxPooling2D


def inception_module(x, filters: int = 32, *, rank: int = 2, name: str = "inception"):
    """GoogLeNet's module: parallel 1x1, 1x1->3x3, 1x1->5x5 and pool->1x1 branches.

    The branches keep the spatial size ("same" padding, stride 1) and are
    concatenated on the channel axis: output channels == 4 * filters.
    """
    conv = _conv(rank)
    b1 = conv(filters, 1, padding="same", activation="relu", name=f"{name}_1x1")(x)
    b3 = conv(filters, 1, padding="same", activation="relu", name=f"{name}_3x3_reduce")(x)
    b3 = conv(filters, 3, padding="same", activation="relu", name=f"{name}_3x3")(b3)
    b5 = conv(filters, 1, padding="same", activation="relu", name=f"{name}_5x5_reduce")(x)
    b5 = conv(filters, 5, padding="same", activation="relu", name=f"{name}_5x5")(b5)
    bp = _pool(rank)(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv(filters, 1, padding="same", activation="relu", name=f"{name}_pool_proj")(bp)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([b1, b3, b5, bp])


def residual_block(x, filters: int, *, strides: int = 1, rank: int = 2,
                   name: str = "residual"):
    """Two 3x3 convolutions plus a shortcut; the shortcut is a strided 1x1
    projection when the channel count or spatial size changes, else identity."""
    conv = _conv(rank)
    y = conv(filters, 3, strides=strides, padding="same", name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = conv(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv(filters, 1, strides=strides, padding="same", name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


__all__ = ["inception_module", "residual_block"]
