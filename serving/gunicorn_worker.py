"""gunicorn's threaded worker, hardened against clients that send nothing valid.

`GatewayWorker` is gunicorn's `gthread` worker (gunicorn/workers/gthread.py) with
these changes, all on the HTTP/1.1 connection level, below Flask:

- HTTP-level errors (bad request line, 431 headers too large, Content-Length with
  chunked, ...) answer the gateway's JSON error shape `{"error", "code"}`
  (serving/rest/errors.py) instead of gunicorn's HTML page (`handle_error`).
- A request must arrive, headers and body, within REQUEST_TIMEOUT_S of its first
  byte: every socket read of the parser is bounded by that deadline, and a client
  that stalls gets 408 and a closed connection. Stock gthread reads a started
  request with no timeout at all, so a chunk size of 10^16 or a TLS ClientHello on
  the plain port held a thread forever. (A connection that sends no byte at all is
  gthread's own business: it waits 5 s in a thread, then `keepalive` s in the poller.)
- A TLS handshake on the plain port is answered at once with a 400 saying so,
  as nginx answers plain HTTP on its TLS port.
- Chunks announcing more than MAX_REQUEST_BYTES in all are a 413 as soon as the size
  line that crosses the limit is read. A connection that closes after an early
  answer (a 413 while the client is still sending) first reads and discards what the
  client sends, up to `LINGER_MAX_BYTES` / `LINGER_TOTAL_S` (nginx's lingering
  close, ngx_http_request.c `ngx_http_set_lingering_close`): a client that writes its
  whole body before reading (http.client, requests, httpx) then reads the 413
  instead of a reset. gunicorn itself drains only 64 KiB (`util.close_graceful`).

Three change what a request costs (make bench; the performance issue's profile had 32 %
of a worker in gunicorn, 16 % of it in sends):

- A thread keeps its kept-alive connection while the client sends its next request
  within STICKY_S, as long as the worker has no more connections than threads. Stock
  gthread hands every kept-alive connection back to the poller thread after each
  answer (a pipe write, two epoll_ctl calls and two thread hand-offs a request); with
  a thread per connection the next request is one blocking recv away. Beyond the
  thread count, or when the client pauses, the stock path takes over.
- The status line and headers go out in one send with the body (`_CoalescingSocket`),
  not in two.
- Connections are spread over the workers. They share one listening socket (see
  serving/gunicorn.conf.py), and every worker's poller wakes for a new connection;
  stock gthread accepts as fast as it can, so a burst of connections (a client pool
  opening) often lands on one worker while the other idles: 8 connections split 8/0
  serve half as fast. Here a worker that holds connections waits ACCEPT_BACKOFF_S per
  connection (at most ACCEPT_BACKOFF_MAX_S) before it accepts again, so the worker
  with fewer connections takes the next one; if it is busy, the wait is that short.

Select it with `worker_class = "serving.gunicorn_worker.GatewayWorker"`.
"""

from __future__ import annotations

import errno
import json
import select
import socket
import time
from http import HTTPStatus
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from serving.config import Settings
from serving.core.batching import Arrivals
from serving.errors import (
    GatewayError,
    PayloadTooLarge,
    RequestTimeout,
    code_for_http_status,
    safe_text,
)

# The gunicorn internals this module relies on (gunicorn is pinned to the minor version
# they are written for, pyproject.toml): methods it overrides or calls and attributes it
# reads, by class. tests/unit/serving/test_gunicorn_contract.py checks each against the
# installed gunicorn, so an upgrade that renames one fails a test instead of silently
# bypassing an override.
GUNICORN_INTERNALS: dict[type, tuple[str, ...]] = {
    ThreadWorker: ("load_wsgi", "accept", "set_accept_enabled", "wait_for_and_dispatch_events",
                   "handle", "handle_request", "_keepalive_after", "handle_error",
                   "enqueue_req", "nr_conns", "_accepting", "alive", "cfg", "log", "wsgi"),
    TConn: ("init", "close", "initialized", "is_http2", "parser", "sock", "cfg"),
    Request: ("set_body_reader", "force_close", "body", "unreader"),
    ChunkedReader: ("parse_chunk_size",),
    LengthReader: ("length",),
    SocketUnreader: ("sock", "buf"),
}

TLS_HANDSHAKE = 0x16           # first byte of a TLS record carrying a handshake
LINGER_MAX_BYTES = 64 * 1024 * 1024
LINGER_TOTAL_S = 30.0          # nginx lingering_time
LINGER_IDLE_S = 2.0            # nginx lingering_timeout is 5 s; gunicorn lingers 2 s
# How long a thread waits for the next request on its kept-alive connection before it
# hands the connection back to the poller: a client in a request loop sends the next
# one within microseconds of reading the answer.
STICKY_S = 0.02
ACCEPT_BACKOFF_S = 0.0005
ACCEPT_BACKOFF_MAX_S = 0.005



class TlsOnPlainPort(http_errors.ParseException):
    """The client opened a TLS handshake on the plain-HTTP port."""


