"""A version copied in slowly: the change detector sees every file, and the version
that failed half-copied loads once complete while the old one keeps serving."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from serving.backends.repository import fingerprint as _fingerprint
from serving.backends.repository import version_dirs as _version_dirs
from serving.errors import NotFound
from tests.processes import wait_until
from tests.unit.serving.conftest import install

pytestmark = pytest.mark.timeout(120)


def test_fingerprint_sees_every_file_of_a_version(tmp_path: Path) -> None:
    version = tmp_path / "1"
    version.mkdir()
    assert _fingerprint(str(version)) == ()
    (version / "saved_model.pb").write_bytes(b"graph")
    only_pb = _fingerprint(str(version))
    assert [entry[0] for entry in only_pb] == ["saved_model.pb"]
    assert _fingerprint(str(version)) == only_pb  # stable while nothing changes

    seen = {only_pb}

    def changed() -> tuple:
        fp = _fingerprint(str(version))
        assert fp not in seen, "the fingerprint missed a change"
        seen.add(fp)
        return fp

    (version / "variables").mkdir()
    (version / "variables" / "variables.index").write_bytes(b"i")
    assert {e[0] for e in changed()} == {"saved_model.pb",
                                         os.path.join("variables", "variables.index")}
    (version / "variables" / "variables.data-00000-of-00001").write_bytes(b"d" * 10)
    changed()
    # The same size but a later mtime: a file rewritten in place.
    data = version / "variables" / "variables.data-00000-of-00001"
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    changed()
    with data.open("ab") as fh:  # grows while being copied
        fh.write(b"d")
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    changed()
    (version / "assets.extra").mkdir()
    (version / "assets.extra" / "tf_serving_warmup_requests").write_bytes(b"w")
    changed()
    os.rename(version / "assets.extra" / "tf_serving_warmup_requests",
              version / "assets.extra" / "renamed")
    changed()
    assert _fingerprint(str(tmp_path / "missing")) == ()


def test_version_dirs_wait_for_saved_model_pb(tmp_path: Path) -> None:
    for name in ("1", "2", ".tmp-export-3", "x"):
        (tmp_path / name).mkdir()
    (tmp_path / "2" / "saved_model.pb").write_bytes(b"")
    (tmp_path / ".tmp-export-3" / "saved_model.pb").write_bytes(b"")
    assert _version_dirs(str(tmp_path)) == {2: str(tmp_path / "2")}


def _wait_for(predicate, timeout: float = 30.0) -> float:  # noqa: ANN001
    """Seconds until `predicate()` held."""
    start = time.monotonic()
    wait_until(predicate, timeout, 0.02, what="the condition reached")
    return time.monotonic() - start


def test_half_copied_version_loads_when_complete_and_never_blocks_the_old(
        exports: dict, make_service, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    install(exports["pairs_v1"], str(repo), "pairs", 1)
    # TF Serving's default policy, latest 1: version 2 replaces version 1.
    config = tmp_path / "models.config"
    config.write_text('model_config_list { config { name: "pairs" base_path: "%s" '
                      'model_platform: "tensorflow" } }\n' % (repo / "pairs"))
    service = make_service(str(repo), model_config=str(config))
    assert service.resolve("pairs").version == 1

    src, dst = Path(exports["pairs_v2"]), repo / "pairs" / "2"
    dst.mkdir()
    shutil.copy2(src / "saved_model.pb", dst / "saved_model.pb")

    def v2() -> tuple[str, str]:
        try:
            [status] = service.model_status("pairs", version=2)
        except NotFound:  # not scanned yet
            return "", ""
        return status.state, status.error_code

    _wait_for(lambda: v2() == ("END", "UNKNOWN"))
    for _ in range(10):  # over many scans the half copy neither serves nor blocks
        assert service.resolve("pairs").version == 1
        assert service.readiness() == []
        time.sleep(0.05)
    for part in sorted(p.name for p in src.iterdir() if p.is_dir()):
        shutil.copytree(src / part, dst / part)
    took = _wait_for(lambda: v2() == ("AVAILABLE", "OK"), timeout=10)
    assert service.resolve("pairs").version == 2
    _wait_for(lambda: service.model_status("pairs", version=1)[0].state == "END")
    assert service.readiness() == []
    # Two scans at the 0.1 s poll interval (one to see the files settle), then a load.
    assert took < 5, f"version 2 took {took:.2f}s after the copy completed"
