"""A stopping gateway worker leaves no connection accepted by the kernel and unanswered.

The gateway's gunicorn worker (serving/gunicorn_worker.py) under a real gunicorn master,
one worker, serving the bench's framework floor (tests/bench/floor_app.py: the gateway's
worker class and settings, no models, so it starts in a second). On SIGTERM the worker
takes what the kernel has queued and closes its listening sockets at once: a connection
that arrives while a request still holds the graceful stop open is refused at connect
(a client retries that elsewhere), where before it was completed by the kernel, sent
its request and was reset when the worker finished.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator

import pytest

from tests.bench.procs import Server
from tests.bench.servers import start_floor_rest
from tests.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
BODY = b'{"instances": [1]}'
HEAD = (f"POST /v1/models/m:predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(BODY)}\r\n\r\n").encode()
READ_S = 10.0


@pytest.fixture
def floor() -> Iterator[Server]:
    server = start_floor_rest(workers=1, threads=4)
    try:
        yield server
    finally:
        server.stop()


def connect(server: Server) -> socket.socket:
    host, port = server.http_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=READ_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def refused(server: Server) -> bool:
    """Whether a new connection is refused at connect (one the kernel completes is closed
    at once: the worker takes it, sees it gone, and it holds nothing)."""
    try:
        connect(server).close()
    except ConnectionRefusedError:
        return True
    return False


def read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def test_a_connection_during_the_graceful_stop_is_refused_not_swallowed(floor: Server) -> None:
    held = connect(floor)  # a request under way: it holds the graceful stop open
    held.sendall(HEAD + BODY[:5])
    floor.process.send_signal(signal.SIGTERM)
    # Before the fix, connections kept completing in the kernel for as long as the stop
    # lasted, and were reset unanswered at its end.
    wait_until(lambda: refused(floor), READ_S,
               what="a new connection refused while a request holds the graceful stop",
               diagnose=floor.log)
    held.sendall(BODY[5:])
    assert read_answer(held).startswith(b"HTTP/1.1 200")
    held.close()
    assert floor.process.wait(READ_S + 20) == 0, floor.log()
