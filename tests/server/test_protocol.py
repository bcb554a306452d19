"""The protocol state with raw bytes and no sockets, on h11 and on httptools (the ``http`` fixture)."""

from __future__ import annotations

import pytest

from conduit import HTTPResponse
from conduit.framework.errors import PayloadTooLargeError
from conduit.server.protocol import NEED_DATA, ProtocolError, split_target


def test_parses_a_head_in_pieces_and_answers_with_one_buffer(protocol_class: type) -> None:
    p = protocol_class()
    p.feed(b"GET /a%20b?x=1&y=2 HTTP/1.1\r\nHost: h\r\n")
    assert p.next_head() is NEED_DATA
    p.feed(b"X-Thing: 1\r\n\r\n")
    head = p.next_head()
    assert (head.method, head.path, head.raw_path, head.query_string) == ("GET", "/a b", "/a%20b", "x=1&y=2")
    assert head.headers.get("x-thing") == "1" and not head.has_body and head.keep_alive
    out = p.response_bytes(HTTPResponse(200).json({"ok": True}))
    assert out.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: 11\r\n" in out and out.endswith(b'\r\n\r\n{"ok":true}')
    assert p.finish_body() and p.start_next_cycle()


def test_chunked_body_is_delivered_in_chunks(protocol_class: type) -> None:
    p = protocol_class()
    p.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    head = p.next_head()
    assert head.has_body
    assert p.next_body_chunk() == b"hello"
    assert p.next_body_chunk() == b" world"
    assert p.next_body_chunk() == b""


def test_declared_oversized_body_is_413_before_reading_it(protocol_class: type) -> None:
    p = protocol_class(max_body_size=10)
    p.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n")
    with pytest.raises(PayloadTooLargeError):
        p.next_head()


def test_streamed_oversized_body_is_413_while_reading(protocol_class: type) -> None:
    p = protocol_class(max_body_size=8)
    p.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n")
    p.next_head()
    assert p.next_body_chunk() == b"hello"
    with pytest.raises(PayloadTooLargeError):
        p.next_body_chunk()


def test_oversized_head_is_431_and_garbage_is_400(protocol_class: type) -> None:
    p = protocol_class(max_header_size=1024)
    p.feed(b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 2000)
    with pytest.raises(ProtocolError) as info:
        p.next_head()
    assert info.value.status == 431
    assert p.error_bytes(431, "Request Header Fields Too Large").startswith(b"HTTP/1.1 431 ")
    bad = protocol_class()
    bad.feed(b"NOT HTTP AT ALL\r\n\r\n")
    with pytest.raises(ProtocolError) as info:
        bad.next_head()
    assert info.value.status == 400
    out = bad.error_bytes(400, "Bad Request", "malformed")
    assert out.startswith(b"HTTP/1.1 400 ") and b"connection: close" in out.lower()


def test_head_and_204_responses_carry_no_body(protocol_class: type) -> None:
    p = protocol_class()
    p.feed(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    p.next_head()
    out = p.response_bytes(HTTPResponse().text("hello"))
    assert b"content-length: 5" in out and out.endswith(b"\r\n\r\n")
    q = protocol_class()
    q.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    q.next_head()
    assert q.response_bytes(HTTPResponse(204)).endswith(b"\r\n\r\n")


def test_http10_streams_are_close_delimited_and_keepalive_off(protocol_class: type) -> None:
    p = protocol_class()
    p.feed(b"GET / HTTP/1.0\r\n\r\n")
    head = p.next_head()
    assert not head.keep_alive
    head_bytes = p.stream_head(HTTPResponse())
    assert b"transfer-encoding" not in head_bytes.lower()
    assert p.stream_chunk(b"abc") == b"abc"
    p.stream_end()
    assert not p.start_next_cycle()


def test_expect_100_continue_is_announced(protocol_class: type) -> None:
    p = protocol_class()
    p.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    head = p.next_head()
    assert head.expects_continue
    assert p.next_body_chunk() is NEED_DATA and p.wants_continue
    assert p.continue_bytes().startswith(b"HTTP/1.1 100 ")


@pytest.mark.parametrize(
    "target,expected",
    [(b"/a?b=1", ("/a", "b=1")), (b"http://x.org/p?q", ("/p", "q")), (b"*", ("*", "")), (b"/", ("/", ""))],
)
def test_split_target(target: bytes, expected: tuple[str, str]) -> None:
    assert split_target(target) == expected
