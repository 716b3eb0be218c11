"""What a model's room declares: the one object the rest of `training` reads about a model.

A model lives in one folder, `training/models/NAME/` (its room), whose `__init__.py`
binds `ROOM = Room(...)`:

- `model.py`: `DESCRIPTION`, `INPUTS` (name -> kind `text | float | image`),
  `HEADS` (name -> kind `regression | binary | multiclass`) and `build_model(cfg)`;
- `config.py`: the config dataclass (a `training.config.ModelConfig`) and `TEST_PRESET`,
  the smaller sizes of the test suite's preset;
- `data.py`: the seeded synthetic generator `(n, seed) -> Examples` (and other sources
  a config's `source` field may name);
- `loader.py` (when the model reads files): a `FileLoader`;
- the demo requests (`Example`), which the export writes into the model card and the
  gateway's demo prints as curl lines.

`training.models` discovers every room (no list to edit): the CLI, training, tuning,
export, the model card and the gateway's demo pick a new room up as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import ModelConfig
from training.data.examples import Examples

Generator = Callable[[int, int], Examples]
INPUT_KINDS = ("text", "float", "image")
HEAD_KINDS = ("regression", "binary", "multiclass")
SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class FileLoader:
    """Reads a user's data file (`train --data FILE`) into Examples."""

    suffixes: tuple[str, ...]            # accepted file suffixes, lower case (".jsonl")
    read: Callable[[Path], Examples]     # raises training.data.files.DataFileError


@dataclass(frozen=True)
class Example:
    """One demo request: `protocol` (tfserving, v2, multihead), the REST `path` (`{name}`
    is the served model's name) and the JSON `body`, exactly as a client sends it."""

    protocol: str
    path: str
    body: Mapping[str, Any]

    def for_model(self, name: str) -> dict[str, Any]:
        """The card's form: the path with the served name filled in."""
        return {"protocol": self.protocol, "path": self.path.replace("{name}", name),
                "body": self.body}


@dataclass(frozen=True)
class Room:
    name: str
    description: str
    inputs: Mapping[str, Mapping[str, Any]]
    heads: Mapping[str, Mapping[str, Any]]
    config: type[ModelConfig]
    build: Callable[[Any], Any]                       # cfg -> keras.Model
    # source name -> generator; SYNTHETIC is the one used when the config names none
    sources: Mapping[str, Generator]
    test_preset: Mapping[str, Any] = field(default_factory=dict)
    loader: FileLoader | None = None
    # the demo requests, or a function that makes them (pictures are made, not written)
    examples: Sequence[Example] | Callable[[], Sequence[Example]] = ()
    # trained and exported by `python -m training all` (else on request, like price)
    default: bool = False
    # start some weights from the data before training (similarity: word vectors)
    initialize: Callable[[Any, Any, list[str]], None] | None = None
    # (cfg, the vocabulary adapted on the training data) -> the model's vocabulary
    # (similarity: topped up with everyday English words its frozen vectors cover)
    complete_vocabulary: Callable[[Any, list[str]], list[str]] | None = None

    def __post_init__(self) -> None:
        for name, spec in self.inputs.items():
            if spec.get("kind") not in INPUT_KINDS:
                raise ValueError(f"room {self.name}: input {name!r} kind must be one of "
                                 f"{INPUT_KINDS}")
        for name, spec in self.heads.items():
            if spec.get("kind") not in HEAD_KINDS:
                raise ValueError(f"room {self.name}: head {name!r} kind must be one of "
                                 f"{HEAD_KINDS}")
        if SYNTHETIC not in self.sources:
            raise ValueError(f"room {self.name}: sources must include {SYNTHETIC!r}")
        if self.config.model != self.name:
            raise ValueError(f"room {self.name}: its config is for {self.config.model!r}")

    def inputs_of(self, kind: str) -> list[str]:
        return [n for n, s in self.inputs.items() if s["kind"] == kind]

    def demo_requests(self) -> tuple[Example, ...]:
        made = self.examples() if callable(self.examples) else self.examples
        return tuple(made)
