"""A version copied in slowly (saved_model.pb first, the rest seconds later, as a plain
`cp -r` or an rsync of a large export does) while clients send requests:

- the half copy fails to load, never serves and never costs a request: the older
  AVAILABLE version answers everything and /readyz stays 200 on every worker (the test
  copies the rest once every worker reports the half copy tried and failed);
- once the rest of the files land, every worker retries and serves the new version
  within a bounded time (the change detector fingerprints every file).

A gateway of its own (two workers, 0.5 s poll interval) on a repository holding only
`profiler`, so that loading is quick and nothing else of the session is disturbed.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SAMPLES, start_gateway, versions_of
from tests.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MODEL = "profiler"
BODY = {"authors": [SAMPLES[MODEL]["posts"][0].split("\n")]}
SERVE_WITHIN_S = 15.0  # bound on "the new version serves" after the copy completes


def test_slow_copy_never_fails_a_request_and_serves_once_complete(
        source_models: Path, tmp_path: Path) -> None:
    repo = tmp_path / "models"
    shutil.copytree(source_models / MODEL, repo / MODEL,
                    ignore=shutil.ignore_patterns(".tmp-export-*"))
    old = versions_of(repo, MODEL)[-1]
    new = old + 1
    src, dst = repo / MODEL / str(old), repo / MODEL / str(new)

    results: list[tuple[float, str, int, int | None, str]] = []
    answered = threading.Condition()
    stop = threading.Event()

    def predicts_since(moment: float) -> list[tuple[float, str, int, int | None, str]]:
        return [r for r in results if r[1] == "/v1/profile" and r[0] > moment]

    with start_gateway(repo) as gw:
        def client_loop() -> None:
            # A fresh connection per request, so that both workers answer; /readyz too.
            while not stop.is_set():
                for path in ("/v1/profile", "/readyz"):
                    try:
                        if path == "/readyz":
                            resp = httpx.get(gw.http_url + path, timeout=30)
                        else:
                            resp = httpx.post(gw.http_url + path, json=BODY, timeout=30)
                        version = (resp.json().get("model_version")
                                   if path != "/readyz" and resp.status_code == 200 else None)
                        result = (time.monotonic(), path, resp.status_code, version,
                                  resp.text[:200])
                    except httpx.HTTPError as exc:
                        result = (time.monotonic(), path, 0, None, repr(exc))
                    with answered:
                        results.append(result)
                        answered.notify_all()
                time.sleep(0.01)  # pacing: a client, not a flood

        def new_version_failed_everywhere() -> dict | None:
            """The half copy's status, once every worker (fresh connections) reports it
            tried and failed: a scan saw it; else None."""
            seen = []
            for _ in range(6):
                status = {int(s["version"]): s for s in
                          httpx.get(f"{gw.http_url}/v1/models/{MODEL}", timeout=30)
                          .json()["model_version_status"]}
                seen.append(status.get(new))
            if all(s is not None and s["state"] == "END" for s in seen):
                return seen[0]
            return None

        threads = [threading.Thread(target=client_loop) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            with answered:  # both clients busy before the copy starts
                assert answered.wait_for(lambda: len(results) >= 8, 60), results
            dst.mkdir()
            shutil.copy2(src / "saved_model.pb", dst / "saved_model.pb")
            half_copied = time.monotonic()
            # While half copied: tried and failed by every worker, not serving.
            partial_status = wait_until(new_version_failed_everywhere, 30, 0.1,
                                        what="the half copy tried by every worker")
            with answered:
                assert answered.wait_for(lambda: len(predicts_since(half_copied)) >= 5, 30)
            for part in ("assets", "variables", "assets.extra", "fingerprint.pb"):
                if (src / part).is_dir():
                    shutil.copytree(src / part, dst / part)
                elif (src / part).exists():
                    shutil.copy2(src / part, dst / part)
            copied = time.monotonic()

            def served_by_new() -> bool:
                recent = predicts_since(copied)[-12:]
                return len(recent) == 12 and all(r[3] == new for r in recent)

            with answered:
                answered.wait_for(served_by_new, SERVE_WITHIN_S)
                recent = predicts_since(copied)[-12:]
                served_at = min(r[0] for r in recent) if served_by_new() else None
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        final = {int(s["version"]): s["state"] for s in
                 gw.get(f"/v1/models/{MODEL}").json()["model_version_status"]}

    failures = [r for r in results if r[2] != 200]
    predicts = [r for r in results if r[1] == "/v1/profile"]
    during_copy = [r for r in predicts if half_copied < r[0] < copied]
    print(f"\nslow copy: {len(results)} requests ({len(predicts)} predict, "
          f"{len(results) - len(predicts)} /readyz), {len(failures)} failed; "
          f"{len(during_copy)} predicts while half copied, all answered by version "
          f"{sorted({r[3] for r in during_copy})}; version {new} served by every request "
          f"{(served_at - copied) if served_at else float('nan'):.2f}s after the copy completed")
    assert not failures, f"{len(failures)} of {len(results)} requests failed: {failures[:3]}"
    assert partial_status["state"] == "END", partial_status
    assert partial_status["status"]["error_code"] != "OK", partial_status
    assert len(during_copy) >= 5 and {r[3] for r in during_copy} == {old}
    assert served_at is not None, (
        f"version {new} did not serve every request within {SERVE_WITHIN_S}s "
        f"of the copy completing; last answers {[r[3] for r in predicts[-12:]]}")
    assert final[new] == "AVAILABLE", final
