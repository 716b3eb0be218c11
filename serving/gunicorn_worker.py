"""The gateway's gunicorn worker: connections cost no thread until a request is complete.

`GatewayWorker` keeps gunicorn's `gthread` worker (gunicorn/workers/gthread.py) for what a
thread does with a request (parse it, call the WSGI app, decide keep-alive) and replaces
how connections wait. Stock gthread hands a new or kept-alive connection to a thread,
which then reads the request head and body with blocking reads: a client that trickles
its head holds a thread for as long as it likes, and more such clients than threads
starve everyone (72 slow clients against 2 workers x 32 threads answered 0 of 2 good
requests). Here, as in nginx, Envoy and uvicorn, the worker's event loop reads:

- Every connection sits in one epoll set (one-shot, re-armed per read) watched by the
  worker's main thread. Bytes are read without blocking into the connection's buffer
  until `serving.http_framing.RequestFramer` says the request is complete (head and body
  by Content-Length or chunks); only then does a thread get it, and gunicorn's parser
  finds every byte buffered. A request that gunicorn must refuse (malformed head, body
  over the limit) goes to a thread at once, so the answers are gunicorn's and the
  gateway's as before (serving/gunicorn_http.py).
- Deadlines per connection: a connection waits `keepalive` s (gunicorn's setting) for the
  first byte of each request, then REQUEST_TIMEOUT_S for the whole request; past that it
  gets 408 and is closed. `Expect: 100-continue` is answered by the loop.
- `GET /healthz` and `GET /readyz` are answered by the loop itself (serving/rest/probes.py
  `probe_answer`): a probe never waits for a thread behind inference.
- At most WORKER_CONNECTIONS connections per worker; past that a new connection gets 503
  with Retry-After and is closed (it never waits unanswered in the backlog).
- When the request is complete, the time is stamped into the WSGI environ (`RECEIVED_AT`),
  so time spent waiting for a thread counts against the request's deadline and queue
  budget (serving/core/admission.py), and a `CLIENT_GONE` check lets the core drop work
  whose client has closed its connection.
- Every close is a lingering close on the loop: the worker half-closes, then reads and
  discards what the client still sends, up to `LINGER_MAX_BYTES` / `LINGER_TOTAL_S`, until
  the client closes or pauses `LINGER_IDLE_S` (nginx's lingering close,
  ngx_http_request.c `ngx_http_set_lingering_close`): a client that writes its whole body
  before reading (http.client, requests, httpx) reads an early 413 instead of a reset.

Kept from the gthread-based worker of the performance issue: a thread keeps its kept-alive
connection while the client sends its next request within STICKY_S and the worker has no
more connections than threads (one recv instead of a trip through the loop); the status
line and headers leave in one send with the body; accept backoff spreads connections over
the workers (a worker holding connections waits ACCEPT_BACKOFF_S per connection, at most
ACCEPT_BACKOFF_MAX_S, before it accepts again, so the emptier worker takes the next one).

Plain HTTP/1.1 only: TLS ends in front of the gateway, and gunicorn's cleartext HTTP/2
(`http2_cleartext`) is off in serving/gunicorn_config.py; the worker refuses to start
otherwise. Select it with `worker_class = "serving.gunicorn_worker.GatewayWorker"`.
"""

from __future__ import annotations

import errno
import select
import selectors
import socket
import threading
import time
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader, Unreader
from gunicorn.workers.gthread import PollableMethodQueue, TConn, ThreadWorker

from serving.config import Settings
from serving.core.batching import Arrivals
from serving.errors import GatewayError, RequestTimeout, safe_text
from serving.gunicorn_http import (
    BoundedChunkedReader,
    CoalescingSocket,
    DeadlineSocket,
    GatewayRequest,
    TlsOnPlainPort,
    describe,
    http_response,
    json_error,
)
from serving.http_framing import RequestFramer, Scan, Verdict
from serving.rest.context import CLIENT_GONE, RECEIVED_AT

