"""The HTTP/1.1 message level of the gateway's gunicorn worker (serving/gunicorn_worker.py):
how a request is read and checked, how an error met below Flask is answered, and how an
answer leaves in one send.

- HTTP-level errors (bad request line, 431 headers too large, Content-Length with chunked,
  a TLS handshake on the plain port, ...) answer the gateway's JSON error shape
  `{"error", "code"}` (serving/rest/errors.py) instead of gunicorn's HTML page (`describe`,
  `json_error`).
- Chunks announcing more than MAX_REQUEST_BYTES in all are a 413 as soon as the size line
  that crosses the limit is read (`BoundedChunkedReader`); a body read that fails marks
  the request "close" (`GuardedReader`), and so does a Content-Length over the limit.
- The parser reads what the event loop buffered; should it ever want more, that read ends
  by the request's deadline, with 408 (`DeadlineSocket`).
- The status line and headers go out in one send with the body (`CoalescingSocket`), not
  in two (the performance issue's profile: 16 % of gunicorn's time went into sends).
"""

from __future__ import annotations

import json
import socket
import time
from http import HTTPStatus
from typing import Any, Protocol

from gunicorn.http import errors as http_errors
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.message import Request

from serving.errors import (
    GatewayError,
    PayloadTooLarge,
    RequestTimeout,
    code_for_http_status,
    safe_text,
)


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


def http_response(status: int, body: bytes, keep_alive: bool = False, head_only: bool = False,
                  headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A complete HTTP/1.1 response with a JSON body (none for HEAD)."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
             "Content-Type: application/json", f"Content-Length: {len(body)}",
             "Connection: " + ("keep-alive" if keep_alive else "close"),
             *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


def json_error(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A complete HTTP/1.1 response carrying the gateway's error shape; closes."""
    body = json.dumps({"error": safe_text(message), "code": code_for_http_status(status)},
                      ensure_ascii=True).encode()
    return http_response(status, body, headers=headers)


class _Deadlined(Protocol):
    deadline: float

    def timeout_error(self) -> RequestTimeout: ...


class DeadlineSocket:
    """The parser's view of a client socket: every recv ends by the request deadline.

    The event loop hands a thread only requests it has read whole, so the parser finds
    every byte buffered; this bounds a read should it ever want more."""

    def __init__(self, conn: _Deadlined, sock: socket.socket) -> None:
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


class BoundedChunkedReader(ChunkedReader):
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


class GuardedReader:
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


class GatewayRequest(Request):
    def set_body_reader(self) -> None:
        super().set_body_reader()
        reader = self.body.reader
        if type(reader) is ChunkedReader:
            reader = BoundedChunkedReader(self, self.unreader)
        elif isinstance(reader, LengthReader) and \
                reader.length > BoundedChunkedReader.max_bytes > 0:
            # The app answers 413 without reading; the connection closes after it, and
            # the answer should say so.
            self.force_close()
        self.body = Body(GuardedReader(self, reader))


class CoalescingSocket:
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
