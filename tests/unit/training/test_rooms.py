"""One room per model: discovery finds every room under training/models/, each room is
complete, the demo requests travel from the room through the model card to the gateway's
demo lines, and training/ has no import circle. No training: about 10 s, most of it
importing TensorFlow."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tests.importgraph import cycles, import_graph
from training.models import DEFAULT_MODELS, MODELS, config_for, generate, room, rooms

REPO = Path(__file__).resolve().parents[3]
ROOMS_DIR = REPO / "training" / "models"


def test_every_folder_under_training_models_is_a_room() -> None:
    folders = sorted(p.parent.name for p in ROOMS_DIR.glob("*/__init__.py"))
    assert list(MODELS) == folders == sorted(rooms())
    assert set(DEFAULT_MODELS) == {"qa", "profiler", "similarity", "headline"}
    assert not room("price").default
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        room("nope")


@pytest.mark.parametrize("name", sorted(p.parent.name for p in ROOMS_DIR.glob("*/__init__.py")))
def test_a_room_declares_everything_its_model_needs(name: str) -> None:
    r = room(name)
    cfg = config_for(name)
    assert type(cfg) is r.config and cfg.model == name
    fields = {f.name for f in dataclasses.fields(cfg)}
    assert set(r.test_preset) <= fields, "the test preset names fields the config lacks"
    test = config_for(name, "test")
    assert {k: getattr(test, k) for k in r.test_preset} == dict(r.test_preset)
    ex = generate(name, 6, seed=0)
    assert set(ex.inputs) == set(r.inputs) and set(ex.targets) == set(r.heads)
    assert {h: ex.kinds[h] for h in r.heads} == {h: s["kind"] for h, s in r.heads.items()}
    for example in r.demo_requests():
        assert example.protocol in ("tfserving", "v2", "multihead")
        assert example.path.startswith("/")


def test_demo_lines_come_from_the_cards_and_are_the_readmes(tmp_path) -> None:
    # room -> model card (training.export.model_card) -> `python -m serving demo`'s curl
    # lines: for the default models exactly the README's curl block, byte for byte.
    import json

    from serving.__main__ import DEMO_URL, curl_lines, repository_models
    from tests.integration.test_readme_curl import readme_curls
    from training.export import CARD_FILE, model_card

    for name in DEFAULT_MODELS:
        version = tmp_path / name / "1"
        (version / "assets.extra").mkdir(parents=True)
        (version / "saved_model.pb").write_bytes(b"")
        card = model_card(config_for(name), 1, 100, {})
        (version / "assets.extra" / CARD_FILE).write_text(json.dumps(card))
    models = repository_models(str(tmp_path))
    assert curl_lines(DEMO_URL, str(tmp_path), models) == readme_curls()
    # a version without demo requests in its card: its metadata instead
    card_path = tmp_path / "qa" / "1" / "assets.extra" / CARD_FILE
    card_path.write_text(json.dumps({**json.loads(card_path.read_text()), "examples": []}))
    lines = curl_lines(DEMO_URL, str(tmp_path), ["qa"])
    assert lines == [f"curl -s {DEMO_URL}/v1/models/qa/metadata"] * 2


def test_an_export_under_another_name_sends_its_demo_there() -> None:
    from training.export import model_card

    card = model_card(config_for("profiler"), 3, 100, {}, "authors")
    assert card["name"] == "authors"
    assert [e["path"] for e in card["examples"]] == ["/v1/models/authors:predict",
                                                     "/v1/profile"]


def test_no_import_circle_in_training() -> None:
    assert cycles(import_graph(REPO, "training")) == []


def test_the_import_graph_sees_a_circle(tmp_path) -> None:
    # The check above can fail: two modules that import each other, one of them lazily.
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("def thing():\n    from pkg import a\n")
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b"]]


def test_the_readme_describes_every_room() -> None:
    table = re.findall(r"^\| `(\w+)` \|", (REPO / "README.md").read_text(), re.M)
    assert set(MODELS) <= set(table)