# The gunicorn internals this module and serving/gunicorn_http.py rely on (gunicorn is
# pinned to the minor version they are written for, pyproject.toml): methods they override
# or call and attributes they read, by class. tests/unit/serving/test_gunicorn_contract.py
# checks each against the installed gunicorn, so an upgrade that renames one fails a test
# instead of silently bypassing an override.
GUNICORN_INTERNALS: dict[type, tuple[str, ...]] = {
    ThreadWorker: ("init_process", "run", "load_wsgi", "accept", "set_accept_enabled",
                   "wait_for_and_dispatch_events", "handle", "handle_request",
                   "_keepalive_after", "handle_error", "is_parent_alive", "notify",
                   "nr_conns", "_accepting", "alive", "cfg", "log", "wsgi", "tpool",
                   "poller", "method_queue", "sockets"),
    TConn: ("init", "initialized", "parser", "sock", "cfg", "data_ready"),
    PollableMethodQueue: ("fileno", "run_callbacks", "defer", "close"),
    Request: ("set_body_reader", "force_close", "body", "unreader", "_expected_100_continue"),
    ChunkedReader: ("parse_chunk_size",),
    LengthReader: ("length",),
    SocketUnreader: ("sock",),
    Unreader: ("unread", "take_buffered"),
}

LINGER_MAX_BYTES = 64 * 1024 * 1024
LINGER_TOTAL_S = 30.0          # nginx lingering_time
LINGER_IDLE_S = 2.0            # nginx lingering_timeout is 5 s; gunicorn lingers 2 s
# How long a thread waits for the next request on its kept-alive connection before it
# hands the connection back to the loop: a client in a request loop sends the next one
# within microseconds of reading the answer.
STICKY_S = 0.02
ACCEPT_BACKOFF_S = 0.0005
ACCEPT_BACKOFF_MAX_S = 0.005
STOP_IDLE_S = 2.0              # a stopping worker's idle kept-alive connections (gthread's)
SWEEP_S = 0.1                  # how often deadlines are checked
NOTIFY_S = 1.0                 # heartbeat to the master (its timeout is request_timeout + 30)
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


