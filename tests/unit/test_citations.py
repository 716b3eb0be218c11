"""The project cites upstream sources (project and file), never a path outside the
repository that no user has (a developer's notes, a workspace folder)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Written in pieces so that this file does not match itself.
OUTSIDE = re.compile("/" + "work/|" + r"\.\./shared/|" + "shared/(OIP|TFSERVING|ARCHITECTURE"
                     + r"|STYLE)\.md")


def test_no_source_cites_a_path_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".lock", ".png", ".jpg", ".pb"} or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        offenders += [f"{name}:{i}" for i, line in enumerate(text.splitlines(), 1)
                      if OUTSIDE.search(line)]
    assert offenders == []
