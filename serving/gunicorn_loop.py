"""The event loop of the gateway's gunicorn worker (serving/gunicorn_worker.py): every
client connection sits in one epoll set, and the loop reads it until a whole request is
buffered; only then does a thread get it (`dispatch`).

- One-shot readiness: a connection is armed for one read (or write) at a time, re-armed by
  whoever holds it next; a thread that is done with a connection re-arms it itself (epoll
  is thread-safe), so a kept-alive request costs no hand-off through the worker's pipe.
- Deadlines per connection (`sweep`, every SWEEP_S): `keepalive` s for the first byte of
  each request, then REQUEST_TIMEOUT_S for the whole request (408 and closed).
- Answers of the loop's own, sent without blocking: `GET /healthz` and `GET /readyz`
  (`probe`), "100 Continue", 408, 503 past the connection limit, 400 for a TLS handshake.
- Every close is a lingering close: the loop half-closes, then reads and discards what the
  client still sends, up to LINGER_MAX_BYTES / LINGER_TOTAL_S, until the client closes or
  pauses LINGER_IDLE_S (nginx's lingering close, ngx_http_request.c
  `ngx_http_set_lingering_close`): a client that writes its whole body before reading
  (http.client, requests, httpx) reads an early 413 instead of a reset.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import Any

from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn

from serving.errors import RequestTimeout, safe_text
from serving.gunicorn_http import (
    DeadlineSocket,
    GatewayRequest,
    TlsOnPlainPort,
    describe,
    http_response,
    json_error,
)
from serving.http_framing import RequestFramer, Scan, Verdict

LINGER_MAX_BYTES = 64 * 1024 * 1024
LINGER_TOTAL_S = 30.0          # nginx lingering_time
LINGER_IDLE_S = 2.0            # nginx lingering_timeout is 5 s; gunicorn lingers 2 s
SWEEP_S = 0.1                  # how often deadlines are checked
READ_SIZE = 256 * 1024
RETRY_AFTER_S = 1
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_ARMED_READ = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLONESHOT
_ARMED_WRITE = select.EPOLLOUT | select.EPOLLONESHOT

# Where a connection is: READING (the loop reads it: idle, or a request under way),
# SERVING (a thread has it), WRITING (the loop sends an answer of its own), LINGERING
# (half-closed, draining until the client closes), CLOSED.
READING, SERVING, WRITING, LINGERING, CLOSED = "reading", "serving", "writing", "lingering", \
    "closed"

Probe = Callable[[bytes], tuple[int, bytes]]  # request bytes -> (status, JSON body)


class GatewayConn(TConn):
    """A client connection: gthread's, plus the buffer and state the event loop keeps."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any,
                 framer: RequestFramer, read_timeout_s: float) -> None:
        super().__init__(cfg, sock, client, server)
        # Threads write with blocking sends; the loop reads and writes with MSG_DONTWAIT.
        sock.setblocking(True)
        self.raw = sock
        self.fd = sock.fileno()
        self.framer = framer
        self.read_timeout_s = read_timeout_s
        self.buf = bytearray()
        self.state = READING
        self.since = time.monotonic()  # when the connection last went idle or was read
        self.deadline = float("inf")   # when the request under way must be complete
        self.received_at = 0.0         # when the loop had the whole request
        self.continued = False         # "100 Continue" sent for the request under way
        self.out = b""                 # WRITING: what is left to send
        self.after_write: Any = None   # WRITING: what follows (keep reading, or linger)
        self.linger_until = 0.0
        self.lingered = 0

    def timeout_error(self) -> RequestTimeout:
        return RequestTimeout(f"The request did not arrive within {self.read_timeout_s:g} s "
                              "(request_timeout_s); the connection is closed.")

    def init(self) -> None:
        fresh = not self.initialized
        super().init()
        if not fresh or self.parser is None:
            return
        unreader = getattr(self.parser, "unreader", None)
        if isinstance(unreader, SocketUnreader):
            unreader.sock = DeadlineSocket(self, unreader.sock)
        if getattr(self.parser, "mesg_class", None) is Request:
            self.parser.mesg_class = GatewayRequest

    def next_request(self, now: float, leftover: bytes | bytearray = b"") -> None:
        """The request is over; what the client sent after it starts the next one."""
        self.framer.reset()
        self.buf = bytearray(leftover)
        self.continued = False
        self.since = now
        self.deadline = now + self.read_timeout_s if leftover else float("inf")

    def take(self, data: bytes, now: float) -> Scan:
        """Append what was read; the framing of the request so far."""
        if not self.buf:
            self.deadline = now + self.read_timeout_s  # the request's first byte
        self.buf += data
        self.since = now
        return self.framer.scan(self.buf)

    def client_gone(self) -> bool:
        """The client closed its side (or reset) while its request waited (nginx answers
        such a request 499 and drops it); pipelined bytes mean it is still there."""
        try:
            return self.raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True


