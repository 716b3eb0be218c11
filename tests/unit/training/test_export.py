"""The model repository contract (docs/model-repository.md), checked on real exports."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from training.export import existing_versions, export_run, export_size
from training.warmup import WARMUP_FILE, read_warmup, request_inputs

pytestmark = pytest.mark.slow
MODELS = ("qa", "profiler", "similarity", "headline")
OUTPUTS = {
    "qa": {"answer", "answer_label"},
    "profiler": {"age", "income", "income_label", "gender", "gender_label"},
    "similarity": {"similarity"},
    "headline": {"main_output", "aux_output"},
}
ODD_TEXT = ["", "UPPER case, with PUNCTUATION!!! and zzzunknownword", "  spaced   out\ttext \n"]

# Runs in a fresh interpreter: only TensorFlow and the SavedModel, no training code.
CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    spec = json.load(open(sys.argv[1]))
    report = {}
    for name, item in spec.items():
        loaded = tf.saved_model.load(item["path"])
        sigs = {}
        for sig_name, fn in loaded.signatures.items():
            sigs[sig_name] = {
                "inputs": {k: [v.dtype.name, v.shape.as_list()]
                           for k, v in fn.structured_input_signature[1].items()},
                "outputs": {k: [v.dtype.name, v.shape.as_list()]
                            for k, v in fn.structured_outputs.items()},
            }
        def call(sig, feed):
            fn = loaded.signatures[sig]
            specs = fn.structured_input_signature[1]
            args = {k: tf.constant(np.array(v, dtype=object) if specs[k].dtype == tf.string
                                   else np.array(v), dtype=specs[k].dtype)
                    for k, v in feed.items()}
            out = fn(**args)
            return {k: (v.numpy().astype(str).tolist() if v.dtype == tf.string
                        else v.numpy().tolist()) for k, v in out.items()}
        report[name] = {"signatures": sigs,
                        "raw": call("serving_default", item["raw"]),
                        "ids": call("ids", item["ids"])}
        if "swapped" in item:
            report[name]["swapped"] = call("serving_default", item["swapped"])
    json.dump(report, open(sys.argv[2], "w"))
""")


@pytest.fixture(scope="module")
def fresh_process(trained_runs, keras_side, tmp_path_factory):
    """Every export loaded and called in a new process, plus what Keras says."""
    tmp = tmp_path_factory.mktemp("fresh")
    spec, expected = {}, {}
    for name in MODELS:
        run = trained_runs[name]
        examples = json.loads((Path(run["run_dir"]) / "examples.json").read_text())
        raw = {}
        for k, v in examples.items():
            if isinstance(v[0], str):
                raw[k] = np.array(v + ODD_TEXT, dtype=object)
            else:
                raw[k] = np.array(v + [v[0]] * len(ODD_TEXT), dtype=np.float32)
        predictions, ids = keras_side(run["run_dir"], raw)
        feed_ids = {k: (ids[k] if k in ids else raw[k]).tolist() for k in raw}
        spec[name] = {"path": run["path"], "raw": {k: v.tolist() for k, v in raw.items()},
                      "ids": feed_ids}
        if name == "similarity":
            spec[name]["swapped"] = {"left": raw["right"].tolist(), "right": raw["left"].tolist()}
        expected[name] = predictions
    (tmp / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp / "spec.json"),
                           str(tmp / "out.json")], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp / "out.json").read_text()), expected


@pytest.mark.parametrize("name", MODELS)
def test_signatures_have_the_documented_names_and_types(fresh_process, name):
    report, _ = fresh_process
    sigs = report[name]["signatures"]
    assert set(sigs) == {"serving_default", "ids"}
    raw_in, ids_in = sigs["serving_default"]["inputs"], sigs["ids"]["inputs"]
    assert set(raw_in) == set(ids_in)
    for key, (dtype, shape) in raw_in.items():
        if key == "aux":
            assert [dtype, shape] == ["float32", [None, 5]] == ids_in[key]
        else:
            assert [dtype, shape] == ["string", [None]]
            assert ids_in[key] == ["int32", [None, None]]
    for sig in sigs.values():
        assert set(sig["outputs"]) == OUTPUTS[name]
        for key, (dtype, shape) in sig["outputs"].items():
            assert dtype == ("string" if key.endswith("_label") else "float32")
            assert shape[0] is None and len(shape) == (2 if key in ("answer", "income") else 1)


@pytest.mark.parametrize("name", MODELS)
def test_raw_text_equals_ids_equals_keras(fresh_process, name):
    report, expected = fresh_process
    raw, ids = report[name]["raw"], report[name]["ids"]
    assert raw.keys() == ids.keys()
    for key, value in raw.items():
        if key.endswith("_label"):
            assert value == ids[key]
            continue
        np.testing.assert_allclose(value, ids[key], atol=1e-5, err_msg=key)
        np.testing.assert_allclose(value, expected[name][key], atol=1e-5, err_msg=key)


