"""Retries with backoff on 429/503/UNAVAILABLE/RESOURCE_EXHAUSTED honouring Retry-After,
and deadlines: a server that never answers gives DeadlineExceeded after the timeout.

The waits between retries go through the client's `sleep`, which these tests replace
with a recorder: they assert the exact waits, not a window of wall-clock time. The
deadlines are the transports' own timers, so those tests do run on the clock."""

from __future__ import annotations

import asyncio
import time

import multihead_client as mh
import pytest
from multihead_client._ops import RetryPolicy

from .conftest import error_step, ok_similarity


def test_two_503s_then_success_honours_retry_after(server):
    server.script.extend([error_step(server, 503, "UNAVAILABLE", "model loading", "1"),
                          error_step(server, 503, "UNAVAILABLE", "model loading", "1"),
                          ok_similarity(server)])
    slept: list[float] = []
    with mh.Client(server.url, retries=2, timeout=3, sleep=slept.append) as client:
        assert client.similarity("a", "b") == pytest.approx(0.75)
    assert len(server.requests) == 3
    # Each retry waited the second the server asked for, not the short default backoff,
    # and nothing else.
    assert slept == [1.0, 1.0]


def test_async_retries_overloaded_with_fractional_retry_after(server):
    server.script.extend([error_step(server, 429, "RESOURCE_EXHAUSTED", "queue full", "0.3"),
                          error_step(server, 503, "UNAVAILABLE", "model loading", "0.3"),
                          ok_similarity(server)])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def go():
        async with mh.AsyncClient(server.url, retries=2, sleep=sleep) as client:
            return await client.similarity_many([("a", "b")])

    assert asyncio.run(go()) == pytest.approx([0.75])
    assert len(server.requests) == 3
    assert slept == [0.3, 0.3]


def test_retries_disabled_raises_unavailable(server):
    server.script.extend([error_step(server, 503, "UNAVAILABLE", "model loading", "1"),
                          ok_similarity(server)])
    slept: list[float] = []
    with mh.Client(server.url, retries=0, sleep=slept.append) as client:
        with pytest.raises(mh.Unavailable, match="model loading"):
            client.similarity("a", "b")
    assert slept == []  # gave up at once, no Retry-After wait
    assert len(server.requests) == 1


def test_retries_exhausted_raises_the_last_error(server):
    server.script.extend([error_step(server, 503, "UNAVAILABLE", "still loading")] * 3)
    slept: list[float] = []
    with mh.Client(server.url, retries=2, sleep=slept.append) as client, \
            pytest.raises(mh.Unavailable):
        client.similarity("a", "b")
    assert len(server.requests) == 3
    # No Retry-After: the jittered backoff, attempt by attempt (RetryPolicy's bounds).
    assert len(slept) == 2 and 0 <= slept[0] <= 0.2 and 0 <= slept[1] <= 0.4


def test_the_default_sleep_really_waits(server):
    server.script.extend([error_step(server, 503, "UNAVAILABLE", "model loading", "0.2"),
                          ok_similarity(server)])
    with mh.Client(server.url, retries=1) as client:
        assert client.similarity("a", "b") == pytest.approx(0.75)
    times = [r["time"] for r in server.requests]
    assert len(times) == 2 and times[1] - times[0] >= 0.19


@pytest.mark.parametrize(("status", "code"), [(400, "INVALID_ARGUMENT"), (404, "NOT_FOUND"),
                                              (504, "DEADLINE_EXCEEDED"), (500, "INTERNAL")])
def test_other_errors_are_not_retried(server, status, code):
    server.script.extend([error_step(server, status, code, "no"), ok_similarity(server)])
    with mh.Client(server.url, retries=3) as client, pytest.raises(mh.MultiheadError):
        client.similarity("a", "b")
    assert len(server.requests) == 1


def test_backoff_without_retry_after_is_jittered_and_bounded():
    policy = RetryPolicy(retries=3, base_delay=0.2, max_delay=1.0)
    unavailable = mh.Unavailable("x")
    delays = [policy.delay(2, unavailable) for _ in range(200)]
    assert all(0 <= d <= 0.8 for d in delays) and len(set(delays)) > 100
    assert policy.delay(3, unavailable) is None  # out of retries
    assert policy.delay(0, mh.InvalidInput("x")) is None
    assert policy.delay(0, mh.Overloaded("x", retry_after=60)) == 1.0  # capped


@pytest.mark.parametrize("timeout", [1.0, 0.5])
def test_server_that_never_answers_raises_deadline_exceeded(server, timeout):
    server.script.extend([("hang",)] * 3)
    slept: list[float] = []
    client = mh.Client(server.url, retries=2, timeout=5 if timeout == 0.5 else timeout,
                       sleep=slept.append)
    try:
        start = time.monotonic()
        with pytest.raises(mh.DeadlineExceeded) as info:
            if timeout == 0.5:  # per-call override of the client's timeout
                client.similarity("a", "b", timeout=timeout)
            else:
                client.similarity("a", "b")
        elapsed = time.monotonic() - start
    finally:
        client.close()
    # Not before the deadline; and well before a retry (a second attempt) or the client's
    # own 5 s default would end it: bounds that hold on a busy machine too.
    assert timeout * 0.9 <= elapsed < timeout * 2
    assert info.value.code == "DEADLINE_EXCEEDED"
    assert len(server.requests) == 1 and slept == []  # a deadline is not retried


def test_async_deadline(server):
    server.script.append(("hang",))

    async def go():
        async with mh.AsyncClient(server.url, timeout=0.5) as client:
            start = time.monotonic()
            try:
                await client.answer("text", "question?")
            finally:
                assert 0.45 <= time.monotonic() - start < 1.0

    with pytest.raises(mh.DeadlineExceeded):
        asyncio.run(go())
