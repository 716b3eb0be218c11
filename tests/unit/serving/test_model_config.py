"""TF Serving model config files: parsing, version policy, version labels."""

from __future__ import annotations

import os
import time

import pytest

from serving.backends.model_config import (
    ModelConfigError,
    VersionPolicy,
    parse_model_config,
    parse_model_config_text,
)
from serving.errors import InvalidInput, NotFound, Unavailable
from tests.processes import wait_until
from tests.unit.serving.conftest import install

pytestmark = pytest.mark.timeout(120)

CONFIG = """
model_config_list {
  config {
    name: "pairs"
    base_path: "models/pairs"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
    version_labels { key: "next" value: 3 }
  }
  config { name: "a" base_path: "/srv/a" model_version_policy { latest { num_versions: 2 } } }
  config { name: "b" base_path: "/srv/b" model_version_policy { all {} } }
  config { name: "c" base_path: "/srv/c" }
}
"""


def test_parse_policies_and_labels(tmp_path) -> None:
    path = tmp_path / "models.config"
    path.write_text(CONFIG)
    entries = parse_model_config(str(path))
    assert sorted(entries) == ["a", "b", "c", "pairs"]
    pairs = entries["pairs"]
    assert pairs.base_path == str(tmp_path / "models" / "pairs")  # relative to the file
    assert pairs.policy == VersionPolicy("specific", 1, (1, 2))
    assert dict(pairs.version_labels) == {"canary": 2, "next": 3, "stable": 1}
    assert entries["a"].policy == VersionPolicy("latest", 2)
    assert entries["b"].policy.kind == "all"
    assert entries["c"].policy == VersionPolicy("latest", 1)  # TF Serving's default


def test_policy_selection() -> None:
    on_disk = [3, 1, 7, 5]
    assert VersionPolicy("latest", 2).select(on_disk) == [5, 7]
    assert VersionPolicy("latest", 1).select([]) == []
    assert VersionPolicy("all").select(on_disk) == [1, 3, 5, 7]
    assert VersionPolicy("specific", versions=(3, 4)).select(on_disk) == [3]


@pytest.mark.parametrize("text,words", [
    ("model_config_list { config { name: 'x' ", "not a valid TF Serving model config"),
    ("model_config_list { config { base_path: '/x' } }", "every config needs a name"),
    ("model_config_list { config { name: 'x' } config { name: 'x' } }", "configured twice"),
    ("model_config_list { config { name: 'x' model_platform: 'onnx' } }", "only 'tensorflow'"),
    ("", "must hold a model_config_list"),
])
def test_bad_config_is_a_clear_error(text: str, words: str) -> None:
    with pytest.raises(ModelConfigError, match=words):
        parse_model_config_text(text, source="models.config")


def test_embedded_honours_policy_and_labels(exports: dict, make_service, tmp_path) -> None:
    repo = str(tmp_path / "repo")
    for v in (1, 2, 3):
        install(exports["pairs_v1" if v == 1 else "pairs_v2"], repo, "pairs", v)
    install(exports["half_plus_two"], repo, "half_plus_two", 1)  # not configured: not served
    config = tmp_path / "models.config"
    config.write_text(CONFIG.replace('"models/pairs"', '"repo/pairs"'))
    service = make_service(repo, wait=False, model_config=str(config))
    assert service.backend._scanned.wait(60)  # the first scan loads what it finds
    assert service.readiness()  # a, b and c have no versions at all
    assert service.backend.list_models() == ["a", "b", "c", "pairs"]  # configured ones only
    with pytest.raises(NotFound):
        service.resolve("half_plus_two")
    assert [s.version for s in service.model_status("pairs")] == [2, 1]  # 3 is not in policy
    assert service.resolve("pairs").version == 2
    assert service.resolve("pairs", label="stable").version == 1
    assert service.resolve("pairs", label="canary").version == 2
    assert [s.version for s in service.model_status("pairs", label="stable")] == [1]
    with pytest.raises(InvalidInput, match="Unknown version label 'prod'.*canary, next, stable"):
        service.resolve("pairs", label="prod")
    # A label may point only at an AVAILABLE version.
    with pytest.raises(Unavailable, match="points at version 3, which is not AVAILABLE"):
        service.resolve("pairs", label="next")
    listing = {m.name: {"labels": dict(m.labels)} for m in service.list_models()}
    assert listing["pairs"]["labels"] == {"canary": 2, "stable": 1}
    assert any("model 'a' has no AVAILABLE version" in r for r in service.readiness())

    # The config is polled: a new policy unloads version 1 and loads version 3.
    config.write_text(CONFIG.replace('"models/pairs"', '"repo/pairs"').replace(
        "specific { versions: 1 versions: 2 }", "latest { num_versions: 2 }"))
    os.utime(config, (time.time() + 5, time.time() + 5))
    wait_until(lambda: {s.version: s.state for s in service.model_status("pairs")} == {
        1: "END", 2: "AVAILABLE", 3: "AVAILABLE"}, 30, what="the new policy applied",
        diagnose=lambda: str(service.model_status("pairs")))
    assert service.resolve("pairs", label="next").version == 3
    with pytest.raises(Unavailable):
        service.resolve("pairs", label="stable")
