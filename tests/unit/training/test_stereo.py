"""The `stereo` dual-camera model: one vision model shared by both views, its synthetic
pairs, what it learns against the mean, its export and its file format.

One model is trained per session (tests/stereo_support.py, ~15 s); the rest builds
models or generates pairs (a few seconds)."""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import pytest

from tests.price_support import png_bytes
from tests.stereo_support import sample_pairs, trained_stereo


@pytest.fixture(scope="module")
def stereo_model():
    from training.models import build_model, config_for

    return build_model("stereo", config_for("stereo", "test"))


def test_one_vision_model_is_called_on_both_views(stereo_model) -> None:
    import keras

    vision = stereo_model.get_layer("vision")
    assert isinstance(vision, keras.Model)
    # The one nested model in the graph, appearing once among the layers...
    assert [la.name for la in stereo_model.layers if isinstance(la, keras.Model)] == ["vision"]
    # ...called twice: once on each view.
    assert len(vision._inbound_nodes) == 2
    fed_by = {node.input_tensors[0]._keras_history.operation.name
              for node in vision._inbound_nodes}
    assert fed_by == {"left_picture", "right_picture"}
    # One set of weights: no variable of the model is there twice, and the base's are the
    # model's only convolution weights before the merge.
    ids = [id(w) for w in stereo_model.weights]
    assert len(ids) == len(set(ids))
    assert {id(w) for w in vision.weights} <= set(ids)
    # The same weights see both views: each branch's features are vision(that view).
    side = int(np.sqrt(stereo_model.input["left"].shape[-1] / 3))
    pairs = np.random.default_rng(0).random((2, 2, side * side * 3), dtype=np.float32)
    branches = keras.Model(stereo_model.input,
                           [node.output_tensors[0] for node in vision._inbound_nodes])
    got = branches({"left": pairs[0], "right": pairs[1]})
    by_input = dict(zip(sorted(fed_by), got, strict=True))  # left_picture, right_picture
    for name, view in (("left_picture", pairs[0]), ("right_picture", pairs[1])):
        want = vision(view.reshape(-1, side, side, 3))
        np.testing.assert_allclose(np.asarray(by_input[name]), np.asarray(want), atol=1e-5)


def test_base_xception_is_the_courses_convolutional_base() -> None:
    import keras

    from training.models import build_model, config_for

    cfg = dataclasses.replace(config_for("stereo", "test"), base="xception")
    model = build_model("stereo", cfg)
    vision = model.get_layer("vision")
    xception = vision.get_layer("xception")
    assert isinstance(xception, keras.Model)
    # include_top=False: the convolutional base only (22,910,480 weights with the
    # 1000-class top, 2,049,000 of them in it).
    assert xception.count_params() == 22_910_480 - 2_049_000
    assert xception.input_shape == (None, 71, 71, 3)  # 32-pixel views enlarged to 71
    assert len(vision._inbound_nodes) == 2
    side = cfg.image_size
    out = model({"left": np.zeros((1, side * side * 3), np.float32),
                 "right": np.ones((1, side * side * 3), np.float32)})
    assert np.isfinite(np.asarray(out["disparity"])).all()
    with pytest.raises(ValueError, match="base must be one of"):
        build_model("stereo", dataclasses.replace(cfg, base="vgg"))


