"""Both protocol states answer byte for byte as h11 does when it writes every response.

The reference is tests/server/h11_reference.py: h11 parses and h11.Connection.send writes.
Each case drives the reference, H11Protocol and HttpToolsProtocol the way the transport does
(heads, bodies, 100-continue, responses, the next cycle) over the same input cut into
pieces, and compares the bytes written and what was parsed. The few deliberate differences (empty lines around a request line, a
repeated identical Content-Length, unknown methods) are listed in
conduit/server/httptools_protocol.py and left out here.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest
from hypothesis import given, settings, strategies as st

from conduit import HTTPResponse
from conduit.framework.errors import HTTPError
from conduit.server.protocol import NEED_DATA, H11Protocol, ProtocolError

from .h11_reference import ReferenceH11Protocol

httptools_protocol = pytest.importorskip("conduit.server.httptools_protocol", exc_type=ImportError)
HttpToolsProtocol = httptools_protocol.HttpToolsProtocol

Respond = Callable[[Any, bytes], Any]


def echo(head: Any, body: bytes) -> HTTPResponse:
    return HTTPResponse(200).json({"method": head.method, "path": head.raw_path, "body": body.decode("latin-1")})


def streamed(head: Any, body: bytes) -> list[Any]:
    return [HTTPResponse(200, headers={"Content-Type": "text/plain"}), b"one", b"", b"two"]


def streamed_with_length(head: Any, body: bytes) -> list[Any]:
    return [HTTPResponse(200, headers={"Content-Length": "6"}), b"one", b"two"]


def no_content(head: Any, body: bytes) -> HTTPResponse:
    return HTTPResponse(204)


def closing(head: Any, body: bytes) -> HTTPResponse:
    return HTTPResponse(200, "bye", headers={"Connection": "close"})


def chunked_complete(head: Any, body: bytes) -> HTTPResponse:
    return HTTPResponse(200, "whole", headers={"Transfer-Encoding": "chunked"})


def drive(cls: type, pieces: list[bytes], respond: Respond) -> tuple[bytes, list[Any]]:
    """Run one connection like the transport does; return the bytes written and a log."""
    p = cls(1024, 64)
    out: list[bytes] = []
    log: list[Any] = []
    feed = iter([*pieces, b""])

    def more() -> bool:
        data = next(feed, None)
        if data is None:
            return False
        p.feed(data)
        return True

    try:
        while True:
            head = p.next_head()
            while head is NEED_DATA:
                if not more():
                    return _done(out, log, "waiting for a head")
                head = p.next_head()
            if head is None:
                return _done(out, log, "peer closed")
            log.append((head.method, head.raw_path, head.query_string, head.http_version, head.keep_alive,
                        head.has_body, head.content_length, sorted(head.headers.items())))
            body = b""
            if head.has_body:
                try:
                    while (chunk := p.next_body_chunk()) != b"":
                        if chunk is NEED_DATA:
                            if p.wants_continue:
                                out.append(p.continue_bytes())
                            if not more():
                                return _done(out, log, "waiting for a body")
                        else:
                            body += chunk
                except HTTPError as exc:
                    out.append(p.response_bytes(HTTPResponse(exc.status_code).json({"status": exc.status_code})))
                    return _done(out, log, f"body error {exc.status_code}")
            response = respond(head, body)
            if isinstance(response, list):
                out.append(p.stream_head(response[0]))
                out.extend(p.stream_chunk(c) for c in response[1:])
                out.append(p.stream_end())
            else:
                out.append(p.response_bytes(response))
            if not head.keep_alive or not p.finish_body() or not p.start_next_cycle():
                return _done(out, log, "closed after the response")
    except ProtocolError as exc:
        out.append(p.error_bytes(exc.status, "Bad Request") or b"")  # the parsers word details differently
        return _done(out, log, f"protocol error {exc.status}")
    except HTTPError as exc:
        out.append(p.error_from(exc) or b"")
        return _done(out, log, f"http error {exc.status_code}")


def _done(out: list[bytes], log: list[Any], end: str) -> tuple[bytes, list[Any]]:
    return re.sub(rb"\r\ndate: [^\r]*", b"\r\ndate: -", b"".join(out)), [*log, end]


PROTOCOLS = [H11Protocol, HttpToolsProtocol]


def assert_same(data: bytes, respond: Respond = echo, sizes: tuple[int, ...] = (0, 1, 7)) -> None:
    for size in sizes:
        pieces = [data[i : i + size] for i in range(0, len(data), size)] if size else [data]
        expected = drive(ReferenceH11Protocol, pieces, respond)
        for cls in PROTOCOLS:
            assert drive(cls, pieces, respond) == expected, f"{cls.__name__}, pieces of {size or 'all'} bytes"


H = b"Host: a\r\n"

CASES = {
    "get": b"GET /a%20b?q=1 HTTP/1.1\r\n" + H + b"X-Pad:  v \r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H + b"\r\n",
    "content-length body then more": b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n" + H + b"\r\n",
    "chunked body then more": b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\n\r\n"
    b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    "malformed chunk": b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n",
    "body over the limit": b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n40\r\n" + b"a" * 64 + b"\r\n1\r\nb\r\n0\r\n\r\n",
    "declared body over the limit": b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 100\r\n\r\n",
    "incomplete body": b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 9\r\n\r\nabc",
    "http/1.0": b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    "http/1.0 keep-alive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    "connection close": b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\nGET /2 HTTP/1.1\r\n" + H + b"\r\n",
    "head": b"HEAD / HTTP/1.1\r\n" + H + b"\r\n",
    "absolute form": b"GET http://x.y/p?q HTTP/1.1\r\n" + H + b"\r\n",
    "asterisk": b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    "expect 100-continue": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
    "expect then nothing": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    "missing host": b"GET / HTTP/1.1\r\n\r\n",
    "two hosts": b"GET / HTTP/1.1\r\n" + H + b"Host: b\r\n\r\n",
    "unsupported transfer-encoding": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n",
    "http/2 version": b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    "unknown version": b"GET / HTTP/9.9\r\n\r\n",
    "not http": b"NONSENSE\r\n\r\n",
    "bad header": b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    "bad content-length": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: nope\r\n\r\n",
    "big head": b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 2000 + b"\r\n\r\n",
    "big unfinished head": b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 2000,
    "mixed-case names": b"GET / HTTP/1.1\r\nhOsT: a\r\nCoNNection: CLOSE\r\n\r\n",
    "websocket upgrade refused": b"GET / HTTP/1.1\r\n" + H + b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    b"GET /2 HTTP/1.1\r\n" + H + b"\r\n",
    "h2c upgrade with a body": b"POST / HTTP/1.1\r\n" + H + b"Connection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\n"
    b"abcGET /2 HTTP/1.1\r\n" + H + b"\r\n",
    "empty": b"",
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_requests_are_parsed_and_answered_identically(data: bytes) -> None:
    assert_same(data)


@pytest.mark.parametrize("respond", [streamed, streamed_with_length, no_content, closing, chunked_complete])
@pytest.mark.parametrize(
    "data",
    [CASES["pipelined"], CASES["http/1.0"], CASES["head"], b"HEAD / HTTP/1.0\r\n\r\n"],
    ids=["http/1.1", "http/1.0", "head", "head http/1.0"],
)
def test_responses_are_framed_identically(data: bytes, respond: Respond) -> None:
    assert_same(data, respond, sizes=(0,))


def test_error_after_the_response_started_is_not_answered() -> None:
    for cls in (ReferenceH11Protocol, *PROTOCOLS):
        p = cls()
        p.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        p.next_head()
        p.stream_head(HTTPResponse(200))
        assert p.error_bytes(400, "Bad Request") is None


_request = st.builds(
    lambda method, path, extra, body, chunked: (
        f"{method} {path} HTTP/1.1\r\nHost: h\r\n{extra}".encode()
        + (
            b"Transfer-Encoding: chunked\r\n\r\n" + (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
            if chunked
            else (b"Content-Length: %d\r\n\r\n%s" % (len(body), body) if body or method == "POST" else b"\r\n")
        )
    ),
    st.sampled_from(["GET", "POST", "PUT", "HEAD", "DELETE"]),
    st.from_regex(r"\A/[a-z0-9%/?=&._-]{0,30}\Z"),
    st.sampled_from(["", "Accept: */*\r\n", "X-A: 1\r\nX-A: 2\r\n", "Connection: close\r\n", "Cookie: a=b; c=d\r\n"]),
    st.binary(max_size=80),
    st.booleans(),
)


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:]) if b > a]


@settings(max_examples=200, deadline=None)
@given(
    requests=st.lists(_request, min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 2000), max_size=6),
    respond=st.sampled_from([echo, streamed, no_content, closing, chunked_complete]),
)
def test_any_cut_of_pipelined_requests_gives_the_same_answers(
    requests: list[bytes], cuts: list[int], respond: Respond
) -> None:
    pieces = _cut(b"".join(requests), cuts)
    expected = drive(ReferenceH11Protocol, pieces, respond)
    for cls in PROTOCOLS:
        assert drive(cls, pieces, respond) == expected, cls.__name__


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=4))
def test_random_bytes_get_an_http_answer_or_none(data: bytes, cuts: list[int]) -> None:
    pieces = _cut(data, cuts)
    assert drive(H11Protocol, pieces, echo) == drive(ReferenceH11Protocol, pieces, echo)
    out, _ = drive(HttpToolsProtocol, pieces, echo)
    assert out == b"" or re.match(rb"HTTP/1\.1 [1-5]\d\d ", out)