def describe(exc: BaseException, cfg: Any) -> tuple[int, str]:
    """(HTTP status, one sentence) for an error gunicorn met before the app answered."""
    detail = safe_text(str(exc))[:200]
    if isinstance(exc, GatewayError):
        return exc.status, exc.message
    if isinstance(exc, TlsOnPlainPort):
        return 400, ("This port speaks plain HTTP, but the client sent a TLS handshake; use "
                     "http:// (TLS ends in front of the gateway).")
    if isinstance(exc, http_errors.LimitRequestLine):
        return 414, (f"The request line is longer than {cfg.limit_request_line} bytes "
                     "(limit_request_line).")
    if isinstance(exc, http_errors.LimitRequestHeaders):
        return 431, (f"The request headers are too large or too many ({detail}; at most "
                     f"{cfg.limit_request_fields} fields of {cfg.limit_request_field_size} "
                     "bytes).")
    if isinstance(exc, http_errors.UnsupportedTransferCoding):
        # RFC 9112 section 6.1 suggests 501 (gunicorn's answer); the gateway's contract is
        # that bad input never gets a 5xx, and only chunked is ever needed here.
        return 400, (f"Transfer-Encoding must be chunked; the request uses a coding the "
                     f"gateway does not support ({detail}).")
    if isinstance(exc, http_errors.ExpectationFailed):
        return 417, f"The request's Expect header cannot be met ({detail})."
    if isinstance(exc, http_errors.ForbiddenProxyRequest):
        return 403, "The PROXY protocol line came from an address that is not allowed."
    if isinstance(exc, http_errors.ParseException | http_errors.NoMoreData):
        return 400, f"The request is not valid HTTP/1.1 ({type(exc).__name__}: {detail})."
    return 500, "Internal error while reading the request; see the gateway log."


