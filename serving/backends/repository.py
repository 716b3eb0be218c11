"""The one home of the model repository's layout (TF Serving's, plus this project's card).

    MODEL_DIR/NAME/VERSION/saved_model.pb, variables/, assets/
                          assets.extra/model_card.json           (the typed ModelCard)
                          assets.extra/tf_serving_warmup_requests (TF Serving's warm-up)
                          assets.extra/model.png                 (the architecture diagram)
                          assets/vocab.txt                       (text inputs' vocabulary)

VERSION is an integer directory holding a saved_model.pb; anything else (`.tmp-export-*`,
hidden files) is ignored, as TF Serving ignores it. Both backends read the layout here.
"""

from __future__ import annotations

import json
import logging
import os

from serving.types import ModelCard

log = logging.getLogger(__name__)

CARD_FILE = os.path.join("assets.extra", "model_card.json")
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
DIAGRAM_FILE = os.path.join("assets.extra", "model.png")
# One token per line (line number = id), the file the export's in-graph lookup reads.
VOCABULARY_FILE = os.path.join("assets", "vocab.txt")


def read_vocabulary(folder: str) -> frozenset[str] | None:
    """The tokens of a version's vocabulary asset; None when it has none (or it is not
    readable here, e.g. TF Serving's repository is not shared with the gateway)."""
    try:
        with open(os.path.join(folder, VOCABULARY_FILE), encoding="utf-8") as f:
            return frozenset(line.rstrip("\n") for line in f)
    except OSError:
        return None


def model_names(root: str) -> list[str]:
    """Model directories of a repository (hidden ones aside), sorted."""
    return sorted(n for n in listdir(root) if not n.startswith(".")
                  and os.path.isdir(os.path.join(root, n)))


def version_path(root: str, name: str, version: int) -> str:
    return os.path.join(os.path.abspath(root), name, str(version))


def listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def version_dirs(base_path: str) -> dict[int, str]:
    """Integer version directories that hold a saved_model.pb.

    A directory without one is not a version yet; one that has it but is still being
    copied is tried, fails, and is tried again once its files change (the embedded
    runtime's `_retry_due`).
    """
    found = {}
    for entry in listdir(base_path):
        if entry.isascii() and entry.isdigit():
            path = os.path.join(base_path, entry)
            if os.path.isfile(os.path.join(path, "saved_model.pb")):
                found[int(entry)] = path
    return found


def fingerprint(path: str) -> tuple:
    """(relative path, size, mtime_ns) of every file under a version directory, sorted.

    Every file, not only saved_model.pb: a copy that writes saved_model.pb first and
    variables/ (or assets/, assets.extra/) later changes the fingerprint when they land.
    Symlinked files count by their target; a file that vanishes mid-walk is left out.
    """
    files = []
    for root, _dirs, names in os.walk(path):
        for n in names:
            full = os.path.join(root, n)
            try:
                st = os.stat(full)
            except OSError:
                continue
            files.append((os.path.relpath(full, path), st.st_size, st.st_mtime_ns))
    return tuple(sorted(files))


def read_card(path: str) -> ModelCard | None:
    card_path = os.path.join(path, CARD_FILE)
    if not os.path.exists(card_path):
        return None
    try:
        with open(card_path, encoding="utf-8") as fh:
            card = json.load(fh)
        return ModelCard.from_json(card)
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable model card %s: %s", card_path, exc)
        return None