class ConnectionLoop:
    """The worker's connections: read on the loop, served by threads."""

    def __init__(self, cfg: Any, log: Any, defer: Callable[..., None],
                 dispatch: Callable[[GatewayConn], None], probe: Probe,
                 serving: Callable[[], bool]) -> None:
        self.cfg, self.log = cfg, log
        self._defer = defer          # run on the loop thread (the worker's method queue)
        self._dispatch = dispatch    # hand a complete request to a thread
        self._probe = probe
        self._serving = serving      # False once the worker stops: answers close
        self.epoll = select.epoll()
        self.conns: dict[int, GatewayConn] = {}

    def fileno(self) -> int:
        return self.epoll.fileno()

    def add(self, conn: GatewayConn) -> None:
        self.conns[conn.fd] = conn
        self.epoll.register(conn.fd, _ARMED_READ)

    def refuse(self, conn: GatewayConn, message: str) -> None:
        """503 with Retry-After, then close."""
        self._answer(conn, json_error(503, message,
                                      headers=(("Retry-After", str(RETRY_AFTER_S)),)),
                     keep_alive=False)

    def on_events(self, _fileobj: Any = None) -> None:
        for fd, _ in self.epoll.poll(0, 512):
            conn = self.conns.get(fd)
            if conn is None:
                continue
            if conn.state == READING:
                self._read(conn)
            elif conn.state == WRITING:
                self._write(conn)
            elif conn.state == LINGERING:
                self._drain(conn)

    def _recv(self, conn: GatewayConn) -> bytes | None:
        """What the client sent (b"": it closed, or the connection failed), or None when
        nothing is there yet (the connection is re-armed)."""
        try:
            return conn.sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            self.arm(conn, _ARMED_READ)
            return None
        except OSError:
            return b""

    def _read(self, conn: GatewayConn) -> None:
        data = self._recv(conn)
        if data is None:
            return
        if not data:  # the client closed: between requests, or giving up on one
            self.close(conn)
            return
        self.advance(conn, conn.take(data, time.monotonic()))

    def advance(self, conn: GatewayConn, scan: Scan) -> None:
        """Act on the framing of the request under way (loop thread)."""
        if scan.verdict is Verdict.NEED_MORE:
            if scan.send_continue and not conn.continued:
                conn.continued = True
                self._send_now(conn, CONTINUE)
            self.arm(conn, _ARMED_READ)
        elif scan.verdict is Verdict.TLS:
            self._answer(conn, json_error(*describe(TlsOnPlainPort(""), self.cfg)),
                         keep_alive=False)
        elif scan.probe:
            self._answer_probe(conn, scan)
        else:  # complete, or gunicorn's parser must refuse it now: a thread's work
            conn.received_at = time.monotonic()
            conn.state = SERVING
            self._dispatch(conn)

    def _answer_probe(self, conn: GatewayConn, scan: Scan) -> None:
        request = bytes(conn.buf[:scan.end])
        status, body = self._probe(request)
        head_only = request.lstrip(b"\r\n").startswith(b"HEAD ")
        keep_alive = self._serving() and not _asks_close(request)
        conn.next_request(time.monotonic(), conn.buf[scan.end:])
        self._answer(conn, http_response(status, body, keep_alive, head_only), keep_alive)

    def _answer(self, conn: GatewayConn, data: bytes, keep_alive: bool) -> None:
        """Send an answer of the loop's own; then read the next request, or close."""
        conn.out = data
        conn.after_write = self._after_keep_alive if keep_alive else self.linger
        conn.state = WRITING
        if conn.deadline == float("inf"):
            conn.deadline = time.monotonic() + conn.read_timeout_s
        self._write(conn)

    def _write(self, conn: GatewayConn) -> None:
        try:
            sent = conn.sock.send(conn.out, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close(conn)
            return
        conn.out = conn.out[sent:]
        if conn.out:
            self.arm(conn, _ARMED_WRITE)
        else:
            conn.after_write(conn)

    def _after_keep_alive(self, conn: GatewayConn) -> None:
        conn.state = READING
        if conn.buf:
            self.advance(conn, conn.framer.scan(conn.buf))
        else:
            conn.deadline = float("inf")
            self.arm(conn, _ARMED_READ)

    def _send_now(self, conn: GatewayConn, data: bytes) -> None:
        """A few bytes the client waits for (100 Continue); closes if they do not fit."""
        try:
            if conn.sock.send(data, socket.MSG_DONTWAIT) == len(data):
                return
        except OSError:
            pass
        self.linger(conn)

    def linger(self, conn: GatewayConn) -> None:
        """Half-close, then let the loop read and discard what the client still sends
        (bounded), until it closes. From the loop or from a thread that is done with it."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):  # reset, or closed by gunicorn after an error
            self._defer(self.close, conn)
            return
        now = time.monotonic()
        conn.since, conn.linger_until = now, now + min(LINGER_TOTAL_S, conn.read_timeout_s)
        conn.state = LINGERING
        self.arm(conn, _ARMED_READ)

    def _drain(self, conn: GatewayConn) -> None:
        data = self._recv(conn)
        if data is None:
            return
        conn.lingered += len(data)
        if not data or conn.lingered >= LINGER_MAX_BYTES:
            self.close(conn)
            return
        conn.since = time.monotonic()
        self.arm(conn, _ARMED_READ)

    def arm(self, conn: GatewayConn, events: int = _ARMED_READ) -> None:
        try:
            self.epoll.modify(conn.fd, events)
        except (OSError, ValueError):  # closed under us (a thread's error path)
            self._defer(self.close, conn)

    def give_back(self, conn: GatewayConn, keep: bool) -> None:
        """A thread is done with `conn`: read its next request, or linger and close."""
        if not keep:
            self.linger(conn)
            return
        conn.state = READING
        scan = conn.framer.scan(conn.buf) if conn.buf else None
        if scan is not None and scan.verdict is not Verdict.NEED_MORE:
            self._defer(self.advance, conn, scan)  # a probe, or a TLS handshake
            return
        if scan is not None and scan.send_continue and not conn.continued:
            conn.continued = True
            try:
                conn.sock.sendall(CONTINUE)
            except OSError:
                pass
        self.arm(conn, _ARMED_READ)

    def close(self, conn: GatewayConn) -> None:
        """Forget and close a connection (loop thread only, exactly once)."""
        if conn.state == CLOSED:
            return
        conn.state = CLOSED
        if self.conns.get(conn.fd) is conn:
            del self.conns[conn.fd]
            try:
                self.epoll.unregister(conn.fd)
            except (OSError, ValueError):
                pass
        try:
            conn.sock.close()
        except OSError:
            pass

    def sweep(self, now: float, idle_s: float) -> None:
        """Deadlines: idle connections close, requests not complete in time get 408,
        lingering and stuck writes end."""
        for conn in list(self.conns.values()):
            state = conn.state
            if state == READING:
                if conn.buf and now >= conn.deadline:
                    self.log.info("request from %s not complete within %gs: 408",
                                  safe_text(str((conn.client or ("?",))[0])),
                                  conn.read_timeout_s)
                    self._answer(conn, json_error(*describe(conn.timeout_error(), self.cfg)),
                                 keep_alive=False)
                elif not conn.buf and now - conn.since >= idle_s:
                    self.close(conn)
            elif state == LINGERING:
                if now - conn.since >= LINGER_IDLE_S or now >= conn.linger_until:
                    self.close(conn)
            elif state == WRITING and now >= conn.deadline:
                self.close(conn)

    def close_all(self) -> None:
        for conn in list(self.conns.values()):
            self.close(conn)
        self.epoll.close()


def _asks_close(request: bytes) -> bool:
    head = request.lower()
    return b"\r\nconnection: close" in head or b" http/1.0\r\n" in head and \
        b"\r\nconnection: keep-alive" not in head
