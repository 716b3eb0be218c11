"""`headline`: multi-input and multi-output together (the Keras functional API guide).

The headline's Embedding + LSTM encoding feeds an auxiliary head `aux_output`
directly (it keeps the LSTM learning even deep in the model), and, concatenated
with the 5 auxiliary floats `aux`, a Dense stack ending in `main_output`.
Loss weights 1.0 (main) and 0.2 (aux).
"""

from __future__ import annotations

import keras
from keras import layers

from training.models.headline.config import HeadlineConfig
from training.models.blocks import token_input

DESCRIPTION = "Headline engagement: main and auxiliary probability from text and 5 features."
INPUTS = {
    "headline": {"kind": "text", "description": "the headline"},
    "aux": {"kind": "float", "description": "five auxiliary features", "shape": [5]},
}
HEADS = {
    "main_output": {"kind": "binary", "description": "main probability (text and features)"},
    "aux_output": {"kind": "binary", "description": "auxiliary probability (text only)"},
}


def build_inputs(cfg: HeadlineConfig) -> dict[str, keras.KerasTensor]:
    return {
        "headline": token_input("headline"),
        "aux": keras.Input((cfg.aux_dim,), dtype="float32", name="aux"),
    }


def encode(ids: keras.KerasTensor, cfg: HeadlineConfig) -> keras.KerasTensor:
    x = layers.Embedding(cfg.vocab_size, cfg.embedding_dim, mask_zero=True,
                         name="embedding")(ids)
    return layers.LSTM(cfg.units, name="lstm")(x)


def build_model(cfg: HeadlineConfig) -> keras.Model:
    inputs = build_inputs(cfg)
    lstm_out = encode(inputs["headline"], cfg)
    aux_output = layers.Dense(1, activation="sigmoid", name="aux_output")(lstm_out)
    x = layers.Concatenate(name="concatenate")([lstm_out, inputs["aux"]])
    for i in range(cfg.dense_layers):
        x = layers.Dense(cfg.dense_units, activation="relu", name=f"dense{i + 1}")(x)
    main_output = layers.Dense(1, activation="sigmoid", name="main_output")(x)
    return keras.Model(inputs, {"main_output": main_output, "aux_output": aux_output},
                       name="headline")
