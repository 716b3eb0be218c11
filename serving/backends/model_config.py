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

With `MULTIHEAD_MODEL_CONTROL_MODE=explicit` the same file is the gateway's effective
configuration: model management writes it whole and atomically (`write_model_config`:
a temporary file beside it, then a rename, so a reader sees the old file or the new one),
and every worker reads it (`read_snapshot`), telling versions apart by the digest of its
bytes. TF Serving's rules for a new config (`check_model_config_list`) are here too.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from serving.errors import FailedPrecondition, InvalidInput


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
    return entries_from_proto(config, source, config_dir)


def entries_from_proto(config: Any, source: str = "<model config>",
                       config_dir: str = ".") -> dict[str, ModelEntry]:
    """Entries by model name from a `ModelServerConfig` message."""
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


# -- the effective configuration (model control mode `explicit`) ----------------------------


@dataclass(frozen=True)
class ConfigSnapshot:
    """The config file as one reader saw it: `digest` of its bytes ("" when it does not
    exist) and its entries."""

    digest: str
    entries: Mapping[str, ModelEntry]


def read_snapshot(path: str, missing_ok: bool = False) -> ConfigSnapshot:
    """The file's entries and digest; a missing file is an empty list when `missing_ok`
    (explicit mode before the first change), else a ModelConfigError."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        if missing_ok:
            return ConfigSnapshot("", {})
        raise ModelConfigError(f"cannot read model config {path}: no such file") from None
    except OSError as exc:
        raise ModelConfigError(f"cannot read model config {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelConfigError(f"model config {path} is not UTF-8 text") from None
    entries = parse_model_config_text(text, source=path,
                                      config_dir=os.path.dirname(os.path.abspath(path)))
    return ConfigSnapshot(digest_of(data), entries)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_proto(entries: Mapping[str, ModelEntry]) -> Any:
    """Entries as a `ModelServerConfig` (a model_config_list, sorted by name)."""
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.SetInParent()  # an empty list is still a list
    for name in sorted(entries):
        entry = entries[name]
        model = config.model_config_list.config.add(name=name, base_path=entry.base_path,
                                                    model_platform="tensorflow")
        entry.policy.write(model.model_version_policy)
        for label, version in sorted(entry.version_labels.items()):
            model.version_labels[label] = version
    return config


def config_text(entries: Mapping[str, ModelEntry]) -> str:
    from google.protobuf import text_format

    return text_format.MessageToString(to_proto(entries))


def write_model_config(path: str, text: str) -> str:
    """Replace the file at `path` by `text` atomically; returns the digest of what was
    written. A temporary file in the same directory, flushed to disk, then renamed over
    the old one: a worker reading meanwhile sees one whole file or the other."""
    data = text.encode("utf-8")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".model-config-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    # The rename itself survives a crash once the folder is synced.
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return digest_of(data)


def check_model_config_list(config: Any) -> None:
    """TF Serving's checks of a new `ModelServerConfig`, its codes and sentences
    (InvalidInput = INVALID_ARGUMENT): a model_config_list (model_service_impl.cc,
    HandleReloadConfigRequest), each name once and every base path absolute
    (server_core.cc, ValidateModelConfigList), a platform, and only `tensorflow`
    (server_core.cc, GetPlatform and CreateStoragePathRoutes)."""
    if config.WhichOneof("config") != "model_config_list":
        raise InvalidInput("ServerModelConfig type not supported by HandleReloadConfigRequest. "
                           "Only ModelConfigList is currently supported")
    seen: set[str] = set()
    for model in config.model_config_list.config:
        if model.name in seen:
            raise InvalidInput(f"Illegal to list model {model.name} multiple times in config "
                               "list")
        seen.add(model.name)
        if not model.name:
            raise InvalidInput("model_config_list.config[].name must be a non-empty string.")
    for model in config.model_config_list.config:
        if not _is_absolute(model.base_path):
            raise InvalidInput(f"Expected model {model.name} to have an absolute path or URI; "
                               f"got base_path()={model.base_path}")
    for model in config.model_config_list.config:
        if not model.model_platform:
            raise InvalidInput("Illegal setting neither ModelServerConfig::model_type "
                               "(deprecated) nor ModelServerConfig::model_platform.")
        if model.model_platform != "tensorflow":
            raise InvalidInput(f"Model {model.name} requests unsupported platform "
                               f"{model.model_platform}")


def _is_absolute(base_path: str) -> bool:
    # TF Serving's UriIsRelativePath: a scheme (gs://, s3://) or an absolute path.
    return "://" in base_path or os.path.isabs(base_path)


def base_path_for(name: str, entries: Mapping[str, ModelEntry], model_dir: str) -> str:
    """Where a model that the config does not list yet lives: beside the configured ones
    when they all share one folder (a config written for TF Serving's /models mount),
    else under the gateway's model repository."""
    parents = {os.path.dirname(e.base_path.rstrip("/")) for e in entries.values()}
    if len(parents) == 1:
        (parent,) = parents
        if parent:
            return f"{parent}/{name}"
    return os.path.join(os.path.abspath(model_dir), name)


def check_version_labels(current: Mapping[str, ModelEntry], new: Mapping[str, ModelEntry],
                         available: Mapping[str, Iterable[int]],
                         allow_unavailable: bool = False) -> None:
    """TF Serving's rule for the labels of a new config (server_core.cc,
    UpdateModelVersionLabelMap): a label may name only a version that is AVAILABLE now,
    before anything of the new config loads. With `allow_unavailable`
    (--allow_version_labels_for_unavailable_models) a new label, or one that keeps its
    version, may name any version; moving an existing label still needs an AVAILABLE one."""
    for name, entry in new.items():
        served = set(available.get(name, ()))
        old = current[name].version_labels if name in current else {}
        for label, version in entry.version_labels.items():
            exempt = allow_unavailable and old.get(label, version) == version
            if not exempt and version not in served:
                raise FailedPrecondition(f"Request to assign label to version {version} of "
                                         f"model {name}, which is not currently available "
                                         "for inference")
