"""The gateway's gunicorn worker: connections cost no thread until a request is complete.

`GatewayWorker` keeps gunicorn's `gthread` worker (gunicorn/workers/gthread.py) for what a
thread does with a request (parse it, call the WSGI app, decide keep-alive) and replaces
how connections wait. Stock gthread hands a new or kept-alive connection to a thread,
which then reads the request head and body with blocking reads: a client that trickles
its head holds a thread for as long as it likes, and more such clients than threads
starve everyone (72 slow clients against 2 workers x 32 threads answered 0 of 2 good
requests). Here, as in nginx, Envoy and uvicorn, the worker's event loop reads
(serving/gunicorn_loop.py):

- Bytes are read without blocking into the connection's buffer until
  `serving.http_framing.RequestFramer` says the request is complete (head and body by
  Content-Length or chunks); only then does a thread get it, and gunicorn's parser finds
  every byte buffered. A request that gunicorn must refuse (malformed head, body over the
  limit) goes to a thread at once, so the answers are gunicorn's and the gateway's as
  before (serving/gunicorn_http.py).
- Deadlines per connection: `keepalive` s (gunicorn's setting) for the first byte of each
  request, then REQUEST_TIMEOUT_S for the whole request (408). `Expect: 100-continue` is
  answered by the loop, and so are `GET /healthz` and `GET /readyz` (serving/rest/probes.py
  `probe_answer`): a probe never waits for a thread behind inference.
- At most WORKER_CONNECTIONS connections per worker; past that a new connection gets 503
  with Retry-After and is closed (it never waits unanswered in the backlog).
- When the request is complete, the time is stamped into the WSGI environ (`RECEIVED_AT`),
  so time spent waiting for a thread counts against the request's deadline and queue
  budget (serving/core/admission.py), and a `CLIENT_GONE` check lets the core drop work
  whose client has closed its connection.
- Every close is a lingering close on the loop (nginx's), so a client that writes its
  whole body before reading still reads an early 413.

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

from gunicorn.glogging import Logger
from gunicorn.http import errors as http_errors
from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader, Unreader
from gunicorn.workers.gthread import PollableMethodQueue, TConn, ThreadWorker

from serving.config import Settings
from serving.core.batching import Arrivals
from serving.errors import GatewayError, safe_text
from serving.gunicorn_http import BoundedChunkedReader, CoalescingSocket, describe, json_error
from serving.gunicorn_loop import READ_SIZE, SWEEP_S, ConnectionLoop, GatewayConn
from serving.http_framing import RequestFramer, Verdict
from serving.rest.context import CLIENT_GONE, RECEIVED_AT
from serving.rest.probes import PROBE_PATHS, probe_answer

# The gunicorn internals this worker, serving/gunicorn_loop.py and serving/gunicorn_http.py
# rely on (gunicorn is pinned to the minor version they are written for, pyproject.toml):
# methods they override or call and attributes they read, by class.
# tests/unit/serving/test_gunicorn_contract.py checks each against the installed gunicorn,
# so an upgrade that renames one fails a test instead of silently bypassing an override.
GUNICORN_INTERNALS: dict[type, tuple[str, ...]] = {
    ThreadWorker: ("init_process", "run", "load_wsgi", "accept", "set_accept_enabled",
                   "wait_for_and_dispatch_events", "handle", "handle_request",
                   "_keepalive_after", "handle_error", "is_parent_alive", "notify",
                   "_accepting", "alive", "cfg", "log", "wsgi", "tpool", "poller",
                   "method_queue", "sockets"),
    TConn: ("init", "initialized", "parser", "sock", "cfg", "data_ready"),
    PollableMethodQueue: ("fileno", "run_callbacks", "defer", "close"),
    Request: ("set_body_reader", "force_close", "body", "unreader", "_expected_100_continue"),
    ChunkedReader: ("parse_chunk_size",),
    LengthReader: ("length",),
    SocketUnreader: ("sock",),
    Unreader: ("unread", "take_buffered"),
    # serving/logs.py GunicornLogger silences it; gthread's handle_request calls it.
    Logger: ("access",),
}

# How long a thread waits for the next request on its kept-alive connection before it
# hands the connection back to the loop: a client in a request loop sends the next one
# within microseconds of reading the answer.
STICKY_S = 0.02
ACCEPT_BACKOFF_S = 0.0005
ACCEPT_BACKOFF_MAX_S = 0.005
STOP_IDLE_S = 2.0              # a stopping worker's idle kept-alive connections (gthread's)
NOTIFY_S = 1.0                 # heartbeat to the master (its timeout is request_timeout + 30)


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
        self._probes = frozenset(p.encode() for p in PROBE_PATHS) \
            if self._service is not None else frozenset()
        self._loop = ConnectionLoop(self.cfg, self.log, self.method_queue.defer,
                                    lambda conn: self.tpool.submit(self.handle, conn),
                                    self._probe, lambda: self.alive)

    def _stamped(self, app: Any) -> Any:
        local = self._local

        def stamped(environ: dict[str, Any], start_response: Any) -> Any:
            conn = getattr(local, "conn", None)
            if conn is not None:
                environ[RECEIVED_AT] = conn.received_at
                environ[CLIENT_GONE] = conn.client_gone
            return app(environ, start_response)

        return stamped

    def _probe(self, request: bytes) -> tuple[int, bytes]:
        start = 2 if request.startswith(b"\r\n") else 0
        path = request[start:request.find(b"\r\n", start)].split(b" ")[1]
        try:
            return probe_answer(self._service, path.split(b"?", 1)[0].decode())
        except Exception:  # noqa: BLE001 - a probe answers, whatever fails
            self.log.exception("probe %s failed", safe_text(path.decode("latin-1")))
            return 503, b'{"error": "The readiness check failed; see the gateway log.", ' \
                        b'"code": "UNAVAILABLE"}'

    # -- the main thread -----------------------------------------------------------------
    def run(self) -> None:
        self.poller.register(self.method_queue.fileno(), selectors.EVENT_READ,
                             self.method_queue.run_callbacks)
        self.poller.register(self._loop.fileno(), selectors.EVENT_READ, self._loop.on_events)
        next_sweep = 0.0
        while self.alive:
            now = time.monotonic()
            if now >= self._next_notify:
                self.notify()
                self._next_notify = now + NOTIFY_S
            self.set_accept_enabled(len(self._loop.conns) <
                                    2 * self._settings.worker_connections)
            self.wait_for_and_dispatch_events(timeout=SWEEP_S)
            if not self.is_parent_alive():
                break
            now = time.monotonic()
            if now >= next_sweep:
                self._loop.sweep(now, self.cfg.keepalive)
                next_sweep = now + SWEEP_S
        self._stop()

    def _stop(self) -> None:
        """Graceful stop: no new connections; requests under way and in threads finish,
        idle kept-alive connections get STOP_IDLE_S for a request already on its way
        (answered with "Connection: close")."""
        self.set_accept_enabled(False)
        self._take_backlog()
        stop = time.monotonic() + self.cfg.graceful_timeout
        while self._loop.conns and time.monotonic() < stop:
            self.notify()
            self.wait_for_and_dispatch_events(timeout=SWEEP_S)
            self._loop.sweep(time.monotonic(), min(self.cfg.keepalive, STOP_IDLE_S))
        self._loop.close_all()
        self.tpool.shutdown(wait=False)
        self.poller.close()
        self.method_queue.close()
        for s in self.sockets:
            s.close()

    def _take_backlog(self) -> None:
        """Accept every connection the kernel has queued, then close this worker's copies
        of the listening sockets.

        A connection the kernel completed just before the stop waits in the listen
        backlog, request and all, until the last copy of the socket closes, and is reset
        there unanswered: taken now, it is served like the others. Closing the copies at
        once (the master closed its own before signalling, gunicorn/arbiter.py `stop`)
        turns a connection that comes later into a refused connect, which a client knows
        it may retry elsewhere, instead of one that is accepted by the kernel and reset
        after its request went out. On a HUP the new workers hold the socket and take
        what comes."""
        for listener in self.sockets:
            listener.setblocking(False)
            while self.accept(listener):
                pass
            listener.close()

    def accept(self, listener: socket.socket) -> bool:
        """Accept one connection; whether there was one (gthread ignores the answer)."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return e.errno == errno.ECONNABORTED
        conn = GatewayConn(self.cfg, client_sock, client_addr, listener.getsockname(),
                           RequestFramer(self.cfg.limit_request_line or 8190, self._max_head,
                                         self._settings.max_request_bytes, self._probes),
                           float(self._settings.request_timeout_s))
        self._loop.add(conn)
        held, limit = len(self._loop.conns), self._settings.worker_connections
        if held > limit:
            self._refuse(conn, held, limit)
        if self.cfg.workers > 1:
            self._accept_resume = time.monotonic() + min(held * ACCEPT_BACKOFF_S,
                                                         ACCEPT_BACKOFF_MAX_S)
            self.set_accept_enabled(False)
        return True

    def _refuse(self, conn: GatewayConn, held: int, limit: int) -> None:
        metrics = getattr(self._service, "metrics", None)
        if metrics is not None:
            metrics.record_shed("", "connections")
        now = time.monotonic()
        if now >= self._refusal_logged + NOTIFY_S:
            self._refusal_logged = now
            self.log.warning("worker %s holds %d connections (worker_connections %d): new "
                             "ones get 503", self.pid, held - 1, limit)
        self._loop.refuse(conn, f"The gateway worker holds its limit of {limit} connections "
                                "(worker_connections); retry shortly.")

    def set_accept_enabled(self, enabled: bool) -> None:
        # The loop re-enables accepting on every turn; not before the backoff ends.
        super().set_accept_enabled(enabled and time.monotonic() >= self._accept_resume)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        pause = self._accept_resume - time.monotonic()
        if pause > 0 and not self._accepting and self.alive:
            timeout = min(timeout, pause)
        super().wait_for_and_dispatch_events(timeout)

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
            keep = False
            return False
        except Exception:  # noqa: BLE001 - the connection must go back to the loop
            self.log.exception("serving a connection failed")
            keep = False
            return False
        finally:
            self._local.conn = None
            self._loop.give_back(conn, keep)

    def _next_request_here(self, conn: GatewayConn) -> bool:
        """Whether this thread serves the connection's next request itself: it is buffered
        already, or arrives complete within STICKY_S while the worker has no more
        connections than threads."""
        if conn.buf:
            return conn.framer.scan(conn.buf).verdict is not Verdict.NEED_MORE
        if not self.alive or len(self._loop.conns) > self.cfg.threads:
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
