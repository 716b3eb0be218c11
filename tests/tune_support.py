"""One small hyper-parameter search in this process, shared by the tests that need one
(the CLI's search and `train --config` of its best config; the distributed search, which
must try the same configurations). A random search of 3 one-epoch trials of a tiny
`headline` config: the cheapest model to trace per trial. Files in a temporary directory
removed at exit; read-only for tests."""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import shutil
import tempfile
from pathlib import Path

MODEL = "headline"
TRIALS = 3
TINY = ["examples=200", "batch_size=50", "units=8", "embedding_dim=8", "dense_units=8"]
ARGS = ["tune", "--model", MODEL, "--max-trials", str(TRIALS), "--algorithm", "random",
        "--epochs", "1", *(a for item in TINY for a in ("--set", item))]


@functools.cache
def one_process_search() -> tuple[Path, str]:
    """(the search's run directory, what `python -m training tune` printed): the one made
    beside the session (tests/background_runs.py) when there is one, else made here."""
    from tests import background_runs
    from training import cli

    made = background_runs.made("search")
    if made is not None:
        return made, background_runs.current().printed("search")

    out = Path(tempfile.mkdtemp(prefix="mh-tune-"))
    atexit.register(shutil.rmtree, out, True)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main([*ARGS, "--out", str(out)]) == 0
    return out / f"{MODEL}-tune", printed.getvalue()
