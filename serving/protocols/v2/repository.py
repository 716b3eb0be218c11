"""Triton's model repository extension, for both transports: what a load's parameters mean
(triton-inference-server/server docs/protocol/extension_model_repository.md), and the index
as JSON. The core does the work (serving/core/management.py).

A load may carry `parameters.config`: a JSON `inference.ModelConfig` (what tritonclient's
`load_model(name, config=...)` sends). Its `version_policy` (`latest {num_versions}`,
`all {}`, `specific {versions}`) becomes the model's version policy, and its
`parameters.version_labels.string_value` ("stable=1,canary=2"; "" for none) the model's
version labels, the labels TF Serving's clients name (Triton has none). The rest of a
ModelConfig describes what the gateway derives from the SavedModel itself (inputs,
outputs, max_batch_size); it is accepted, so that the JSON of GET .../config can be sent
back, and not used. `name`, when set, must be the model's.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2

from serving.core.management import RepositoryEntry, VersionPolicy
from serving.errors import InvalidInput, quote

CONFIG_PARAMETER = "config"
LABELS_PARAMETER = "version_labels"
UNLOAD_DEPENDENTS = "unload_dependents"


def index_json(entries: list[RepositoryEntry]) -> list[dict[str, str]]:
    """Triton's $repository_index_response: a name-only entry has no version."""
    out = []
    for e in entries:
        item = {"name": e.name}
        if e.version:
            item["version"] = e.version
        item.update(state=e.state, reason=e.reason)
        out.append(item)
    return out


def load_options(name: str, config: str | None, where: str
                 ) -> tuple[VersionPolicy | None, dict[str, int] | None]:
    """The version policy and labels a load's `config` parameter asks for (None: keep)."""
    if config is None:
        return None, None
    parsed = model_config_pb2.ModelConfig()
    try:
        json_format.Parse(config, parsed)
    except json_format.ParseError as exc:
        raise InvalidInput(f"{where} must be the JSON of an inference.ModelConfig: "
                           f"{str(exc).splitlines()[0][:200]}") from None
    if parsed.name and parsed.name != name:
        raise InvalidInput(f"{where}.name {quote(parsed.name)} is not the model being loaded, "
                           f"{quote(name)}.")
    policy = None
    if parsed.HasField("version_policy"):
        policy = _policy(parsed.version_policy, f"{where}.version_policy")
    labels = None
    if LABELS_PARAMETER in parsed.parameters:
        labels = parse_labels(parsed.parameters[LABELS_PARAMETER].string_value,
                              f"{where}.parameters.{LABELS_PARAMETER}.string_value")
    return policy, labels


def _policy(proto: Any, where: str) -> VersionPolicy:
    choice = proto.WhichOneof("policy_choice")
    if choice == "all":
        return VersionPolicy(kind="all")
    if choice == "specific":
        versions = tuple(sorted({int(v) for v in proto.specific.versions}))
        if not versions or versions[0] < 0:
            raise InvalidInput(f"{where}.specific.versions must list one or more versions "
                               "(non-negative integers).")
        return VersionPolicy(kind="specific", versions=versions)
    if choice == "latest":
        if proto.latest.num_versions < 1:
            raise InvalidInput(f"{where}.latest.num_versions must be at least 1.")
        return VersionPolicy(kind="latest", num_versions=int(proto.latest.num_versions))
    raise InvalidInput(f"{where} must hold one of latest, all or specific.")


def parse_labels(text: str, where: str) -> dict[str, int]:
    """"stable=1,canary=2" -> {"stable": 1, "canary": 2}; "" -> {}."""
    labels: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        label, sep, version = part.partition("=")
        label, version = label.strip(), version.strip()
        if not sep or not label or not version.isascii() or not version.isdigit():
            raise InvalidInput(f"{where} must read 'label=version,...' (e.g. "
                               f"'stable=1,canary=2'); got {quote(part)}.")
        if label in labels:
            raise InvalidInput(f"{where} names the label {quote(label)} twice.")
        labels[label] = int(version)
    return labels
