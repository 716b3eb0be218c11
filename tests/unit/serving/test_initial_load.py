"""The embedded runtime's initial load, as the gunicorn worker waits on it: the wait ends
as soon as the first scan is over (ready, or failed with the reason in readiness), and a
model that is in the repository but not loaded yet is UNAVAILABLE, never NOT_FOUND."""

from __future__ import annotations

import os
import time

import pytest

from serving.errors import NotFound, Unavailable
from tests.unit.serving.conftest import install

pytestmark = pytest.mark.timeout(180)


def test_wait_ready_ends_at_once_when_a_model_fails_to_load(exports, make_service,
                                                            tmp_path) -> None:
    repo = str(tmp_path / "models")
    install(exports["pairs_v1"], repo, "pairs", 1)
    os.makedirs(os.path.join(repo, "broken", "1"))
    with open(os.path.join(repo, "broken", "1", "saved_model.pb"), "wb") as fh:
        fh.write(b"not a SavedModel")
    service = make_service(repo, wait=False, poll_interval_s=0.2)
    started = time.monotonic()
    assert service.wait_ready(120) is False
    assert time.monotonic() - started < 60  # the scan's end, not the timeout, ended it
    reasons = service.readiness()
    assert any("'broken'" in r for r in reasons), reasons
    assert not any("'pairs'" in r for r in reasons), reasons
    assert service.resolve("pairs").version == 1  # what loaded serves meanwhile


def test_model_not_loaded_yet_is_unavailable_not_not_found(exports, make_service,
                                                           tmp_path) -> None:
    repo = str(tmp_path / "models")
    install(exports["pairs_v1"], repo, "pairs", 1)
    # No rescan during the test: a model copied in now stays unloaded.
    service = make_service(repo, poll_interval_s=3600)
    install(exports["half_plus_two"], repo, "late", 1)
    with pytest.raises(Unavailable, match="'late' is in the model repository but not loaded"):
        service.resolve("late")
    with pytest.raises(Unavailable):
        service.model_status("late")
    for unknown in ("nope", "../models", ".hidden", "a/b", "\ud800", "nul\x00"):
        with pytest.raises(NotFound):
            service.resolve(unknown)


def test_reload_gap_names_the_sysctl_only_when_it_is_off(tmp_path, monkeypatch) -> None:
    from serving import lifecycle

    sysctl = tmp_path / "tcp_migrate_req"
    monkeypatch.setattr(lifecycle, "MIGRATE_REQ_SYSCTL", str(sysctl))
    sysctl.write_text("0\n")
    assert "tcp_migrate_req" in lifecycle.reload_gap(2)
    assert lifecycle.reload_gap(1) is None  # one worker: no sibling socket to move to
    sysctl.write_text("1\n")
    assert lifecycle.reload_gap(2) is None
    sysctl.unlink()
    assert lifecycle.reload_gap(2) is None
