"""serving.http_framing: where a request ends in the bytes read so far. The worker's event
loop hands a thread only what this calls complete, so it must never call a request
complete before its last byte, and must hand over what gunicorn's parser refuses."""

from __future__ import annotations

import pytest

from serving.http_framing import RequestFramer, Verdict

MAX_BODY = 1000
HEAD = b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\n"


def framer() -> RequestFramer:
    return RequestFramer(max_line=4094, max_head=8192, max_body=MAX_BODY,
                         probes=frozenset({b"/healthz", b"/readyz"}))


def scan_bytewise(data: bytes) -> list[Verdict]:
    """The verdict after each byte, as a client that trickles its request makes them."""
    f, verdicts = framer(), []
    for i in range(1, len(data) + 1):
        verdicts.append(f.scan(data[:i]).verdict)
    return verdicts


@pytest.mark.parametrize("request_bytes", [
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
    HEAD + b"Content-Length: 11\r\n\r\nhello world",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
    b"\r\n" + HEAD + b"content-length: 2\r\n\r\nhi",  # one empty line first, lower case
])
def test_complete_exactly_at_the_last_byte(request_bytes: bytes) -> None:
    verdicts = scan_bytewise(request_bytes)
    assert verdicts[:-1] == [Verdict.NEED_MORE] * (len(request_bytes) - 1)
    assert verdicts[-1] is Verdict.COMPLETE
    assert framer().scan(request_bytes + b"GET / HTTP/1.1\r\n").end == len(request_bytes)


@pytest.mark.parametrize("why,request_bytes", [
    ("bare LF", b"GET / HTTP/1.1\nHost: x\n\n"),
    ("obsolete folding", HEAD + b"X-A: 1\r\n folded\r\n\r\n"),
    ("two lengths", HEAD + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n"),
    ("length not a number", HEAD + b"Content-Length: 1e3\r\n\r\n"),
    ("length with chunked", HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("unsupported coding", HEAD + b"Transfer-Encoding: gzip\r\n\r\n"),
    ("length over the limit", HEAD + b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1)),
    ("chunk size not hex", HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ("chunk size 10^16", HEAD + b"Transfer-Encoding: chunked\r\n\r\n%x\r\nabc" % 10**16),
    ("chunks over the limit", HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
     + (b"%x\r\n" % 600 + b"x" * 600 + b"\r\n") + b"%x\r\n" % 600),
    ("chunk without terminator", HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nabXX"),
    ("request line too long", b"GET /" + b"a" * 5000),
    ("head too large", HEAD + b"X-Big: " + b"a" * 9000),
    ("request line of four parts", b"GET / x HTTP/1.1\r\n\r\n"),
])
def test_what_gunicorn_refuses_is_handed_over_at_once(why: str, request_bytes: bytes) -> None:
    assert framer().scan(request_bytes).verdict is Verdict.HANDOVER, why


def test_a_tls_handshake_is_told_apart() -> None:
    assert framer().scan(bytes.fromhex("16030100f4010000f00303")).verdict is Verdict.TLS


def test_probes_are_named_only_without_a_body() -> None:
    assert framer().scan(b"GET /healthz?x=1 HTTP/1.1\r\n\r\n").probe == b"/healthz"
    assert framer().scan(b"HEAD /readyz HTTP/1.1\r\n\r\n").probe == b"/readyz"
    assert framer().scan(b"GET /metrics HTTP/1.1\r\n\r\n").probe == b""
    assert framer().scan(b"POST /healthz HTTP/1.1\r\n\r\n").probe == b""
    with_body = framer().scan(b"GET /healthz HTTP/1.1\r\nContent-Length: 1\r\n\r\nx")
    assert with_body.verdict is Verdict.COMPLETE and with_body.probe == b""


def test_expect_continue_is_asked_for_until_the_body_comes() -> None:
    head = HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    f = framer()
    assert f.scan(head).send_continue
    assert f.scan(head + b"h").send_continue
    assert f.scan(head + b"hi").verdict is Verdict.COMPLETE
    http10 = head.replace(b"HTTP/1.1", b"HTTP/1.0")
    assert not framer().scan(http10).send_continue  # RFC 9110: ignored in HTTP/1.0


def test_reset_starts_the_next_request() -> None:
    f = framer()
    first = b"GET /a HTTP/1.1\r\n\r\n"
    assert f.scan(first).end == len(first)
    f.reset()
    assert f.scan(b"GET /b HTTP/1.1\r\nContent-Le").verdict is Verdict.NEED_MORE
    assert f.scan(b"GET /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nz").end == 39


def test_a_large_body_read_in_pieces_is_scanned_once() -> None:
    """Each scan resumes where the last one stopped: a chunked body of many small chunks,
    read a piece at a time, frames in linear time."""
    body = b"".join(b"1\r\nx\r\n" for _ in range(100)) + b"0\r\n\r\n"
    data = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body
    f = RequestFramer(4094, 8192, 0)
    for i in range(1, len(data)):
        assert f.scan(data[:i]).verdict is Verdict.NEED_MORE
    assert f.scan(data).end == len(data)
