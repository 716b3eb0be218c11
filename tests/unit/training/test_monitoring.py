"""Monitoring a run: TensorBoard per-head scalars, histograms and graph; the
predicted-vs-true callback; learning curves from CSVLogger's history."""

from __future__ import annotations

import numpy as np
import pytest

from tests.price_support import trained_price

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _events(log_dir):
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(log_dir), size_guidance={ea.TENSORS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    return acc


def _scalar_series(acc, tag: str) -> list[tuple[int, float]]:
    import tensorflow as tf

    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


def test_split_logs_sorts_keras_keys_by_head() -> None:
    from training.monitoring import split_logs

    heads = {"age": {"kind": "regression"}, "income": {"kind": "multiclass"},
             "gender": {"kind": "binary"}}
    logs = {"loss": 3.0, "age_loss": 1.0, "age_mae": 0.5, "val_age_mae": 0.6,
            "val_income_accuracy": 0.7, "gender_auc": 0.9, "learning_rate": 0.001}
    got = split_logs(logs, heads)
    assert got["train"] == {"age": {"loss": 1.0, "mae": 0.5}, "gender": {"auc": 0.9}}
    assert got["validation"] == {"age": {"mae": 0.6}, "income": {"accuracy": 0.7}}
    # One head: Keras' keys carry no prefix.
    one = split_logs({"mae": 0.2, "val_mae": 0.3, "epoch": 1}, {"price": {"kind": "regression"}})
    assert one == {"train": {"price": {"mae": 0.2}}, "validation": {"price": {"mae": 0.3}}}


def test_tensorboard_has_per_head_scalars_in_the_heads_unit() -> None:
    from training.monitoring import read_history

    run = trained_price()
    logs = run.run_dir / "logs"
    val = _events(logs / "heads" / "validation")
    assert {"price/mae", "price/loss"} <= set(val.Tags()["tensors"])
    series = _scalar_series(val, "price/mae")
    assert [step for step, _ in series] == list(range(run.epochs))
    # Keras learns normalized prices; the scalar is in euros (x the target's std).
    std = __import__("json").loads((run.run_dir / "config.json").read_text())[
        "target_scaling"]["price"][1]
    history = read_history(run.run_dir / "history.csv")
    np.testing.assert_allclose([v for _, v in series], [r["val_mae"] * std for r in history],
                               rtol=1e-5)
    train = _events(logs / "heads" / "train")
    assert "price/mae" in train.Tags()["tensors"]
    assert train.Tags()["graph"], "the model graph is not in the TensorBoard logs"
    weights = _events(logs / "weights")
    tags = weights.Tags()["tensors"]
    assert any("inception" in t for t in tags) and any("residual" in t for t in tags)
    # Keras' own TensorBoard callback writes its epoch scalars alongside.
    assert (logs / "validation").is_dir()


def test_learning_curves_png_per_head_at_the_end_of_training() -> None:
    run = trained_price()
    curve = run.run_dir / "plots" / "learning_curve_price.png"
    assert curve.read_bytes()[:8] == PNG_MAGIC


def test_every_run_plots_predicted_against_true_each_epoch() -> None:
    run = trained_price()
    files = sorted((run.run_dir / "plots").glob("predicted_vs_true_epoch_*.png"))
    assert [f.name for f in files] == [f"predicted_vs_true_epoch_{i:03d}.png"
                                       for i in range(1, run.epochs + 1)]
    assert all(f.read_bytes()[:8] == PNG_MAGIC for f in files)


def test_multi_head_learning_curves(tmp_path) -> None:
    from training.monitoring import plot_learning_curves

    history = tmp_path / "history.csv"
    history.write_text("epoch,age_mae,gender_auc,learning_rate,loss,val_age_mae,"
                       "val_gender_auc,val_loss\n"
                       "0,0.9,0.6,0.001,2.0,1.0,0.55,2.2\n1,0.7,0.8,0.001,1.5,0.8,0.75,1.8\n")
    heads = {"age": {"kind": "regression", "unit": "years"}, "gender": {"kind": "binary"}}
    paths = plot_learning_curves(history, heads, tmp_path / "plots", {"age": 10.0})
    assert sorted(p.name for p in paths) == ["learning_curve_age.png",
                                             "learning_curve_gender.png"]
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)


@pytest.mark.parametrize("as_dataset", [True, False])
def test_prediction_plot_writes_one_png_per_epoch(tmp_path, as_dataset) -> None:
    import keras
    import tensorflow as tf

    from training.monitoring import PredictionPlot

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32)).astype(np.float32)
    inp = keras.Input((3,), name="x")
    model = keras.Model({"x": inp}, {"y": keras.layers.Dense(1, name="y")(inp)})
    model.compile(optimizer="adam", loss={"y": "mse"})
    data = (tf.data.Dataset.from_tensor_slices(({"x": x}, {"y": y})).batch(16) if as_dataset
            else ({"x": x}, {"y": y}))
    plot = PredictionPlot(tmp_path / "plots", data, {"y": {"kind": "regression", "unit": "m"}},
                          {"y": [10.0, 2.0]}, max_points=40)
    model.fit({"x": x}, {"y": y}, epochs=3, batch_size=16, verbose=0, callbacks=[plot])
    files = sorted((tmp_path / "plots").glob("*.png"))
    assert [f.name for f in files] == [f"predicted_vs_true_epoch_{i:03d}.png" for i in (1, 2, 3)]
    assert all(f.read_bytes()[:8] == PNG_MAGIC for f in files)
    assert len(plot.targets["y"]) == 40


def test_prediction_plot_is_part_of_the_standard_callbacks_with_validation_data(
        tmp_path) -> None:
    from training.callbacks import make_callbacks
    from training.models import config_for, room
    from training.monitoring import HeadBoard, LearningCurves, PredictionPlot

    cfg = config_for("price")
    heads = dict(room("price").heads)
    data = ({"metadata": np.zeros((2, 8), np.float32)}, {"price": np.zeros(2, np.float32)})
    with_data = make_callbacks(tmp_path, cfg, heads, {}, validation_data=data)
    without = make_callbacks(tmp_path, cfg, heads, {})
    assert any(isinstance(c, PredictionPlot) for c in with_data)
    assert not any(isinstance(c, PredictionPlot) for c in without)
    for cbs in (with_data, without):
        assert any(isinstance(c, HeadBoard) for c in cbs)
        assert any(isinstance(c, LearningCurves) for c in cbs)
        assert type(cbs[-1]).__name__ == "ProgressLine"  # train.py reads the last one