def test_similarity_export_is_symmetric(fresh_process):
    report, _ = fresh_process
    np.testing.assert_allclose(report["similarity"]["raw"]["similarity"],
                               report["similarity"]["swapped"]["similarity"], atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_labels_match_the_model_card(fresh_process, model_repo, name):
    report, _ = fresh_process
    card = json.loads((model_repo / name / "1" / "assets.extra" / "model_card.json").read_text())
    out = report[name]["raw"]
    for head in card["heads"]:
        if head["labels"] is None:
            assert f"{head['name']}_label" not in out
            continue
        labels, values = out[f"{head['name']}_label"], np.array(out[head["name"]])
        if head["kind"] == "multiclass":
            assert labels == [head["labels"][i] for i in values.argmax(axis=1)]
        else:
            assert labels == [head["labels"][int(p >= 0.5)] for p in values]


def test_profiler_age_is_in_years(fresh_process):
    report, _ = fresh_process
    ages = np.array(report["profiler"]["raw"]["age"])
    assert 10 < ages.mean() < 90 and ages.std() > 0


@pytest.mark.parametrize("name", MODELS)
def test_model_card_and_layout(model_repo, trained_runs, name):
    version_dir = model_repo / name / "1"
    assert existing_versions(model_repo / name) == [1]
    for f in ("saved_model.pb", "variables/variables.index", "assets/vocab.txt"):
        assert (version_dir / f).is_file(), f
    card = json.loads((version_dir / "assets.extra" / "model_card.json").read_text())
    assert card["name"] == name and card["version"] == 1
    assert card["signatures"] == ["serving_default", "ids"]
    assert {i["name"] for i in card["inputs"]} == {i["name"] for i in card["id_inputs"]}
    heads = {h["name"]: h for h in card["heads"]}
    assert set(heads) == {k for k in OUTPUTS[name] if not k.endswith("_label")}
    assert all(h["kind"] in ("regression", "binary", "multiclass") for h in heads.values())
    assert card["metrics"]["validation"] == trained_runs[name]["validation"]
    assert card["framework"]["tensorflow"].startswith("2.")
    for text in (i for i in card["inputs"] if i["kind"] == "text"):
        assert text["dtype"] == "string" and text["max_tokens"] > 0 and text["vocab_size"] > 2
    ids = {i["name"]: i for i in card["id_inputs"]}
    for text in (i for i in card["inputs"] if i["kind"] == "text"):
        # The gateway rejects token ids outside [0, vocab_size) on the `ids` signature.
        assert ids[text["name"]]["vocab_size"] == text["vocab_size"]
    if name == "profiler":
        assert heads["age"]["unit"] == "years" and heads["gender"]["labels"] == ["female", "male"]
        assert [heads[h]["loss_weight"] for h in ("age", "income", "gender")] == [0.25, 1, 10]
    if shutil.which("dot"):
        assert (version_dir / "assets.extra" / "model.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", MODELS)
def test_warmup_file_is_prediction_logs(model_repo, name):
    logs = read_warmup(model_repo / name / "1" / "assets.extra" / WARMUP_FILE)
    assert len(logs) >= 2
    card = json.loads((model_repo / name / "1" / "assets.extra" / "model_card.json").read_text())
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == name
        assert request.model_spec.signature_name == "serving_default"
        inputs = request_inputs(log)
        assert set(inputs) == {i["name"] for i in card["inputs"]}
        assert len({len(v) for v in inputs.values()}) == 1


@pytest.mark.parametrize("name", MODELS)
def test_export_stores_weights_once(trained_runs, keras_side, name):
    from training.export import load_run

    _, model, _ = load_run(trained_runs[name]["run_dir"])
    weight_bytes = sum(np.asarray(w).nbytes for w in model.weights)
    size = export_size(trained_runs[name]["path"])
    assert size["variables"] <= 1.2 * weight_bytes, (size, weight_bytes)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_exporting_twice_adds_a_version_and_leaves_the_first(trained_runs, tmp_path):
    run_dir = trained_runs["headline"]["run_dir"]
    first = export_run(run_dir, tmp_path, plot=False)
    before = _digest(first.path)
    # Neither a stray temporary export nor a non-numeric directory is a version.
    (tmp_path / "headline" / ".tmp-export-crashed").mkdir()
    (tmp_path / "headline" / "notes").mkdir()
    second = export_run(run_dir, tmp_path, plot=False)
    assert (first.version, second.version) == (1, 2)
    assert _digest(first.path) == before
    card = json.loads((second.path / "assets.extra" / "model_card.json").read_text())
    assert card["version"] == 2
    # An existing version is skipped, never overwritten.
    (tmp_path / "headline" / "3").mkdir()
    (tmp_path / "headline" / "3" / "keep").write_text("x")
    third = export_run(run_dir, tmp_path, plot=False)
    assert third.version == 4 and (tmp_path / "headline" / "3" / "keep").read_text() == "x"
    assert existing_versions(tmp_path / "headline") == [1, 2, 3, 4]
    leftovers = [p.name for p in (tmp_path / "headline").iterdir() if p.name.startswith(".tmp")]
    assert leftovers == [".tmp-export-crashed"]


def test_export_of_an_unfinished_run_fails_clearly(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        export_run(tmp_path / "run", tmp_path / "models")
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("name", MODELS)
def test_a_batch_of_texts_without_tokens_is_answered(model_repo, name):
    """Empty or punctuation-only text has no token; the graph still needs one step."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(model_repo / name / "1")).signatures["serving_default"]
    feed = {}
    for key, spec in serve.structured_input_signature[1].items():
        if spec.dtype == tf.string:
            feed[key] = tf.constant(["", "?!"])
        else:
            feed[key] = tf.zeros([2, *spec.shape[1:]], spec.dtype)
    for key, value in serve(**feed).items():
        if value.dtype != tf.string:
            assert np.isfinite(value.numpy()).all(), key


@pytest.mark.parametrize("name", MODELS)
def test_card_gives_each_id_input_its_vocabulary_size(name):
    from training.export import model_card
    from training.models import default_config

    card = model_card(default_config(name), 1, 123, {})
    texts = [i["name"] for i in card["inputs"] if i["kind"] == "text"]
    assert texts
    for item in card["id_inputs"]:
        if item["name"] in texts:
            assert item["vocab_size"] == 123 and item["padded_sequence"] is True
        else:
            assert "vocab_size" not in item
