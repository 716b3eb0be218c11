"""The multimodal `price` model: its graph, its data, what it learns, its export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.price_support import jpeg_bytes, png_bytes, sample_listings, trained_price


def _producers(layer) -> list:
    """The layers whose outputs feed `layer` (Keras 3 functional graph)."""
    node = layer._inbound_nodes[0]
    return [t._keras_history.operation for t in node.input_tensors]


def _ancestors(layer) -> set[str]:
    seen, stack = set(), [layer]
    while stack:
        current = stack.pop()
        for parent in (_producers(current) if current._inbound_nodes else []):
            if parent.name not in seen:
                seen.add(parent.name)
                stack.append(parent)
    return seen


@pytest.fixture(scope="module")
def price_model():
    from training.models import build_model, config_for

    return build_model("price", config_for("price", "test"))


def test_inputs_and_head(price_model) -> None:
    assert sorted(price_model.input) == ["description", "metadata", "picture"]
    assert list(price_model.output) == ["price"]


def test_picture_branch_has_an_inception_module(price_model) -> None:
    from keras import layers

    inceptions = []
    for layer in price_model.layers:
        if not isinstance(layer, layers.Concatenate):
            continue
        branches = _producers(layer)
        # Parallel branches: >= 3 inputs, each ending in a convolution, all fed by
        # one common tensor, with different receptive fields (kernel sizes).
        if len(branches) >= 3 and all(isinstance(b, layers.Conv2D) for b in branches):
            sources = [_ancestors(b) for b in branches]
            common = set.intersection(*sources)
            kernels = {b.kernel_size for b in branches}
            if common and len(kernels) >= 3:
                inceptions.append(layer)
    assert inceptions, "no Concatenate of >= 3 parallel Conv2D branches in the price graph"
    # The inception module sees the picture, not the text or metadata.
    assert "picture" in _ancestors(inceptions[0])
    assert "description" not in _ancestors(inceptions[0])


def test_picture_branch_has_a_residual_add(price_model) -> None:
    from keras import layers

    adds = [lay for lay in price_model.layers if isinstance(lay, layers.Add)]
    assert adds, "no Add layer in the price graph"
    a, b = _producers(adds[0])
    # A residual connection: one input is the block's conv path, the other a
    # shortcut that skips those convolutions.
    assert a.name != b.name
    assert (b.name not in _ancestors(a)) or (a.name not in _ancestors(b))
    assert "picture" in _ancestors(adds[0])


def test_synthetic_listings_are_deterministic_and_learnable_structure() -> None:
    from training.models import generate

    a, b = generate("price", 50, seed=3), generate("price", 50, seed=3)
    c = generate("price", 50, seed=4)
    np.testing.assert_array_equal(a.inputs["picture"], b.inputs["picture"])
    assert not np.array_equal(a.inputs["picture"], c.inputs["picture"])
    assert a.inputs["picture"].shape == (50, 32 * 32 * 3)
    assert a.inputs["metadata"].shape == (50, 8)
    np.testing.assert_array_equal(a.inputs["metadata"][:, :6].sum(axis=1), np.ones(50))
    assert a.kinds == {"price": "regression"} and (a.targets["price"] >= 5).all()


def test_metadata_vector_maps_unknown_brands_to_other() -> None:
    from training.models.price.model import BRANDS, metadata_vector

    v = metadata_vector("no-such-brand", 0.5, 3.0)
    assert v[BRANDS.index("other")] == 1.0 and sum(v[:len(BRANDS)]) == 1.0
    assert v[-2:] == [0.5, 3.0]


def test_trained_briefly_beats_the_mean_baseline_by_30_percent() -> None:
    run = trained_price()
    mae = run.metrics["test"]["price_mae"]
    baseline = run.metrics["baseline"]["test"]["price_mae"]
    assert mae <= 0.7 * baseline, f"held-out MAE {mae:.2f} vs predicting the mean {baseline:.2f}"


def test_export_decodes_png_and_jpeg_in_the_graph() -> None:
    import tensorflow as tf

    from training.export import load_run
    from training.text import make_vectorizer
    from training.train import predict

    run = trained_price()
    loaded = tf.saved_model.load(str(run.export_dir))
    sig = loaded.signatures["serving_default"]
    assert sig.structured_input_signature[1]["picture"].dtype == tf.string
    s = sample_listings(3)
    got = sig(metadata=tf.constant(s["metadata"]), description=tf.constant(s["description"]),
              picture=tf.constant(s["png"]))["price"].numpy()
    # The Keras model on the same pixels (no PNG involved) gives the same prices.
    cfg, model, vocab = load_run(run.run_dir)
    want = predict(model, cfg, make_vectorizer(cfg.vocab_size, vocabulary=vocab),
                   {"metadata": s["metadata"], "description": np.array(s["description"],
                                                                        dtype=object),
                    "picture": s["pixels"]})["price"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    # The `ids` signature takes the picture as bytes too.
    ids = loaded.signatures["ids"]
    assert ids.structured_input_signature[1]["picture"].dtype == tf.string
    # A bigger JPEG is decoded and resized: a finite price per picture.
    big = np.kron(np.ones((2, 2, 1)), np.full((24, 24, 3), 180)).astype(np.uint8)
    out = sig(metadata=tf.constant(s["metadata"][:1]), description=tf.constant(["silk coat"]),
              picture=tf.constant([jpeg_bytes(big)]))["price"].numpy()
    assert out.shape == (1,) and np.isfinite(out).all()


def test_export_card_and_warmup_describe_the_picture() -> None:
    from training.warmup import read_warmup, request_inputs

    run = trained_price()
    card = json.loads((run.export_dir / "assets.extra" / "model_card.json").read_text())
    picture = next(i for i in card["inputs"] if i["name"] == "picture")
    assert picture["kind"] == "image" and picture["dtype"] == "string"
    assert [h["name"] for h in card["heads"]] == ["price"]
    assert card["heads"][0]["unit"] == "EUR"
    logs = read_warmup(run.export_dir / "assets.extra" / "tf_serving_warmup_requests")
    first = request_inputs(logs[0])
    assert first["picture"][0][:8] == b"\x89PNG\r\n\x1a\n"
    assert (run.export_dir / "assets.extra" / "model.png").read_bytes()[:4] == b"\x89PNG"


# -- the real-file loader ---------------------------------------------------------------


def _write_listings(tmp_path, rows: list[str]) -> str:
    pictures = tmp_path / "pics"
    pictures.mkdir(exist_ok=True)
    rgb = np.zeros((40, 30, 3), np.uint8)
    rgb[..., 0] = 200
    (pictures / "red.png").write_bytes(png_bytes(rgb))
    (pictures / "red.jpg").write_bytes(jpeg_bytes(rgb))
    (pictures / "broken.png").write_bytes(b"not a picture")
    path = tmp_path / "listings.csv"
    path.write_text("brand,condition,age_years,description,image,price,extra\n"
                    + "\n".join(rows) + "\n")
    return str(path)


def test_loader_reads_csv_with_pictures(tmp_path) -> None:
    from training.models import load_file

    path = _write_listings(tmp_path, [
        'luxe,0.9,1.5,"silk coat, like new",pics/red.png,140',
        "acme,0.2,7,worn cotton shirt,pics/red.jpg,12.5",
    ])
    ex = load_file("price", path)
    assert len(ex) == 2 and ex.inputs["picture"].shape == (2, 32 * 32 * 3)
    np.testing.assert_allclose(ex.targets["price"], [140, 12.5])
    assert ex.inputs["description"][0] == "silk coat, like new"
    assert ex.inputs["metadata"][1][5] == 1.0  # "acme" is no known brand: other
    # The PNG is decoded and resized as the export does: the red channel stays red.
    red = ex.inputs["picture"][0].reshape(32, 32, 3)
    assert red[..., 0].mean() > 0.7 and red[..., 1].max() < 0.05


@pytest.mark.parametrize("row, line, field", [
    ("luxe,1.5,1,coat,pics/red.png,10", 3, "condition"),
    ("luxe,0.5,1,coat,pics/missing.png,10", 3, "image"),
    ("luxe,0.5,1,coat,pics/broken.png,10", 3, "image"),
    ("luxe,0.5,1,coat,pics/red.png,cheap", 3, "price"),
    ("luxe,0.5", 3, "age_years"),
])
def test_loader_names_file_line_and_field(tmp_path, row, line, field) -> None:
    from training.data import DataFileError
    from training.models import load_file

    path = _write_listings(tmp_path, ["basix,0.5,2,shirt,pics/red.png,20", row])
    with pytest.raises(DataFileError) as err:
        load_file("price", path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert f"'{field}'" in str(err.value)


def test_loader_rejects_a_header_without_the_columns(tmp_path) -> None:
    from training.data import DataFileError
    from training.models import load_file

    path = tmp_path / "bad.csv"
    path.write_text("brand,description,price\nluxe,coat,10\n")
    with pytest.raises(DataFileError, match=r"bad\.csv:1: .*condition"):
        load_file("price", path)
