"""`qa`: answer a question about a text (multi-input: two encoders, concatenated).

The course's question-answering model: the text and the question each get their
own Embedding + LSTM encoder; the two encodings are concatenated and a softmax
head `answer` picks one word of the answer vocabulary.
"""

from __future__ import annotations

import keras
from keras import layers

from training.models.qa.config import QAConfig
from training.models.blocks import token_input

DESCRIPTION = "Question answering over a short text: picks the answer word."
INPUTS = {
    "text": {"kind": "text", "description": "the text that holds the answer"},
    "question": {"kind": "text", "description": "the question about the text"},
}
HEADS = {"answer": {"kind": "multiclass", "description": "the answer word"}}


def build_inputs(cfg: QAConfig) -> dict[str, keras.KerasTensor]:
    return {name: token_input(name) for name in INPUTS}


def encode(ids: keras.KerasTensor, cfg: QAConfig, units: int, name: str) -> keras.KerasTensor:
    x = layers.Embedding(cfg.vocab_size, cfg.embedding_dim, mask_zero=True,
                         name=f"{name}_embedding")(ids)
    return layers.LSTM(units, name=f"{name}_lstm")(x)


def build_model(cfg: QAConfig) -> keras.Model:
    inputs = build_inputs(cfg)
    text = encode(inputs["text"], cfg, cfg.units, "text")
    question = encode(inputs["question"], cfg, cfg.question_units, "question")
    x = layers.Concatenate(name="concatenate")([text, question])
    x = layers.Dense(cfg.dense_units, activation="relu", name="dense")(x)
    n_answers = len(cfg.labels.get("answer") or []) or 2
    answer = layers.Dense(n_answers, activation="softmax", name="answer")(x)
    return keras.Model(inputs, {"answer": answer}, name="qa")
