"""Where an HTTP/1.1 request ends in the bytes read so far (RFC 9112 section 6, message
framing), so that the gateway's worker can read a whole request on its event loop before
a thread serves it (serving/gunicorn_worker.py).

`RequestFramer.scan(buffer)` says one of:

- NEED_MORE: the request is not complete; keep reading (`send_continue`: the head asked
  for `Expect: 100-continue` and its body has not come yet).
- COMPLETE: `buffer[:end]` is one whole request (head and body); `probe` names a bodiless
  GET or HEAD of a probe path, which the event loop answers itself.
- HANDOVER: gunicorn's own parser must decide now, from what is buffered: the head is
  malformed or too large, the body is over the size limit (413) or of an unsupported
  coding, or its chunks are broken. The parser then raises the error the gateway has
  always answered with, and no thread ever waits for more bytes from a client.
- TLS: the connection opened with a TLS handshake.

The framer only finds where a request ends; gunicorn's parser still parses and checks
every byte (request line, header names and values, chunk syntax). So the framer may be
lenient (COMPLETE for a request the parser then rejects) but never says COMPLETE before the
request's last byte, and hands over whatever would make it wait for bytes the parser
would refuse anyway. It is incremental: each scan of a grown buffer resumes where the last
one stopped, so a body read in many pieces costs no rescans.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

TLS_HANDSHAKE = 0x16       # first byte of a TLS record carrying a handshake
MAX_CHUNK_LINE = 4096      # a chunk-size line (size and extensions) longer than this is junk
_FIELDS = re.compile(rb"\r\n(content-length|transfer-encoding|expect|connection):"
                     rb"[ \t]*([^\r\n]*)", re.IGNORECASE)
_HEX = frozenset(b"0123456789abcdefABCDEF")
_BODILESS = (b"GET", b"HEAD")


class Verdict(enum.Enum):
    NEED_MORE = "need more"
    COMPLETE = "complete"
    HANDOVER = "handover"
    TLS = "tls"


@dataclass(frozen=True)
class Scan:
    verdict: Verdict
    end: int = 0                 # COMPLETE: the request's bytes are buffer[:end]
    probe: bytes = b""           # COMPLETE: the probe path of a bodiless GET/HEAD
    send_continue: bool = False  # NEED_MORE: the client waits for "100 Continue"


NEED_MORE = Scan(Verdict.NEED_MORE)
HANDOVER = Scan(Verdict.HANDOVER)


class RequestFramer:
    """The framing state of the one request at the start of a connection's buffer."""

    def __init__(self, max_line: int, max_head: int, max_body: int,
                 probes: frozenset[bytes] = frozenset()) -> None:
        self.max_line = max_line    # gunicorn's limit_request_line
        self.max_head = max_head    # gunicorn's header buffer limit (max_buffer_headers)
        self.max_body = max_body    # max_request_bytes; 0: no limit
        self.probes = probes
        self.reset()

    def reset(self) -> None:
        """Forget the request scanned so far (the next one starts at offset 0)."""
        self._searched = 0           # where the search for the head's end resumes
        self._body_start = -1        # offset of the body, once the head is complete
        self._length: int | None = None  # Content-Length, once known
        self._chunked = False
        self._chunk_pos = 0          # next chunk-size line (chunked)
        self._announced = 0          # chunk sizes so far (chunked)
        self._expect = False
        self._probe = b""

    def scan(self, buf: bytes | bytearray) -> Scan:
        if self._body_start < 0:
            head = self._scan_head(buf)
            if head is not None:
                return head
        if self._chunked:
            return self._scan_chunks(buf)
        end = self._body_start + (self._length or 0)
        if len(buf) >= end:
            return Scan(Verdict.COMPLETE, end, self._probe)
        return Scan(Verdict.NEED_MORE, send_continue=self._expect)

    # -- the head -----------------------------------------------------------------------
    def _scan_head(self, buf: bytes | bytearray) -> Scan | None:
        """None when the head is complete and framed (the body is scanned next)."""
        if not buf:
            return NEED_MORE
        if buf[0] == TLS_HANDSHAKE:
            return Scan(Verdict.TLS)
        # RFC 9112 section 2.2: one empty line before the request line is ignored.
        start = 2 if buf[:2] == b"\r\n" else 0
        if buf[:1] == b"\r" and len(buf) < 2:
            return NEED_MORE
        end = buf.find(b"\r\n\r\n", max(start, self._searched - 3))
        stop = end + 4 if end >= 0 else len(buf)
        # A bare LF never ends a head here; gunicorn refuses it at once. Only the bytes
        # not checked before are counted (a head may arrive a byte at a time).
        fresh = max(start, self._searched)
        if buf.count(b"\n", fresh, stop) != buf.count(b"\r\n", max(fresh - 1, 0), stop):
            return HANDOVER
        self._searched = stop
        line_end = buf.find(b"\r\n", start, start + self.max_line + 3)
        if line_end < 0 or line_end - start > self.max_line:
            return HANDOVER if len(buf) - start > self.max_line + 2 else NEED_MORE
        if end < 0:
            return HANDOVER if len(buf) - line_end > self.max_head else NEED_MORE
        head = bytes(buf[line_end:end + 2])
        if b"\r\n " in head or b"\r\n\t" in head:
            return HANDOVER  # obsolete line folding: the parser's to reject
        request_line = bytes(buf[start:line_end]).split(b" ")
        if len(request_line) != 3:
            return HANDOVER
        method, target, version = request_line
        fields: dict[bytes, list[bytes]] = {}
        for name, value in _FIELDS.findall(head):
            fields.setdefault(name.lower(), []).append(value.strip())
        lengths, codings = fields.get(b"content-length"), fields.get(b"transfer-encoding")
        self._body_start = end + 4
        if codings is not None:
            if lengths is not None or version != b"HTTP/1.1" or \
                    [c.strip().lower() for c in b",".join(codings).split(b",")] != [b"chunked"]:
                return HANDOVER  # the parser answers 400 (or reads what it supports)
            self._chunked = True
            self._chunk_pos = self._body_start
        elif lengths is not None:
            if len(set(lengths)) != 1 or not lengths[0].isdigit() or len(lengths[0]) > 18:
                return HANDOVER
            self._length = int(lengths[0])
            if self.max_body and self._length > self.max_body:
                return HANDOVER  # the app answers 413 without reading the body
        self._expect = version == b"HTTP/1.1" and any(
            v.lower() == b"100-continue" for v in fields.get(b"expect", ()))
        path = target.split(b"?", 1)[0]
        if method in _BODILESS and not self._chunked and not self._length and \
                path in self.probes:
            self._probe = path
        return None

    # -- a chunked body -----------------------------------------------------------------
    def _scan_chunks(self, buf: bytes | bytearray) -> Scan:
        pos = self._chunk_pos
        while True:
            line_end = buf.find(b"\r\n", pos, pos + MAX_CHUNK_LINE + 2)
            if line_end < 0:
                self._chunk_pos = pos
                return HANDOVER if len(buf) - pos > MAX_CHUNK_LINE else \
                    Scan(Verdict.NEED_MORE, send_continue=self._expect and pos ==
                         self._body_start)
            digits = bytes(buf[pos:line_end]).split(b";", 1)[0].rstrip(b" \t")
            if not digits or not _HEX.issuperset(digits) or len(digits) > 16:
                return HANDOVER
            size = int(digits, 16)
            self._announced += size
            if self.max_body and self._announced > self.max_body:
                return HANDOVER  # _BoundedChunkedReader answers 413 at this line
            if size == 0:
                self._chunk_pos = pos  # rescanned from this line until the trailers end
                return self._scan_trailers(buf, line_end + 2)
            data_end = line_end + 2 + size
            if len(buf) < data_end + 2:
                self._announced -= size  # counted again when this line is rescanned
                self._chunk_pos = pos
                return NEED_MORE
            if buf[data_end:data_end + 2] != b"\r\n":
                return HANDOVER
            pos = data_end + 2

    def _scan_trailers(self, buf: bytes | bytearray, start: int) -> Scan:
        if buf[start:start + 2] == b"\r\n":
            return Scan(Verdict.COMPLETE, start + 2)
        end = buf.find(b"\r\n\r\n", start)
        if end >= 0:
            return Scan(Verdict.COMPLETE, end + 4)
        return HANDOVER if len(buf) - start > self.max_head else NEED_MORE
