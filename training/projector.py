"""TensorBoard's embedding projector for a run's word embeddings.

The course's TensorBoard example turns on `embeddings_freq=1`. Keras 3's TensorBoard
callback still takes the argument but writes a `.weights.h5` file the projector cannot
read, and looks only at top-level `Embedding` layers (the similarity model's sits inside
its shared encoder). `EmbeddingProjector` writes what TensorBoard's projector plugin
reads (tensorboard/plugins/projector/projector_plugin.py), into `logs/train/` (the run
Keras' own TensorBoard callback writes its training events to):

- `projector_config.pbtxt`: one embedding per `Embedding` layer of the model, nested
  models included, each with the vocabulary as its metadata;
- `metadata.tsv`: the run's vocabulary, one token per line (line = token id; the
  padding id 0 shows as `[PAD]`);
- `embeddings-N.*`: a TensorFlow checkpoint holding only those embeddings' rows of the
  vocabulary (the plugin shows every 2-D tensor of the latest checkpoint), written every
  `freq` epochs, the latest kept.

`make tensorboard` (or `tensorboard --logdir runs`) shows them under "Projector".
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

PROJECTOR_RUN = "train"          # under the run's logs/
CONFIG_FILE = "projector_config.pbtxt"
METADATA_FILE = "metadata.tsv"
CHECKPOINT_PREFIX = "embeddings"
PAD_LABEL = "[PAD]"


def embedding_layers(model: keras.Model, prefix: str = "") -> dict[str, keras.layers.Embedding]:
    """Path ("encoder/embedding") -> every Embedding layer, nested models included."""
    found: dict[str, keras.layers.Embedding] = {}
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.layers.Embedding):
            found[path] = layer
        elif isinstance(layer, keras.Model):
            found.update(embedding_layers(layer, path + "/"))
    return found


def checkpoint_key(path: str) -> str:
    """A layer path as a checkpoint attribute name (the projector's tensor name prefix)."""
    return path.replace("/", "_")


def tensor_name(path: str) -> str:
    return f"{checkpoint_key(path)}/.ATTRIBUTES/VARIABLE_VALUE"


class EmbeddingProjector(keras.callbacks.Callback):
    """Writes the projector's config, metadata and embedding checkpoint (see module doc)."""

    def __init__(self, log_dir: str | Path, vocabulary: list[str], freq: int = 1) -> None:
        super().__init__()
        self.dir = Path(log_dir) / PROJECTOR_RUN
        self.vocabulary, self.freq = list(vocabulary), freq
        self._layers: dict[str, keras.layers.Embedding] = {}
        self._manager: tf.train.CheckpointManager | None = None
        self._variables: dict[str, tf.Variable] = {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        from google.protobuf import text_format
        from tensorboard.plugins import projector

        # Word embeddings: one row per id of the vocabulary (at least).
        self._layers = {p: layer for p, layer in embedding_layers(self.model).items()
                        if layer.input_dim >= len(self.vocabulary)}
        if not self._layers:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        rows = [PAD_LABEL if i == 0 else (str(t) or PAD_LABEL)
                for i, t in enumerate(self.vocabulary)]
        (self.dir / METADATA_FILE).write_text("\n".join(rows) + "\n", encoding="utf-8")
        config = projector.ProjectorConfig()
        for path in self._layers:
            embedding = config.embeddings.add()
            embedding.tensor_name = tensor_name(path)
            embedding.metadata_path = METADATA_FILE
        (self.dir / CONFIG_FILE).write_text(text_format.MessageToString(config))
        # Plain variables of the vocabulary's rows: the checkpoint holds nothing else.
        self._variables = {checkpoint_key(p): tf.Variable(self._rows(layer), trainable=False)
                           for p, layer in self._layers.items()}
        self._manager = tf.train.CheckpointManager(
            tf.train.Checkpoint(**self._variables), str(self.dir), max_to_keep=1,
            checkpoint_name=CHECKPOINT_PREFIX)

    def _rows(self, layer: keras.layers.Embedding) -> tf.Tensor:
        return tf.convert_to_tensor(layer.embeddings)[: len(self.vocabulary)]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._manager is None or (epoch + 1) % self.freq:
            return
        for path, layer in self._layers.items():
            self._variables[checkpoint_key(path)].assign(self._rows(layer))
        self._manager.save(checkpoint_number=epoch + 1)
