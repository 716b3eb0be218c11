"""TF Serving's model config file (`--model_config_file`), read by the embedded runtime.

The same text-format `ModelServerConfig` TF Serving reads in production:

    model_config_list {
      config {
        name: "profiler"  base_path: "/models/profiler"  model_platform: "tensorflow"
        model_version_policy { latest { num_versions: 2 } }   # or all {} / specific {versions: 1}
        version_labels { key: "stable" value: 1 }
      }
    }

Parsed with TF Serving's own generated protos (tensorflow-serving-api), so any
file TF Serving accepts parses here. Importing those protos imports TensorFlow:
call `parse_model_config` only after the backend started (never in a gunicorn
master).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VersionPolicy:
    """Which on-disk versions to serve (TF Serving's ServableVersionPolicy)."""

    kind: str = "latest"  # latest | all | specific
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def select(self, on_disk: Iterable[int]) -> list[int]:
        available = sorted(set(on_disk))
        if self.kind == "all":
            return available
        if self.kind == "specific":
            wanted = set(self.versions)
            return [v for v in available if v in wanted]
        return available[-max(self.num_versions, 1):] if available else []

    def write(self, proto: Any) -> None:
        """Into a `ServableVersionPolicy` message: the inverse of `_policy`."""
        if self.kind == "all":
            proto.all.SetInParent()
        elif self.kind == "specific":
            proto.specific.versions.extend(sorted(self.versions))
        else:
            proto.latest.num_versions = self.num_versions

    def describe(self) -> str:
        if self.kind == "specific":
            return "specific versions " + ", ".join(str(v) for v in self.versions)
        if self.kind == "latest":
            return f"latest {self.num_versions}"
        return "all versions"


# Without a config file the embedded runtime serves every version on disk (so that
# `/versions/N` answers for each export); TF Serving's own default is `latest 1`.
DEFAULT_POLICY = VersionPolicy(kind="all")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    base_path: str
    policy: VersionPolicy = DEFAULT_POLICY
    version_labels: Mapping[str, int] = field(default_factory=dict)


class ModelConfigError(ValueError):
    """The model config file cannot be used; the message names the file and the problem."""


def parse_model_config_text(text: str, source: str = "<model config>",
                            config_dir: str = ".") -> dict[str, ModelEntry]:
    """Entries by model name from the text of a ModelServerConfig."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ModelConfigError(f"{source} is not a valid TF Serving model config: {exc}") from None
    if config.WhichOneof("config") != "model_config_list":
        raise ModelConfigError(f"{source} must hold a model_config_list.")
    entries: dict[str, ModelEntry] = {}
    for cfg in config.model_config_list.config:
        if not cfg.name:
            raise ModelConfigError(f"{source}: every config needs a name.")
        if cfg.name in entries:
            raise ModelConfigError(f"{source}: model {cfg.name!r} is configured twice.")
        if cfg.model_platform not in ("", "tensorflow"):
            raise ModelConfigError(f"{source}: model {cfg.name!r} has model_platform "
                                   f"{cfg.model_platform!r}; only 'tensorflow' is served.")
        base_path = cfg.base_path
        if base_path and not os.path.isabs(base_path):
            base_path = os.path.normpath(os.path.join(config_dir, base_path))
        entries[cfg.name] = ModelEntry(
            name=cfg.name,
            base_path=base_path,
            policy=_policy(cfg.model_version_policy),
            version_labels={str(k): int(v) for k, v in sorted(cfg.version_labels.items())},
        )
    return entries


def parse_model_config(path: str) -> dict[str, ModelEntry]:
    """Entries by model name from a model config file; relative base paths are
    resolved against the file's directory."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ModelConfigError(f"cannot read model config {path}: {exc.strerror}") from None
    return parse_model_config_text(text, source=path,
                                   config_dir=os.path.dirname(os.path.abspath(path)))


def _policy(proto) -> VersionPolicy:  # noqa: ANN001 - generated protobuf type
    choice = proto.WhichOneof("policy_choice")
    if choice == "all":
        return VersionPolicy(kind="all")
    if choice == "specific":
        versions = tuple(int(v) for v in proto.specific.versions)
        return VersionPolicy(kind="specific", versions=versions)
    if choice == "latest":
        # TF Serving treats an unset num_versions as 1.
        return VersionPolicy(kind="latest", num_versions=int(proto.latest.num_versions) or 1)
    # A config that names no policy gets TF Serving's default: the latest version.
    return VersionPolicy(kind="latest", num_versions=1)
