"""TensorBoard's embedding projector in every text model's run: the config, metadata and
checkpoint training/projector.py writes, read back, and served by TensorBoard's own
projector plugin (what `make tensorboard` shows). Uses the session's trained test models
(tests/conftest.py); about 2 s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _projector(run_dir: Path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import ProjectorConfig

    train = run_dir / "logs" / "train"
    return train, text_format.Parse((train / "projector_config.pbtxt").read_text(),
                                    ProjectorConfig())


@pytest.mark.parametrize("name, layers", [
    ("similarity", ["encoder_embedding"]),                     # inside the shared encoder
    ("qa", ["question_embedding", "text_embedding"]),          # one per encoder
    ("profiler", ["embedding"]),
])
def test_text_runs_write_the_projector(trained_runs, name: str, layers: list[str]) -> None:
    import tensorflow as tf

    run_dir = Path(trained_runs[name]["run_dir"])
    train, config = _projector(run_dir)
    vocab = (run_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert sorted(e.tensor_name.split("/")[0] for e in config.embeddings) == layers
    metadata = (train / "metadata.tsv").read_text(encoding="utf-8").split("\n")[:-1]
    assert metadata[0] == "[PAD]" and metadata[1:] == vocab[1:]
    # The latest checkpoint holds exactly these embeddings, one row per vocabulary entry.
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(train)))
    shapes = {k: v for k, v in reader.get_variable_to_shape_map().items() if len(v) == 2}
    assert sorted(shapes) == sorted(e.tensor_name for e in config.embeddings)
    assert all(shape[0] == len(vocab) for shape in shapes.values())


def test_tensorboards_projector_plugin_serves_them(trained_runs) -> None:
    # TensorBoard's own projector plugin (what `make tensorboard` mounts), over the
    # similarity run's logs, through its HTTP routes, in this process.
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector import projector_plugin
    from werkzeug.test import Client

    run_dir = Path(trained_runs["similarity"]["run_dir"])
    logdir = str(run_dir / "logs")
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    plugin = projector_plugin.ProjectorPlugin(base_plugin.TBContext(
        logdir=logdir, multiplexer=multiplexer,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, logdir)))
    routes = plugin.get_plugin_apps()

    def get(route: str, **params: str):
        return Client(routes[route]).get(route, query_string=params)

    assert "train" in get("/runs").get_json()
    (embedding,) = get("/info", run="train").get_json()["embeddings"]
    vocab = (run_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert embedding["tensorName"].startswith("encoder_embedding/")
    dim = json.loads((run_dir / "config.json").read_text())["embedding_dim"]
    assert embedding["tensorShape"] == [len(vocab), dim]
    meta = get("/metadata", run="train", name=embedding["tensorName"]).get_data(as_text=True)
    assert meta.split("\n")[1:len(vocab)] == vocab[1:]
    tensor = get("/tensor", run="train", name=embedding["tensorName"]).get_data()
    assert len(tensor) == len(vocab) * dim * 4  # float32 rows, as the projector draws them
