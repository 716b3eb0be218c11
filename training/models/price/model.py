"""`price`: the multimodal model (the course's second-hand-clothing example).

Three inputs, one regression head:

- `metadata` float32 `[n, 8]`: the brand one-hot over `BRANDS` (unknown brands
  are "other") followed by `condition` (0 = worn out .. 1 = new) and the item's
  age in years (`metadata_vector` builds it);
- `description` text, through Embedding + Conv1D + GlobalMaxPooling1D;
- `picture`: the Keras model takes the decoded RGB picture, scaled to 0..1 and
  flattened to `image_size * image_size * 3` floats (so that `Examples` keeps
  it as an ordinary float input); the export's signatures take JPEG or PNG
  bytes and decode and resize them in the graph (`training/images.py`). The
  picture branch is a small 2-D CNN made of `blocks.py`'s inception module
  (four parallel branches concatenated) and residual block(s) (an `Add`).

The branches are concatenated and regressed to `price`, learnt normalized and
de-normalized by the export (like the profiler's age), so clients get euros.
"""

from __future__ import annotations

import keras
from keras import layers

from training.models.price.config import PriceConfig
from training.models.blocks import inception_module, residual_block, token_input

BRANDS = ("basix", "vintage", "urbanite", "nordwear", "luxe", "other")
NUMERIC_FEATURES = ("condition", "age_years")
METADATA_DIM = len(BRANDS) + len(NUMERIC_FEATURES)
BN_MOMENTUM = 0.9

DESCRIPTION = "Second-hand clothing price from metadata, a description and a picture."
INPUTS = {
    "metadata": {"kind": "float", "shape": [METADATA_DIM],
                 "description": "brand one-hot over " + ", ".join(BRANDS)
                 + " then condition (0 worn .. 1 new) and age in years"},
    "description": {"kind": "text", "description": "the seller's description of the item"},
    "picture": {"kind": "image", "channels": 3,
                "description": "a photo of the item, JPEG or PNG bytes ({\"b64\": ...} in JSON)"},
}
HEADS = {"price": {"kind": "regression", "unit": "EUR", "description": "the expected price"}}


def metadata_vector(brand: str, condition: float, age_years: float) -> list[float]:
    """The `metadata` input of one item, as clients build it."""
    one_hot = [0.0] * len(BRANDS)
    one_hot[BRANDS.index(brand) if brand in BRANDS else BRANDS.index("other")] = 1.0
    return [*one_hot, float(condition), float(age_years)]


def build_inputs(cfg: PriceConfig) -> dict[str, keras.KerasTensor]:
    side = cfg.image_size
    return {
        "metadata": keras.Input((METADATA_DIM,), dtype="float32", name="metadata"),
        "description": token_input("description"),
        "picture": keras.Input((side * side * 3,), dtype="float32", name="picture"),
    }


def encode_picture(pixels: keras.KerasTensor, cfg: PriceConfig) -> keras.KerasTensor:
    side = cfg.image_size
    x = layers.Reshape((side, side, 3), name="picture_image")(pixels)
    x = inception_module(x, cfg.inception_filters, name="inception")
    x = layers.MaxPooling2D(2, name="picture_pool")(x)
    for i in range(cfg.residual_blocks):
        x = residual_block(x, cfg.residual_filters, strides=2, name=f"residual{i + 1}")
    return layers.GlobalAveragePooling2D(name="picture_features")(x)


def encode_description(ids: keras.KerasTensor, cfg: PriceConfig) -> keras.KerasTensor:
    x = layers.Embedding(cfg.vocab_size, cfg.embedding_dim, name="embedding")(ids)
    # "same" padding: a two-word description must not shrink to nothing.
    x = layers.Conv1D(cfg.text_filters, 3, padding="same", activation="relu",
                      name="description_conv")(x)
    return layers.GlobalMaxPooling1D(name="description_features")(x)


def encode_metadata(meta: keras.KerasTensor, cfg: PriceConfig) -> keras.KerasTensor:
    return layers.Dense(cfg.metadata_units, activation="relu", name="metadata_features")(meta)


def build_model(cfg: PriceConfig) -> keras.Model:
    inputs = build_inputs(cfg)
    x = layers.Concatenate(name="merge")([
        encode_metadata(inputs["metadata"], cfg),
        encode_description(inputs["description"], cfg),
        encode_picture(inputs["picture"], cfg),
    ])
    for i in range(cfg.dense_layers):
        x = layers.Dense(cfg.units, activation="relu", name=f"dense{i + 1}")(x)
        if cfg.dropout > 0:
            x = layers.Dropout(cfg.dropout, name=f"dropout{i + 1}")(x)
    price = layers.Dense(1, name="price")(x)
    model = keras.Model(inputs, {"price": price}, name="price")
    # With a few dozen steps per epoch, BatchNormalization's default moving-average
    # momentum (0.99) lags the weights so far that validation loss climbs while
    # training loss falls; 0.9 tracks them within a few steps.
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return model
