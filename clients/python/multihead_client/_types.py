"""Result types: frozen dataclasses with short, readable reprs (floats to 4 digits)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "Head",
    "LabelProbability",
    "ModelInfo",
    "ModelMetadata",
    "ModelVersion",
    "Profile",
    "ScoredAnswer",
    "SignatureInfo",
    "TensorSpec",
]


def _f(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True, repr=False)
class LabelProbability:
    """A classification head's answer: the most likely `label`, its `probability`,
    and the whole `distribution` (label -> probability; empty for binary heads)."""

    label: str
    probability: float
    distribution: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Most likely first, whatever order the wire (a proto map) delivered.
        ordered = dict(sorted(self.distribution.items(), key=lambda kv: (-kv[1], kv[0])))
        object.__setattr__(self, "distribution", ordered)

    def __repr__(self) -> str:
        dist = ", ".join(f"{k!r}: {_f(v)}" for k, v in self.distribution.items())
        tail = f", distribution={{{dist}}}" if dist else ""
        return f"LabelProbability(label={self.label!r}, probability={_f(self.probability)}{tail})"


@dataclass(frozen=True, repr=False)
class Profile:
    """One author's profile from the `profiler` model: `age` in years, `income` band,
    `gender`; `model_version` is the version that answered."""

    age: float
    income: LabelProbability
    gender: LabelProbability
    model_version: int | None = None

    def __repr__(self) -> str:
        return (f"Profile(age={_f(self.age)}, income={self.income!r}, gender={self.gender!r}, "
                f"model_version={self.model_version})")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], model_version: int | None = None) -> Profile:
        """Build from the REST shape {"age", "income": {...}, "gender": {...}}."""
        def lp(d: Mapping[str, Any]) -> LabelProbability:
            dist = {str(k): float(v) for k, v in (d.get("distribution") or {}).items()}
            return LabelProbability(str(d["label"]), float(d["probability"]), dist)

        return cls(float(data["age"]), lp(data["income"]), lp(data["gender"]), model_version)


@dataclass(frozen=True, repr=False)
class ScoredAnswer:
    """One candidate answer word and its score (probability)."""

    answer: str
    score: float

    def __repr__(self) -> str:
        return f"ScoredAnswer({self.answer!r}, {_f(self.score)})"


@dataclass(frozen=True, repr=False)
class Answer:
    """The `qa` model's answer: candidates best first; `best` is the top word."""

    answers: tuple[ScoredAnswer, ...]
    model_version: int | None = None

    @property
    def best(self) -> str:
        """The most likely answer word ("" when there is none)."""
        return self.answers[0].answer if self.answers else ""

    @property
    def score(self) -> float:
        """The score of `best` (0.0 when there is no answer)."""
        return self.answers[0].score if self.answers else 0.0

    def __repr__(self) -> str:
        words = ", ".join(f"({a.answer!r}, {_f(a.score)})" for a in self.answers)
        return f"Answer(best={self.best!r}, answers=[{words}], model_version={self.model_version})"


@dataclass(frozen=True)
class Head:
    """One output head: `kind` is regression, binary or multiclass; `labels` for classes."""

    name: str
    kind: str = ""
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelVersion:
    """A version of a model and its state (AVAILABLE, LOADING, ...)."""

    version: int
    state: str


@dataclass(frozen=True)
class ModelInfo:
    """A served model: its versions, input names, heads and version labels."""

    name: str
    versions: tuple[ModelVersion, ...] = ()
    inputs: tuple[str, ...] = ()
    heads: tuple[Head, ...] = ()
    version_labels: Mapping[str, int] = field(default_factory=dict)

    @property
    def latest(self) -> int | None:
        """The newest AVAILABLE version, or None."""
        ok = [v.version for v in self.versions if v.state == "AVAILABLE"]
        return max(ok) if ok else None


@dataclass(frozen=True)
class TensorSpec:
    """dtype (numpy-style name, "string" for text/bytes) and shape (None = unknown dim;
    shape None = unknown rank) of a signature input or output."""

    dtype: str
    shape: tuple[int | None, ...] | None


@dataclass(frozen=True)
class SignatureInfo:
    """A signature's named inputs and outputs."""

    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]


@dataclass(frozen=True)
class ModelMetadata:
    """A model version's signatures, heads and (over gRPC, or where the server sends
    it) the export's model card."""

    name: str
    version: int | None
    signatures: Mapping[str, SignatureInfo]
    heads: tuple[Head, ...] = ()
    model_card: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        sigs = ", ".join(self.signatures)
        heads = ", ".join(h.name for h in self.heads)
        return (f"ModelMetadata(name={self.name!r}, version={self.version}, "
                f"signatures=[{sigs}], heads=[{heads}])")
