"""Export a run as `models/NAME/VERSION/`, the layout of docs/model-repository.md.

The SavedModel is written from a `tf.Module` that tracks the Keras model (its
variables once) and the vocabulary asset, with `tf.saved_model.save(...,
signatures=...)`. Keras' own `model.export` is not used: it tracks every
variable a second time (`_all_variables`, keras-team/keras#23553).

Signatures (same input names and output keys in both):
- `serving_default`: raw text (`tf.string [batch]`) and floats; tokenized in
  the graph with the run's vocabulary, truncated (and, for the profiler,
  padded) to the input's `max_tokens`;
- `ids`: int32 token ids `[batch, None]`, truncated/padded the same way; ids
  outside the vocabulary count as out-of-vocabulary (1).
Picture inputs (kind `image`, the `price` model) are JPEG/PNG bytes
(`tf.string [batch]`) in both signatures, decoded and resized in the graph
(training/images.py).
Outputs: one key per head, scalar heads squeezed to `[batch]`, regression heads
in their unit (the model's normalized output de-normalized), plus `H_label`
strings for classification heads with labels.

The version directory is written as `models/NAME/.tmp-export-XXXX/` and renamed
to the next free integer; an existing version is never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from training import config as config_mod
from training.callbacks import BEST_WEIGHTS
from training.config import ModelConfig
from training.images import decode_pictures
from training.images import write_warmup as write_image_warmup
from training.models import build_model, model_module
from training.text import (
    OOV_ID,
    VocabularyLookup,
    fit_length,
    load_vocabulary,
    write_lookup_vocabulary,
)
from training.train import CONFIG_JSON, EXAMPLES_JSON, LOSSES, METRICS_JSON, VOCAB_TXT
from training.warmup import WARMUP_FILE, write_warmup

SIGNATURES = ("serving_default", "ids")
CARD_FILE = "model_card.json"


@dataclass
class ExportResult:
    name: str
    version: int
    path: Path
    signatures: list[str]
    card: dict[str, Any]


class ServingModule(tf.Module):
    """What the SavedModel holds: the Keras model, the vocabulary and the head labels."""

    def __init__(self, model: keras.Model, cfg: ModelConfig, vocab_path: Path,
                 vocab_size: int) -> None:
        super().__init__(name=f"{cfg.model}_serving")
        module = model_module(cfg.model)
        self.model = model
        self.lookup = VocabularyLookup(vocab_path)
        self._cfg = cfg
        self._vocab_size = vocab_size
        self._inputs = module.INPUTS
        self._heads = module.HEADS
        self.serve = tf.function(self._serve, input_signature=[self._specs(tf.string)])
        self.serve_ids = tf.function(self._serve_ids, input_signature=[self._specs(tf.int32)])

    def _specs(self, text_dtype: tf.DType) -> dict[str, tf.TensorSpec]:
        specs = {}
        for name, spec in self._inputs.items():
            if spec["kind"] == "text":
                shape = [None] if text_dtype == tf.string else [None, None]
                specs[name] = tf.TensorSpec(shape, text_dtype, name=name)
            elif spec["kind"] == "image":  # encoded bytes in both signatures
                specs[name] = tf.TensorSpec([None], tf.string, name=name)
            else:
                specs[name] = tf.TensorSpec([None, *spec["shape"]], tf.float32, name=name)
        return specs

    def _serve(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        ids = {name: (self.lookup(value) if self._inputs[name]["kind"] == "text" else value)
               for name, value in inputs.items()}
        return self._serve_ids(ids)

    def _serve_ids(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        cfg = self._cfg
        feed = {}
        for name, value in inputs.items():
            if value.dtype == tf.int32:
                valid = (value >= 0) & (value < self._vocab_size)
                value = tf.where(valid, value, tf.constant(OOV_ID, tf.int32))
                value = fit_length(value, cfg.max_tokens[name], cfg.pad_to_max)
            elif self._inputs[name]["kind"] == "image":
                value = decode_pictures(value, cfg.image_size)
            feed[name] = value
        raw = self.model(feed, training=False)
        out = {}
        for head, spec in self._heads.items():
            value = tf.convert_to_tensor(raw[head])
            if spec["kind"] != "multiclass":
                value = tf.squeeze(value, axis=-1)
            if head in cfg.target_scaling:
                mean, std = cfg.target_scaling[head]
                value = value * std + mean
            out[head] = value
            labels = cfg.labels.get(head)
            if labels and spec["kind"] == "multiclass":
                out[f"{head}_label"] = tf.gather(tf.constant(labels), tf.argmax(value, axis=-1))
            elif labels and spec["kind"] == "binary":
                out[f"{head}_label"] = tf.where(value >= 0.5, labels[1], labels[0])
        return out


def load_run(run_dir: str | Path) -> tuple[ModelConfig, keras.Model, list[str]]:
    """(config, Keras model with the run's best weights, vocabulary) of a finished run."""
    run_dir = Path(run_dir)
    for needed in (CONFIG_JSON, VOCAB_TXT, BEST_WEIGHTS):
        if not (run_dir / needed).is_file():
            raise FileNotFoundError(f"{run_dir} is not a finished run: {needed} is missing")
    cfg = config_mod.load_config(run_dir / CONFIG_JSON)
    model = build_model(cfg.model, cfg)
    model.load_weights(run_dir / BEST_WEIGHTS)
    return cfg, model, load_vocabulary(run_dir / VOCAB_TXT)


def model_card(cfg: ModelConfig, version: int, vocab_size: int,
               run_metrics: dict[str, Any]) -> dict[str, Any]:
    module = model_module(cfg.model)
    inputs, id_inputs = [], []
    for name, spec in module.INPUTS.items():
        if spec["kind"] == "text":
            mt = cfg.max_tokens[name]
            inputs.append({"name": name, "kind": "text", "dtype": "string", "max_tokens": mt,
                           "vocab_size": vocab_size, "description": spec["description"]})
            # vocab_size: the gateway rejects ids outside [0, vocab_size) on `ids`.
            id_inputs.append({"name": name, "dtype": "int32", "padded_sequence": True,
                              "max_tokens": mt, "vocab_size": vocab_size})
        elif spec["kind"] == "image":
            image = {"name": name, "kind": "image", "dtype": "string",
                     "formats": ["jpeg", "png"], "size": [cfg.image_size, cfg.image_size],
                     "description": spec["description"]}
            inputs.append(image)
            id_inputs.append({**image, "padded_sequence": False})
        else:
            inputs.append({"name": name, "kind": "float", "dtype": "float32",
                           "shape": spec["shape"], "description": spec["description"]})
            id_inputs.append({"name": name, "dtype": "float32", "padded_sequence": False,
                              "shape": spec["shape"]})
    heads = []
    for name, spec in module.HEADS.items():
        head = {"name": name, "kind": spec["kind"], "labels": cfg.labels.get(name),
                "loss": LOSSES[spec["kind"]], "loss_weight": float(cfg.loss_weights.get(name, 1)),
                "description": spec["description"]}
        if spec.get("unit"):
            head["unit"] = spec["unit"]
        heads.append(head)
    data = dict(run_metrics.get("data", {}))
    return {
        "name": cfg.model, "version": version, "description": module.DESCRIPTION,
        "inputs": inputs, "id_inputs": id_inputs, "heads": heads,
        "signatures": list(SIGNATURES),
        "metrics": {"validation": run_metrics.get("validation", {}),
                    "test": run_metrics.get("test", {}),
                    "baseline": run_metrics.get("baseline", {}).get("validation", {})},
        "data": data,
        # The validation split's head and input distributions (training/drift_stats.py).
        "drift": run_metrics.get("drift"),
        "framework": {"tensorflow": tf.__version__, "keras": keras.__version__,
                      "python": platform.python_version()},
        "config": cfg.to_dict(),
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def existing_versions(model_path: Path) -> list[int]:
    if not model_path.is_dir():
        return []
    return sorted(int(p.name) for p in model_path.iterdir()
                  if p.is_dir() and p.name.isdigit() and int(p.name) > 0)


def _plot(model: keras.Model, path: Path) -> None:
    try:
        # Layer names show the inputs and heads by name; dpi 96 keeps it screen-sized.
        keras.utils.plot_model(model, to_file=str(path), show_shapes=True,
                               show_layer_names=True, dpi=96)
    except Exception as exc:  # pydot or graphviz missing or broken: the picture is optional
        warnings.warn(f"model.png skipped: {exc}", stacklevel=2)


def export_run(run_dir: str | Path, model_dir: str | Path, *, name: str | None = None,
               plot: bool = True) -> ExportResult:
    run_dir = Path(run_dir)
    cfg, model, vocab = load_run(run_dir)
    name = name or cfg.model
    metrics_path = run_dir / METRICS_JSON
    run_metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    model_path = Path(model_dir) / name
    model_path.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-export-", dir=model_path))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; servers may run as another user
    try:
        with tempfile.TemporaryDirectory() as scratch:
            # The asset keeps its file name under assets/.
            vocab_file = Path(scratch) / VOCAB_TXT
            write_lookup_vocabulary(vocab, vocab_file)
            serving = ServingModule(model, cfg, vocab_file, len(vocab))
            signatures = {"serving_default": serving.serve.get_concrete_function(),
                          "ids": serving.serve_ids.get_concrete_function()}
            tf.saved_model.save(serving, str(tmp), signatures=signatures)
        extra = tmp / "assets.extra"
        extra.mkdir()
        examples_path = run_dir / EXAMPLES_JSON
        pictures = [n for n, s in model_module(cfg.model).INPUTS.items() if s["kind"] == "image"]
        if examples_path.is_file() and pictures:
            write_image_warmup(extra / WARMUP_FILE, name, json.loads(examples_path.read_text()),
                               pictures, cfg.image_size)
        elif examples_path.is_file():
            write_warmup(extra / WARMUP_FILE, name, json.loads(examples_path.read_text()))
        if plot:
            _plot(model, extra / "model.png")
        return _publish(tmp, model_path, name, cfg, len(vocab), run_metrics)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _publish(tmp: Path, model_path: Path, name: str, cfg: ModelConfig, vocab_size: int,
             run_metrics: dict[str, Any]) -> ExportResult:
    """Rename tmp to the next free version; if another export took it meanwhile, the next."""
    version = max(existing_versions(model_path), default=0) + 1
    while True:
        card = model_card(cfg, version, vocab_size, run_metrics)
        card["name"] = name
        (tmp / "assets.extra" / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        target = model_path / str(version)
        if not target.exists():
            try:
                os.rename(tmp, target)
                return ExportResult(name, version, target, list(SIGNATURES), card)
            except OSError:
                if not target.exists():
                    raise
        version += 1


def export_size(path: str | Path) -> dict[str, int]:
    """Bytes on disk: the whole version, its variables/, and the model's weights."""
    path = Path(path)
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    variables = sum(p.stat().st_size for p in (path / "variables").rglob("*") if p.is_file())
    return {"total": total, "variables": variables}
