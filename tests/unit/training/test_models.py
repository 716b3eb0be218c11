from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest

from tests.unit.training.conftest import TABLE, tiny
from training.config import apply_overrides, save_config
from training.models import (
    DEFAULT_MODELS,
    build_model,
    config_for,
    default_config,
    load_config,
    room,
)
from training.models import config_from_dict as from_dict
from training.models.profiler import model as profiler_module


def test_registry_lists_the_four_models():
    assert DEFAULT_MODELS == ("headline", "profiler", "qa", "similarity")
    with pytest.raises(ValueError, match="unknown model"):
        build_model("nope", tiny("qa"))


@pytest.mark.parametrize("name", DEFAULT_MODELS)
def test_graph_has_exactly_the_table_names(name):
    model = build_model(name, tiny(name))
    inputs, heads = TABLE[name]
    assert {t.name for t in model.inputs} == inputs
    assert isinstance(model.output, dict) and set(model.output) == heads
    r = room(name)
    assert set(r.inputs) == inputs and set(r.heads) == heads


def test_head_sizes_follow_labels():
    model = build_model("profiler", tiny("profiler"))
    assert model.output["income"].shape == (None, 4)
    assert model.output["age"].shape == (None, 1)
    qa = build_model("qa", tiny("qa"))
    assert qa.output["answer"].shape == (None, 7)


def test_similarity_has_one_shared_encoder():
    cfg = tiny("similarity")
    model = build_model("similarity", cfg)
    encoders = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert [e.name for e in encoders] == ["encoder"]
    encoder = encoders[0]
    # Called on both inputs: two inbound nodes, one set of weights.
    assert len(encoder._inbound_nodes) == 2
    encoder_ids = {id(w) for w in encoder.weights}
    assert {id(w) for w in model.weights} - encoder_ids == {
        id(w) for layer in model.layers if layer is not encoder for w in layer.weights}
    assert sum(isinstance(layer, keras.layers.LSTM) for layer in encoder.layers) == 1
    # The weights serve both branches: zeroing the encoder's embedding changes both sides.
    left = np.random.default_rng(0).integers(2, cfg.vocab_size, (4, 9)).astype("int32")
    right = np.random.default_rng(1).integers(2, cfg.vocab_size, (4, 9)).astype("int32")
    branch = keras.Model(model.inputs, [encoder(model.inputs[0]), encoder(model.inputs[1])])
    before = [np.asarray(t) for t in branch({"left": left, "right": right})]
    emb = encoder.get_layer("embedding")
    emb.set_weights([emb.get_weights()[0] * 3.0])
    after = [np.asarray(t) for t in branch({"left": left, "right": right})]
    assert not np.allclose(before[0], after[0]) and not np.allclose(before[1], after[1])


def test_similarity_is_symmetric():
    cfg = tiny("similarity")
    model = build_model("similarity", cfg)
    rng = np.random.default_rng(3)
    a = rng.integers(0, cfg.vocab_size, (16, 12)).astype("int32")
    b = rng.integers(0, cfg.vocab_size, (16, 12)).astype("int32")
    ab = np.asarray(model({"left": a, "right": b})["similarity"])
    ba = np.asarray(model({"left": b, "right": a})["similarity"])
    np.testing.assert_allclose(ab, ba, atol=1e-6)
    assert np.ptp(ab) > 0  # not a constant that would be trivially symmetric


def test_similarity_dropout_works_in_training_only():
    # The default's dropout on the word vectors and the comparisons (config.py): noise in
    # training, none in the exported function, which stays deterministic and symmetric.
    cfg = tiny("similarity", embedding_dropout=0.35, compare_dropout=0.15)
    model = build_model("similarity", cfg)
    assert {"embedding_dropout", "compare_dropout"} <= {
        layer.name for layer in [*model.layers, *model.get_layer("encoder").layers]}
    rng = np.random.default_rng(4)
    a = rng.integers(1, cfg.vocab_size, (16, 12)).astype("int32")
    b = rng.integers(1, cfg.vocab_size, (16, 12)).astype("int32")
    served = np.asarray(model({"left": a, "right": b}, training=False)["similarity"])
    np.testing.assert_array_equal(
        served, np.asarray(model({"left": a, "right": b}, training=False)["similarity"]))
    np.testing.assert_allclose(
        served, np.asarray(model({"left": b, "right": a}, training=False)["similarity"]),
        atol=1e-6)
    trained = np.asarray(model({"left": a, "right": b}, training=True)["similarity"])
    assert not np.allclose(trained, served)
    plain = build_model("similarity", tiny("similarity"))  # the test preset: no dropout
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in
                   [*plain.layers, *plain.get_layer("encoder").layers])


def test_profiler_rejects_sequences_too_short_for_its_stack():
    cfg = tiny("profiler", conv_layers=3)
    need = profiler_module.min_tokens(cfg)
    assert need > 100
    with pytest.raises(ValueError, match=f">= {need}"):
        build_model("profiler", dataclasses.replace(cfg, max_tokens={"posts": need - 1}))
    build_model("profiler", dataclasses.replace(cfg, max_tokens={"posts": need}))


@pytest.mark.parametrize("name", DEFAULT_MODELS)
def test_config_round_trips_through_json(name, tmp_path):
    cfg = tiny(name)
    save_config(cfg, tmp_path / "c.json")
    back = load_config(tmp_path / "c.json")
    assert back == cfg and type(back) is type(cfg)
    # A tuner's result file wraps the config.
    (tmp_path / "best.json").write_text(json.dumps({"config": cfg.to_dict(), "score": 0.9}))
    assert load_config(tmp_path / "best.json", name) == cfg


def test_profiler_defaults_are_the_course_loss_weights():
    cfg = default_config("profiler")
    assert cfg.loss_weights == {"age": 0.25, "income": 1.0, "gender": 10.0}
    assert default_config("headline").loss_weights == {"main_output": 1.0, "aux_output": 0.2}


def test_overrides():
    cfg = apply_overrides(config_for("profiler"),
                          ["units=16", "loss_weights.age=0.5", "max_tokens.posts=320"])
    assert cfg.units == 16 and cfg.max_tokens == {"posts": 320}
    assert cfg.loss_weights == {"age": 0.5, "income": 1.0, "gender": 10.0}
    with pytest.raises(ValueError, match="no config field 'unitz'"):
        apply_overrides(cfg, ["unitz=3"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        apply_overrides(cfg, ["units"])
    with pytest.raises(ValueError, match="unknown config field"):
        from_dict({"model": "qa", "filters": 3})
    with pytest.raises(ValueError, match="not 'qa'"):
        from_dict({"model": "profiler"}, "qa")