class GatewayWorker(ThreadWorker):
    """gthread's request handling behind an event loop that reads whole requests."""

    _accept_resume = 0.0  # monotonic time before which this worker accepts nothing
    _refusal_logged = 0.0
    _arrivals: Arrivals | None = None
    _service: Any = None
    _settings = Settings()

    def init_process(self) -> None:
        if self.cfg.is_ssl or self.cfg.http2_cleartext != "off":
            raise RuntimeError("GatewayWorker serves plain HTTP/1.1 only: end TLS in front "
                               "of the gateway and leave http2_cleartext off")
        self._epoll = select.epoll()
        self._conns: dict[int, GatewayConn] = {}
        self._local = threading.local()
        self._next_notify = 0.0
        super().init_process()

    def load_wsgi(self) -> None:
        # The limits come from the app's own Settings (`python -m serving` flags included),
        # never from the environment read again here. (An app that is not the gateway's,
        # such as the bench's framework floor, gets the defaults.)
        super().load_wsgi()
        config = getattr(self.wsgi, "config", None) or {}
        self._settings = config.get("MULTIHEAD_SETTINGS") or Settings()
        BoundedChunkedReader.max_bytes = self._settings.max_request_bytes
        extensions = getattr(self.wsgi, "extensions", None) or {}
        self._service = extensions.get("multihead")
        self._arrivals = getattr(self._service, "arrivals", None)
        if hasattr(self.wsgi, "wsgi_app"):  # Flask's documented place for middleware
            self.wsgi.wsgi_app = self._stamped(self.wsgi.wsgi_app)
        # gunicorn's own limit on a buffered head (gunicorn/http/message.py, Message)
        fields = self.cfg.limit_request_fields
        fields = fields if 0 < fields <= 32768 else 32768
        size = self.cfg.limit_request_field_size if self.cfg.limit_request_field_size > 0 \
            else 8190
        self._max_head = fields * (size + 2) + 4
        from serving.rest.probes import PROBE_PATHS

        self._probes = frozenset(p.encode() for p in PROBE_PATHS) \
            if self._service is not None else frozenset()

    def _stamped(self, app: Any) -> Any:
        local = self._local

        def stamped(environ: dict[str, Any], start_response: Any) -> Any:
            conn = getattr(local, "conn", None)
            if conn is not None:
                environ[RECEIVED_AT] = conn.received_at
                environ[CLIENT_GONE] = conn.client_gone
            return app(environ, start_response)

        return stamped

    def _framer(self) -> RequestFramer:
        return RequestFramer(self.cfg.limit_request_line or 8190, self._max_head,
                             self._settings.max_request_bytes, self._probes)

    # -- the loop (main thread) ----------------------------------------------------------
    def run(self) -> None:
        self.poller.register(self.method_queue.fileno(), selectors.EVENT_READ,
                             self.method_queue.run_callbacks)
        self.poller.register(self._epoll.fileno(), selectors.EVENT_READ, self._on_events)
        next_sweep = 0.0
        while self.alive:
            now = time.monotonic()
            if now >= self._next_notify:
                self.notify()
                self._next_notify = now + NOTIFY_S
            self.set_accept_enabled(self.nr_conns < 2 * self._settings.worker_connections)
            self.wait_for_and_dispatch_events(timeout=SWEEP_S)
            if not self.is_parent_alive():
                break
            now = time.monotonic()
            if now >= next_sweep:
                self._sweep(now, self.cfg.keepalive)
                next_sweep = now + SWEEP_S
        self._stop()

    def _stop(self) -> None:
        """Graceful stop: no new connections; requests under way and in threads finish,
        idle kept-alive connections get STOP_IDLE_S for a request already on its way
        (answered with "Connection: close")."""
        self.set_accept_enabled(False)
        stop = time.monotonic() + self.cfg.graceful_timeout
        while self._conns and time.monotonic() < stop:
            self.notify()
            self.wait_for_and_dispatch_events(timeout=SWEEP_S)
            self._sweep(time.monotonic(), min(self.cfg.keepalive, STOP_IDLE_S))
        for conn in list(self._conns.values()):
            self._close(conn)
        self.tpool.shutdown(wait=False)
        self.poller.close()
        self._epoll.close()
        self.method_queue.close()
        for s in self.sockets:
            s.close()

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = GatewayConn(self.cfg, client_sock, client_addr, listener.getsockname(),
                           self._framer(), float(self._settings.request_timeout_s))
        self._conns[conn.fd] = conn
        self._epoll.register(conn.fd, _ARMED_READ)
        limit = self._settings.worker_connections
        if self.nr_conns > limit:
            metrics = getattr(self._service, "metrics", None)
            if metrics is not None:
                metrics.record_shed("", "connections")
            now = time.monotonic()
            if now >= self._refusal_logged + NOTIFY_S:
                self._refusal_logged = now
                self.log.warning("worker %s holds %d connections (worker_connections %d): "
                                 "new ones get 503", self.pid, self.nr_conns - 1, limit)
            self._answer(conn, json_error(
                503, f"The gateway worker holds its limit of {limit} connections "
                     "(worker_connections); retry shortly.",
                headers=(("Retry-After", str(RETRY_AFTER_S)),)), keep_alive=False)
        if self.cfg.workers > 1:
            self._accept_resume = time.monotonic() + min(self.nr_conns * ACCEPT_BACKOFF_S,
                                                         ACCEPT_BACKOFF_MAX_S)
            self.set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        # The loop re-enables accepting on every turn; not before the backoff ends.
        super().set_accept_enabled(enabled and time.monotonic() >= self._accept_resume)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        pause = self._accept_resume - time.monotonic()
        if pause > 0 and not self._accepting and self.alive:
            timeout = min(timeout, pause)
        super().wait_for_and_dispatch_events(timeout)

    def _on_events(self, _fileobj: Any) -> None:
        for fd, _ in self._epoll.poll(0, 512):
            conn = self._conns.get(fd)
            if conn is None:
                continue
            if conn.state == READING:
                self._read(conn)
            elif conn.state == WRITING:
                self._write(conn)
            elif conn.state == LINGERING:
                self._drain(conn)

    def _read(self, conn: GatewayConn) -> None:
        try:
            data = conn.sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            self._arm(conn, _ARMED_READ)
            return
        except OSError:
            self._close(conn)
            return
        if not data:  # the client closed: between requests, or giving up on one
            self._close(conn)
            return
        self._advance(conn, conn.take(data, time.monotonic()))

    def _advance(self, conn: GatewayConn, scan: Scan) -> None:
        """Act on the framing of the request under way (loop thread)."""
        if scan.verdict is Verdict.NEED_MORE:
            if scan.send_continue and not conn.continued:
                conn.continued = True
                self._send_now(conn, CONTINUE)
            self._arm(conn, _ARMED_READ)
        elif scan.verdict is Verdict.TLS:
            self._answer(conn, json_error(*describe(TlsOnPlainPort(""), self.cfg)),
                         keep_alive=False)
        elif scan.probe:
            self._answer_probe(conn, scan)
        else:  # complete, or gunicorn's parser must refuse it now: a thread's work
            conn.received_at = time.monotonic()
            conn.state = SERVING
            self.tpool.submit(self.handle, conn)

    def _answer_probe(self, conn: GatewayConn, scan: Scan) -> None:
        status, body = self._probe(conn.buf[:scan.end])
        head_only = conn.buf.startswith(b"HEAD") or conn.buf.startswith(b"\r\nHEAD")
        keep_alive = self.alive and not _asks_close(bytes(conn.buf[:scan.end]))
        leftover = conn.buf[scan.end:]
        conn.next_request(time.monotonic(), leftover)
        self._answer(conn, http_response(status, body, keep_alive, head_only), keep_alive)

    def _probe(self, request: bytes | bytearray) -> tuple[int, bytes]:
        from serving.rest.probes import probe_answer

        start = 2 if request.startswith(b"\r\n") else 0
        path = bytes(request[start:request.find(b"\r\n", start)]).split(b" ")[1]
        try:
            return probe_answer(self._service, path.split(b"?", 1)[0].decode())
        except Exception:  # noqa: BLE001 - a probe answers, whatever fails
            self.log.exception("probe %s failed", safe_text(path.decode("latin-1")))
            return 503, b'{"error": "The readiness check failed; see the gateway log.", ' \
                        b'"code": "UNAVAILABLE"}'

    def _answer(self, conn: GatewayConn, data: bytes, keep_alive: bool) -> None:
        """Send an answer of the loop's own; then read the next request, or close."""
        conn.out = data
        conn.after_write = self._after_keep_alive if keep_alive else self._linger
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
            self._close(conn)
            return
        conn.out = conn.out[sent:]
        if conn.out:
            self._arm(conn, _ARMED_WRITE)
        else:
            conn.after_write(conn)

    def _after_keep_alive(self, conn: GatewayConn) -> None:
        conn.state = READING
        if conn.buf:
            self._advance(conn, conn.framer.scan(conn.buf))
        else:
            conn.deadline = float("inf")
            self._arm(conn, _ARMED_READ)

    def _send_now(self, conn: GatewayConn, data: bytes) -> None:
        """A few bytes the client waits for (100 Continue); closes if they do not fit."""
        try:
            if conn.sock.send(data, socket.MSG_DONTWAIT) == len(data):
                return
        except OSError:
            pass
        self._linger(conn)

    def _linger(self, conn: GatewayConn) -> None:
        """Half-close, then read and discard what the client still sends (bounded)."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        now = time.monotonic()
        conn.state, conn.since = LINGERING, now
        conn.linger_until = now + min(LINGER_TOTAL_S, conn.read_timeout_s)
        self._arm(conn, _ARMED_READ)

    def _drain(self, conn: GatewayConn) -> None:
        try:
            data = conn.sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            self._arm(conn, _ARMED_READ)
            return
        except OSError:
            data = b""
        conn.lingered += len(data)
        if not data or conn.lingered >= LINGER_MAX_BYTES:
            self._close(conn)
            return
        conn.since = time.monotonic()
        self._arm(conn, _ARMED_READ)

    def _arm(self, conn: GatewayConn, events: int) -> None:
        try:
            self._epoll.modify(conn.fd, events)
        except (OSError, ValueError):  # closed under us (a thread's error path)
            self.method_queue.defer(self._close, conn)

    def _close(self, conn: GatewayConn) -> None:
        """Forget and close a connection (loop thread only, exactly once)."""
        if conn.state == CLOSED:
            return
        conn.state = CLOSED
        if self._conns.get(conn.fd) is conn:
            del self._conns[conn.fd]
            try:
                self._epoll.unregister(conn.fd)
            except (OSError, ValueError):
                pass
        self.nr_conns -= 1
        try:
            conn.sock.close()
        except OSError:
            pass

    def _sweep(self, now: float, idle_s: float) -> None:
        """Deadlines: idle connections close, requests not complete in time get 408,
        lingering and stuck writes end."""
        for conn in list(self._conns.values()):
            state = conn.state
            if state == READING:
                if conn.buf and now >= conn.deadline:
                    self.log.info("request from %s not complete within %gs: 408",
                                  (conn.client or ("?",))[0], conn.read_timeout_s)
                    self._answer(conn, json_error(*describe(conn.timeout_error(), self.cfg)),
                                 keep_alive=False)
                elif not conn.buf and now - conn.since >= idle_s:
                    self._close(conn)
            elif state == LINGERING:
                if now - conn.since >= LINGER_IDLE_S or now >= conn.linger_until:
                    self._close(conn)
            elif state == WRITING and now >= conn.deadline:
                self._close(conn)

    # -- a request (a pool thread) -------------------------------------------------------
    def handle(self, conn: TConn) -> Any:
        """Serve the request(s) the loop buffered on `conn`, then give it back."""
        assert isinstance(conn, GatewayConn)
        self._local.conn = conn
        keep = False
        try:
            conn.data_ready = True  # gthread waits for no first byte: it is here
            conn.init()
            while True:
                conn.parser.unreader.unread(bytes(conn.buf))
                conn.buf = bytearray()
                keep = super().handle(conn) is True
                if not keep:
                    return False
                conn.next_request(time.monotonic(), conn.parser.unreader.take_buffered())
                if not self._next_request_here(conn):
                    return True
                conn.received_at = time.monotonic()
        except _ClientClosed:
            return False
        except Exception:  # noqa: BLE001 - the connection must go back to the loop
            self.log.exception("serving a connection failed")
            keep = False
            return False
        finally:
            self._local.conn = None
            self._release(conn, keep)

    def _next_request_here(self, conn: GatewayConn) -> bool:
        """Whether this thread serves the connection's next request itself: it is buffered
        already, or arrives complete within STICKY_S while the worker has no more
        connections than threads."""
        if conn.buf:
            return conn.framer.scan(conn.buf).verdict is not Verdict.NEED_MORE
        if not self.alive or self.nr_conns > self.cfg.threads:
            return False
        poller = select.poll()  # not select(): descriptors above 1023 are fine
        try:
            poller.register(conn.sock, select.POLLIN)
            if not poller.poll(STICKY_S * 1000):
                return False
            data = conn.sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except (OSError, ValueError):
            data = b""
        if not data:
            raise _ClientClosed()
        scan = conn.take(data, time.monotonic())
        return scan.verdict is not Verdict.NEED_MORE and not scan.probe and self.alive

    def _release(self, conn: GatewayConn, keep: bool) -> None:
        """Give the connection back to the loop: to read its next request, or to linger
        and close."""
        if keep:
            conn.state = READING
            scan = conn.framer.scan(conn.buf) if conn.buf else None
            if scan is not None and scan.verdict is not Verdict.NEED_MORE:
                self.method_queue.defer(self._advance, conn, scan)  # a probe, or TLS
                return
            if scan is not None and scan.send_continue and not conn.continued:
                conn.continued = True
                self._send_now_from_thread(conn)
            self._arm(conn, _ARMED_READ)
            return
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            self.method_queue.defer(self._close, conn)
            return
        now = time.monotonic()
        conn.since, conn.linger_until = now, now + min(LINGER_TOTAL_S, conn.read_timeout_s)
        conn.state = LINGERING
        self._arm(conn, _ARMED_READ)

    def _send_now_from_thread(self, conn: GatewayConn) -> None:
        try:
            conn.sock.sendall(CONTINUE)
        except OSError:
            pass

    def handle_request(self, req: Any, conn: TConn) -> Any:
        if isinstance(conn, GatewayConn) and conn.continued:
            req._expected_100_continue = False  # the loop said "100 Continue" already
        sock = conn.sock
        conn.sock = CoalescingSocket(sock)  # what wsgi.create hands the response
        try:
            # From its head on, the request may join a batch soon (serving/core/batching.py)
            if self._arrivals is None:
                return super().handle_request(req, conn)
            with self._arrivals.request():
                return super().handle_request(req, conn)
        finally:
            try:
                conn.sock.flush()
            finally:
                conn.sock = sock

    def _keepalive_after(self, conn: TConn, keepalive: bool) -> bool:
        # Draining an unread body after the answer may meet a bad chunk or the deadline:
        # the answer is out already, so close instead of answering twice.
        try:
            return super()._keepalive_after(conn, keepalive)
        except (GatewayError, http_errors.ParseException, http_errors.NoMoreData):
            return False

    def handle_error(self, req: Any, client: socket.socket, addr: Any,
                     exc: BaseException) -> None:
        status, message = describe(exc, self.cfg)
        ip = (addr or ("", -1))[0]
        if status >= 500:
            self.log.exception("Error handling request from ip=%s", ip)
        else:
            self.log.warning("Invalid request from ip=%s: %s -> %d", ip,
                             safe_text(str(exc))[:200], status)
        try:
            client.sendall(json_error(status, message))
        except OSError:
            self.log.debug("Failed to send error message.")


class _ClientClosed(Exception):
    """The client closed its kept-alive connection (a thread saw it)."""


def _asks_close(request: bytes) -> bool:
    head = request.lower()
    return b"\r\nconnection: close" in head or b" http/1.0\r\n" in head and \
        b"\r\nconnection: keep-alive" not in head