def json_error(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 response carrying the gateway's error shape; closes."""
    body = json.dumps({"error": safe_text(message), "code": code_for_http_status(status)},
                      ensure_ascii=True).encode()
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode("latin-1")
    return head + body


class _DeadlineSocket:
    """The parser's view of a client socket: every recv ends by the request deadline."""

    def __init__(self, conn: GatewayConn, sock: socket.socket) -> None:
        self._conn = conn
        self._sock = sock

    def recv(self, size: int) -> bytes:
        remaining = self._conn.deadline - time.monotonic()
        if remaining <= 0:
            raise self._conn.timeout_error()
        prior = self._sock.gettimeout()
        own = prior is None or remaining < prior
        self._sock.settimeout(remaining if own else prior)
        try:
            return self._sock.recv(size)
        except TimeoutError:
            if not own:  # the caller's own, shorter timeout (gunicorn's body drain)
                raise
            raise self._conn.timeout_error() from None
        finally:
            self._sock.settimeout(prior)

    def __getattr__(self, name: str) -> Any:  # gettimeout, settimeout, fileno ...
        return getattr(self._sock, name)


class _BoundedChunkedReader(ChunkedReader):
    """gunicorn's chunked reader, refusing chunks that announce more than the whole body
    may hold, as soon as their size line is read (before any of it is buffered).

    werkzeug stops a chunked body at MAX_CONTENT_LENGTH without a word, so without this
    an app would see the body cut; only a body whose chunks end exactly at the limit
    still gets past here (serving/rest/context.py `body` checks that case).
    """

    max_bytes = 0

    def parse_chunk_size(self, unreader: Any, data: Any = None) -> Any:
        size, rest = super().parse_chunk_size(unreader, data)
        self.announced = getattr(self, "announced", 0) + size
        if self.max_bytes and self.announced > self.max_bytes:
            raise PayloadTooLarge(f"The chunked request body announces {self.announced} "
                                  f"bytes or more; at most {self.max_bytes} are accepted "
                                  "(max_request_bytes).")
        return size, rest


class _GuardedReader:
    """A body reader whose failure (bad chunk, deadline) marks the request "close", so
    the answer the app then gives says `Connection: close` (the body's end is unknown)."""

    def __init__(self, req: Request, reader: Any) -> None:
        self._req = req
        self._reader = reader

    def read(self, size: int) -> bytes:
        try:
            return self._reader.read(size)
        except Exception:
            self._req.force_close()
            raise


class _GatewayRequest(Request):
    def set_body_reader(self) -> None:
        super().set_body_reader()
        reader = self.body.reader
        if type(reader) is ChunkedReader:
            reader = _BoundedChunkedReader(self, self.unreader)
        elif isinstance(reader, LengthReader) and \
                reader.length > _BoundedChunkedReader.max_bytes > 0:
            # The app answers 413 without reading; the connection closes after it, and
            # the answer should say so.
            self.force_close()
        self.body = Body(_GuardedReader(self, reader))


class GatewayConn(TConn):
    """gthread's connection with a per-request read deadline and a TLS check."""

    deadline = float("inf")
    read_timeout_s = 30.0
    lingered = False

    def timeout_error(self) -> RequestTimeout:
        return RequestTimeout(f"The request did not arrive within {self.read_timeout_s:g} s "
                              "(request_timeout_s); the connection is closed.")

    def init(self) -> None:
        fresh = not self.initialized
        super().init()
        if not fresh or self.is_http2 or self.parser is None:
            return
        unreader = getattr(self.parser, "unreader", None)
        if isinstance(unreader, SocketUnreader):
            unreader.sock = _DeadlineSocket(self, unreader.sock)
        if getattr(self.parser, "mesg_class", None) is Request:
            self.parser.mesg_class = _GatewayRequest
        if not self.cfg.is_ssl:
            try:
                first = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                first = b""
            if first and first[0] == TLS_HANDSHAKE:
                raise TlsOnPlainPort("TLS handshake on the plain HTTP port")

    def linger(self, max_bytes: int, total_s: float, idle_s: float) -> None:
        """Half-close, then read and discard what the client still sends (bounded)."""
        self.lingered = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        stop = time.monotonic() + total_s
        drained = 0
        while drained < max_bytes:
            remaining = min(idle_s, stop - time.monotonic())
            if remaining <= 0:
                break
            try:
                self.sock.settimeout(remaining)
                data = self.sock.recv(64 * 1024)
            except OSError:
                break
            if not data:
                break
            drained += len(data)

    def close(self, graceful: bool = False) -> None:
        # After linger() the client has been drained already: a plain close suffices.
        super().close(graceful=graceful and not self.lingered)


class _CoalescingSocket:
    """The response's view of the client socket: gunicorn writes the head, then the body,
    each with `sendall`; the head waits and leaves with the first body bytes (or when the
    response ends without any). Any other use of the socket sends what waits first."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._head: bytes | None = None
        self._first = True

    def sendall(self, data: bytes, *args: Any) -> None:
        if self._first:
            self._first = False
            if not args:
                self._head = bytes(data)
                return
        if self._head is not None:
            data, self._head = self._head + bytes(data), None
        self._sock.sendall(data, *args)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._sock.sendall(head)

    def __getattr__(self, name: str) -> Any:  # sendfile, fileno, close ...
        self.flush()
        return getattr(self._sock, name)


class GatewayWorker(ThreadWorker):
    """gthread with JSON HTTP errors, request read deadlines and lingering close, sticky
    kept-alive connections, one send per response and accept backoff."""

    _accept_resume = 0.0  # monotonic time before which this worker accepts nothing

    _arrivals: Arrivals | None = None
    _read_timeout_s = Settings().request_timeout_s

    def load_wsgi(self) -> None:
        # The limits come from the app's own Settings (`python -m serving` flags included),
        # never from the environment read again here. (An app that is not the gateway's,
        # such as the bench's framework floor, gets the defaults.)
        super().load_wsgi()
        settings = self.wsgi.config.get("MULTIHEAD_SETTINGS") or Settings()
        self._read_timeout_s = float(settings.request_timeout_s)
        _BoundedChunkedReader.max_bytes = settings.max_request_bytes
        service = self.wsgi.extensions.get("multihead")
        self._arrivals = getattr(service, "arrivals", None)

    def accept(self, listener: socket.socket) -> None:
        # gthread's accept, building a GatewayConn.
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client_sock.setblocking(True)
            conn = GatewayConn(self.cfg, client_sock, client_addr, listener.getsockname())
            conn.read_timeout_s = self._read_timeout_s
            self.enqueue_req(conn)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        if self.cfg.workers > 1:
            self._accept_resume = time.monotonic() + min(self.nr_conns * ACCEPT_BACKOFF_S,
                                                         ACCEPT_BACKOFF_MAX_S)
            self.set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        # The run loop re-enables accepting on every turn; not before the backoff ends.
        super().set_accept_enabled(enabled and time.monotonic() >= self._accept_resume)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        pause = self._accept_resume - time.monotonic()
        if pause > 0 and not self._accepting and self.alive:
            timeout = min(timeout, pause)
        super().wait_for_and_dispatch_events(timeout)

    def handle(self, conn: TConn) -> Any:
        while True:
            # A new deadline for each request (keep-alive connections come back here).
            conn.deadline = time.monotonic() + self._read_timeout_s
            result = super().handle(conn)
            if result is False and isinstance(conn, GatewayConn) and conn.initialized \
                    and not conn.is_http2:
                conn.linger(LINGER_MAX_BYTES, min(LINGER_TOTAL_S, self._read_timeout_s),
                            LINGER_IDLE_S)
            if result is not True or not self._next_request_soon(conn):
                return result

    def _next_request_soon(self, conn: TConn) -> bool:
        """Whether this thread serves the connection's next request itself (see STICKY_S)."""
        if not self.alive or conn.is_http2 or self.nr_conns > self.cfg.threads:
            return False
        if conn.parser.unreader.buf.getvalue():
            return True  # read ahead already (finish_request would re-enqueue it)
        poller = select.poll()  # not select(): descriptors above 1023 are fine
        try:
            poller.register(conn.sock, select.POLLIN)
            readable = poller.poll(STICKY_S * 1000)
        except (OSError, ValueError):
            return False
        return bool(readable) and self.alive

    def handle_request(self, req: Any, conn: TConn) -> Any:
        sock = conn.sock
        conn.sock = _CoalescingSocket(sock)  # what wsgi.create hands the response
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
