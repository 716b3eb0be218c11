"""`python -m training tune`: a 3-trial search on a tiny config, and `train --config`
with its best config rebuilds the best trial's architecture."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from tests.tune_support import MODEL, one_process_search


def test_search_space_comes_from_the_config() -> None:
    from training.models import config_for
    from training.tune import search_space

    space = search_space(config_for("price"))
    assert space["units"] == {"type": "choice", "values": [16, 32, 64]}
    assert space["embedding_dim"]["values"] == [8, 16, 32]
    assert space["dense_layers"]["values"] == [1, 2]
    assert space["dropout"]["type"] == "float" and space["learning_rate"]["sampling"] == "log"
    # Data shapes are not architecture: never tuned.
    assert not {"vocab_size", "image_size", "epochs", "batch_size", "seed"} & set(space)
    # Another model's own fields.
    assert "question_units" in search_space(config_for("qa"))
    # Pretrained vectors fix their width; WordNet's start vectors take any.
    similarity = config_for("similarity")
    assert "embedding_dim" not in search_space(similarity) and "units" in search_space(similarity)
    wordnet = dataclasses.replace(similarity, embedding_init="wordnet")
    assert search_space(wordnet)["embedding_dim"]["values"] == [128, 256, 512]


def test_rejects_bad_arguments() -> None:
    from training.tune import tune

    with pytest.raises(ValueError, match="algorithm"):
        tune("price", algorithm="grid")
    with pytest.raises(ValueError, match="max-trials"):
        tune("price", max_trials=0)


def test_three_trials_then_train_with_the_best_config(tmp_path) -> None:
    import keras

    from training import cli
    from training.export import load_run
    from training.models import build_model, load_config

    run_dir, out = one_process_search()  # python -m training tune, 3 trials
    progress = re.findall(rf"\[{MODEL}\] trial (\d)/3 completed val_loss ([\d.]+)", out)
    assert [n for n, _ in progress] == ["1", "2", "3"], out
    # The held-out test metric is reported once: for the best trial.
    assert out.count("held-out test (best trial only): aux_output_accuracy") == 1

    best_path = run_dir / "best_config.json"
    best = json.loads(best_path.read_text())
    assert len(best["trials"]) == 3
    assert best["val_loss"] == min(t["val_loss"] for t in best["trials"])
    assert set(best["test"]) == {"main_output_auc", "main_output_accuracy", "aux_output_auc",
                                 "aux_output_accuracy"}
    winner = next(t for t in best["trials"] if t["val_loss"] == best["val_loss"])
    for name, value in winner["hyperparameters"].items():
        assert best["config"][name] == value

    # train --config with the best config: the best trial's architecture, exactly
    # (its saved weights load into the newly trained run's model).
    assert cli.main(["train", "--model", MODEL, "--config", str(best_path), "--epochs", "1",
                     "--out", str(tmp_path), "--run-name", "retrained"]) == 0
    cfg, model, _ = load_run(tmp_path / "retrained")
    data_derived = {"labels": None, "target_scaling": None}
    assert load_config(best_path).to_dict() | data_derived == cfg.to_dict() | data_derived
    assert model.get_layer("dense1").units == best["config"]["dense_units"]
    assert model.get_layer("lstm").units == best["config"]["units"]
    n_dense = len([la for la in model.layers if re.fullmatch(r"dense\d+", la.name)])
    assert n_dense == best["config"]["dense_layers"]
    checkpoint = next((run_dir / "tuner" / f"trial_{winner['trial']}").glob("*.weights.h5"))
    twin = build_model(MODEL, cfg)
    twin.load_weights(checkpoint)  # raises if any layer or shape differs
    assert twin.count_params() == model.count_params()
    assert [w.shape for w in twin.weights] == [w.shape for w in model.weights]
    keras.backend.clear_session()


def test_trials_learn_regression_targets_as_train_does(tmp_path) -> None:
    # The profiler's age is learnt at std regression_target_std (2): with std 1 gender's
    # loss weight swamps it. `tune` once prepared its own data and dropped the division, so
    # every profiler trial trained age at std 1. One preparation (training/prepare.py)
    # now serves both. About 5 s: one one-epoch trial on 240 authors.
    import dataclasses

    import numpy as np

    from training.models import config_for, generate
    from training.tune import tune

    cfg = dataclasses.replace(config_for("profiler", "test"), examples=240, epochs=1,
                              filters=8, units=8, embedding_dim=8, batch_size=80)
    assert cfg.regression_target_std == 2.0
    result = tune("profiler", cfg=cfg, out=tmp_path, max_trials=1, verbose=False)
    train_ex, _, _ = generate("profiler", cfg.examples, cfg.seed).split(
        cfg.validation_split, cfg.test_split, cfg.seed)
    ages = train_ex.targets["age"]
    mean, std = result.best_config.target_scaling["age"]
    assert (mean, std) == pytest.approx((ages.mean(), ages.std() / 2.0))
    # what the trial fitted: ages of std 2 around 0
    assert np.std((ages - mean) / std) == pytest.approx(2.0)
