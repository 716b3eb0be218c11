"""Hot reload: a version exported into the repository while clients send requests is
picked up by every worker without one request failing, serves from then on, and
the old one is unloaded (the config names no policy: TF Serving's `latest 1`).

Runs on the session gateway, whose repository is a copy of the exported models."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.integration.conftest import SAMPLES, add_version, versions_of
from tests.processes import wait_until

pytestmark = pytest.mark.slow

BODY = {"text": SAMPLES["qa"]["text"][0], "question": SAMPLES["qa"]["question"][0],
        "top_k": 2}


def test_new_version_serves_without_failed_requests(gateway, gateway_repo):
    repo = gateway_repo.path
    old = versions_of(repo, "qa")[-1]
    results: list[tuple[int, int | None, str]] = []
    answered = threading.Condition()
    stop = threading.Event()

    def client_loop() -> None:
        # A fresh connection per request, so that both workers take part.
        while not stop.is_set():
            try:
                resp = httpx.post(gateway.http_url + "/v1/answer", json=BODY, timeout=30)
                version = resp.json().get("model_version") if resp.status_code == 200 else None
                result = (resp.status_code, version, resp.text[:200])
            except httpx.HTTPError as exc:
                result = (0, None, repr(exc))
            with answered:
                results.append(result)
                answered.notify_all()
            time.sleep(0.01)  # pacing: a client, not a flood

    threads = [threading.Thread(target=client_loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        with answered:  # the old version answers before the new one lands
            assert answered.wait_for(lambda: len(results) >= 6, 60), results
        new = add_version(repo, "qa")
        with answered:
            assert answered.wait_for(
                lambda: len(results) > 12 and all(r[1] == new for r in results[-12:]), 120), \
                f"version {new} did not take over: {results[-12:]}"
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    failures = [r for r in results if r[0] != 200]
    assert not failures, f"{len(failures)} of {len(results)} requests failed: {failures[:3]}"
    seen = [r[1] for r in results]
    assert old in seen and new in seen, f"versions answered: {sorted(set(seen))}"
    for _ in range(8):  # every worker serves it, on fresh connections
        resp = httpx.post(gateway.http_url + "/v1/answer", json=BODY, timeout=30)
        assert resp.json()["model_version"] == new

    meta = gateway.get("/v1/models/qa/metadata").json()
    assert meta["model_spec"]["version"] == str(new)

    def once_old_is_unloaded() -> dict[int, str] | None:
        status = gateway.get("/v1/models/qa").json()["model_version_status"]
        states = {int(e["version"]): e["state"] for e in status}
        return states if states.get(old, "END") == "END" else None

    states = wait_until(once_old_is_unloaded, 30, 0.1, what=f"version {old} unloaded")
    assert states[new] == "AVAILABLE", states