def test_synthetic_pairs_are_seeded_and_balanced() -> None:
    from training.models import generate
    from training.models.stereo.data import MAX_DISPARITY

    a, b, c = (generate("stereo", 200, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.inputs["left"], b.inputs["left"])
    assert not np.array_equal(a.inputs["left"], c.inputs["left"])
    assert a.inputs["left"].shape == a.inputs["right"].shape == (200, 32 * 32 * 3)
    d = a.targets["disparity"]
    assert 0 <= d.min() and d.max() <= MAX_DISPARITY and 3 < d.mean() < 5
    assert 0.4 < a.targets["same_object"].mean() < 0.6
    assert a.labels["same_object"] == ["different", "same"]


def test_the_right_view_is_the_left_shifted_by_the_disparity() -> None:
    from training.models.stereo.data import stereo_pair

    # Without camera noise, the object's columns move left by the (whole) disparity.
    for d in (0.0, 3.0, 6.0):
        left, right, got = stereo_pair(np.random.default_rng(5), 32, same=True,
                                       disparity=d, noise=0.0)
        assert got == d
        shifts = [np.abs(np.roll(left.astype(int), -s, axis=1)[:, :32 - 8]
                         - right.astype(int)[:, :32 - 8]).mean() for s in range(9)]
        assert int(np.argmin(shifts)) == int(d)


def test_trained_briefly_beats_the_mean_baseline() -> None:
    run = trained_stereo()
    mae = run.metrics["test"]["disparity_mae"]
    baseline = run.metrics["baseline"]["test"]["disparity_mae"]
    assert mae <= 0.6 * baseline, f"held-out MAE {mae:.2f} px vs the mean's {baseline:.2f}"


def test_export_takes_both_pictures_as_bytes_and_describes_them() -> None:
    import tensorflow as tf

    from training.export import load_run
    from training.text import make_vectorizer
    from training.train import predict
    from training.warmup import read_warmup, request_inputs

    run = trained_stereo()
    loaded = tf.saved_model.load(str(run.export_dir))
    for name in ("serving_default", "ids"):
        spec = loaded.signatures[name].structured_input_signature[1]
        assert {k: v.dtype for k, v in spec.items()} == {"left": tf.string, "right": tf.string}
    pairs = sample_pairs(3)
    out = loaded.signatures["serving_default"](left=tf.constant(pairs["left"]),
                                               right=tf.constant(pairs["right"]))
    assert set(out) == {"disparity", "same_object", "same_object_label"}
    # The graph decodes the PNGs to what the Keras model takes.
    cfg, model, vocab = load_run(run.run_dir)
    pixels = {k: tf.stack([tf.reshape(tf.io.decode_png(p, channels=3), [-1])
                           for p in pairs[k]]).numpy().astype(np.float32) / 255.0
              for k in ("left", "right")}
    want = predict(model, cfg, make_vectorizer(cfg.vocab_size, vocabulary=vocab), pixels)
    np.testing.assert_allclose(out["disparity"].numpy(), want["disparity"], atol=1e-3)

    extra = run.export_dir / "assets.extra"
    card = json.loads((extra / "model_card.json").read_text())
    assert [(i["name"], i["kind"], i["size"]) for i in card["inputs"]] == [
        ("left", "image", [32, 32]), ("right", "image", [32, 32])]
    assert [(h["name"], h["kind"]) for h in card["heads"]] == [
        ("disparity", "regression"), ("same_object", "binary")]
    assert card["heads"][0]["unit"] == "px"
    # the demo request: both pictures as TF Serving's {"b64": ...}, small PNGs
    (example,) = card["examples"]
    assert example["path"] == "/v1/models/stereo:predict"
    instance = example["body"]["instances"][0]
    for view in ("left", "right"):
        png = base64.b64decode(instance[view]["b64"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 1500
    logs = read_warmup(extra / "tf_serving_warmup_requests")
    assert logs and all(set(request_inputs(log)) == {"left", "right"} for log in logs)
    assert (extra / "model.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_csv_of_picture_pairs_trains(tmp_path) -> None:
    from training.data import DataFileError
    from training.models import load_file
    from training.models.stereo.data import stereo_pair

    rng = np.random.default_rng(2)
    rows = ["left,right,disparity,same_object"]
    for i in range(4):
        left, right, d = stereo_pair(rng, 32, same=i % 2 == 0)
        (tmp_path / f"l{i}.png").write_bytes(png_bytes(left))
        (tmp_path / f"r{i}.png").write_bytes(png_bytes(right))
        rows.append(f"l{i}.png,r{i}.png,{d:.2f},{'same' if i % 2 == 0 else 0}")
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    ex = load_file("stereo", tmp_path / "pairs.csv")
    assert ex.inputs["left"].shape == (4, 32 * 32 * 3)
    assert ex.targets["same_object"].tolist() == [1.0, 0.0, 1.0, 0.0]
    (tmp_path / "bad.csv").write_text("left,right,disparity,same_object\n"
                                      "l0.png,r0.png,-1,1\n")
    with pytest.raises(DataFileError, match=r"bad.csv:2: field 'disparity' must be a number"):
        load_file("stereo", tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("left,right,disparity,same_object\n"
                                       "l0.png,nothere.png,1,yes\n")
    with pytest.raises(DataFileError, match="field 'same_object' must be 0, 1"):
        load_file("stereo", tmp_path / "bad2.csv")
