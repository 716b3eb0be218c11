"""`python -m serving --max-request-bytes N --request-timeout-s T` reaches the gunicorn
worker's own checks, not only the Flask app's: the chunked-body limit, the request read
deadline, and the bounded body reader of every protocol (v2 REST used to read its body
past the transport's guard)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.integration.conftest import start_gateway

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
LIMIT = 2000
TIMEOUT_S = 2


@pytest.fixture(scope="module")
def gateway(source_models):  # noqa: ANN001, ANN201
    env = {"MULTIHEAD_MAX_REQUEST_BYTES": "", "MULTIHEAD_REQUEST_TIMEOUT_S": ""}
    with start_gateway(source_models, workers=1, env=env,
                       args=("--max-request-bytes", str(LIMIT),
                             "--request-timeout-s", str(TIMEOUT_S))) as gw:
        yield gw


def _exchange(gw, data: bytes, wait_s: float = 30) -> bytes:  # noqa: ANN001
    host, port = gw.http_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _chunked(path: str, chunks: list[bytes]) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    return head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def test_chunked_limit_of_the_flag_is_the_workers(gateway) -> None:  # noqa: ANN001
    """A chunk that announces more than the flag's limit is refused by the worker as soon
    as its size line is read (the environment's default limit is 4 MiB)."""
    reply = _exchange(gateway, _chunked("/v1/models/profiler:predict",
                                        [b"x" * (LIMIT + 500)]))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"announces" in reply


@pytest.mark.parametrize("path", ["/v2/models/headline/infer", "/v1/models/profiler:predict",
                                  "/v1/similarity"])
def test_chunks_ending_exactly_at_the_limit_are_413_on_every_protocol(gateway, path: str
                                                                       ) -> None:  # noqa: ANN001
    """werkzeug stops reading at the limit: the body must not reach a codec cut short."""
    reply = _exchange(gateway, _chunked(path, [b"[" * LIMIT, b"1" * 10]))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]


def test_read_deadline_of_the_flag_is_the_workers(gateway) -> None:  # noqa: ANN001
    started = time.monotonic()
    reply = _exchange(gateway, b"POST /v1/models/profiler:pre")
    took = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert took < TIMEOUT_S + 10  # the default request_timeout_s is 30 s
