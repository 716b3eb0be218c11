from __future__ import annotations

import keras
import numpy as np
import pytest

from training.models.blocks import inception_module, residual_block


def _model(shape, block):
    x = keras.Input(shape)
    return keras.Model(x, block(x))


@pytest.mark.parametrize("rank,shape", [(2, (16, 16, 3)), (1, (40, 8))])
def test_inception_concatenates_four_same_size_branches(rank, shape):
    model = _model(shape, lambda x: inception_module(x, 6, rank=rank))
    assert model.output.shape == (None, *shape[:-1], 24)
    out = model(np.random.rand(2, *shape).astype("float32"))
    assert out.shape == (2, *shape[:-1], 24)
    concat = model.get_layer("inception_concat")
    assert len(concat.input) == 4


def test_residual_identity_shortcut_when_shapes_match():
    model = _model((8, 8, 16), lambda x: residual_block(x, 16))
    assert model.output.shape == (None, 8, 8, 16)
    names = {layer.name for layer in model.layers}
    assert "residual_proj" not in names


@pytest.mark.parametrize("filters,strides,out", [(32, 1, (8, 8, 32)), (16, 2, (4, 4, 16)),
                                                 (24, 2, (4, 4, 24))])
def test_residual_projects_when_shapes_differ(filters, strides, out):
    model = _model((8, 8, 16), lambda x: residual_block(x, filters, strides=strides))
    assert model.output.shape == (None, *out)
    assert model.get_layer("residual_proj").kernel.shape == (1, 1, 16, filters)
    y = model(np.random.rand(3, 8, 8, 16).astype("float32"))
    assert y.shape == (3, *out)
    assert float(np.min(y)) >= 0.0  # ends in a ReLU


def test_residual_block_on_sequences():
    model = _model((30, 8), lambda x: residual_block(x, 12, strides=2, rank=1))
    assert model.output.shape == (None, 15, 12)
