"""Hostile and malformed framing over a real socket, on both parsers (issue 22's classes):
each is answered safely, says when the connection closes, and echoes no request bytes."""

from __future__ import annotations

import time

import pytest

from .conftest import RawClient

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"


def _status_line(data: bytes) -> bytes:
    return data.split(b"\r\n", 1)[0]


def _headers(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0].lower()


@pytest.mark.parametrize(
    "head",
    [
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",  # CL.TE
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",  # TE.CL
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n",  # CL longer
    ],
    ids=["cl-te", "te-cl", "cl-longer"],
)
def test_content_length_with_transfer_encoding_is_400_and_closes(raw: RawClient, head: bytes) -> None:
    """RFC 9112 6.3: a server MUST close after such a request; the request hidden in its body
    is never answered."""
    raw.send(head + b"4\r\nabcd\r\n0\r\n\r\n" + SMUGGLED)
    data = raw.raw_response()
    assert _status_line(data) == b"HTTP/1.1 400 Bad Request", data
    assert b"connection: close" in _headers(data)
    assert data.count(b"HTTP/1.1") == 1 and b"smuggled" not in data


@pytest.mark.parametrize("value", [b"keep-alive, enclosed", b"x-close-notify", b"closer"])
def test_connection_is_a_token_list_not_a_substring(raw: RawClient, value: bytes) -> None:
    raw.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: " + value + b"\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
    answers = raw.responses(2)  # the pipelined second request is answered on the same connection
    assert [r.status_code for r, _ in answers] == [200, 200]


def test_a_close_token_among_others_closes(raw: RawClient) -> None:
    raw.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, CLOSE\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = raw.raw_response()
    assert data.count(b"HTTP/1.1 200") == 1 and b"connection: close" in _headers(data)


@pytest.mark.parametrize(
    ("version", "status"),
    [(b"HTTP/1.2", b"200"), (b"HTTP/1.9", b"200"), (b"HTTP/2.0", b"505"), (b"HTTP/3.1", b"505")],
)
def test_later_1x_versions_are_answered_as_1_1_and_other_majors_505(raw: RawClient, version: bytes,
                                                                    status: bytes) -> None:
    raw.send(b"GET / " + version + b"\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = raw.raw_response()
    assert _status_line(data).startswith(b"HTTP/1.1 " + status), data


@pytest.mark.parametrize(
    "request_line",
    [b"GET / HTTP/1.10", b"GET / HTTP/1.1 x", b"GET /", b"GET / HTTP/x.y"],
    ids=["two-digit-minor", "trailing-garbage", "http-0.9", "letters"],
)
def test_garbage_versions_and_line_ends_are_400_never_5xx(raw: RawClient, request_line: bytes) -> None:
    raw.send(request_line + b"\r\nHost: t\r\n\r\n")
    data = raw.raw_response()
    assert data == b"" or _status_line(data).startswith(b"HTTP/1.1 400"), data  # h11 may just close on 0.9


def test_bare_lf_line_ends_are_never_a_5xx(raw: RawClient) -> None:
    """RFC 9112 2.2 lets a recipient accept a bare LF (h11 does) or refuse it (llhttp: 400)."""
    raw.send(b"GET / HTTP/1.1\nHost: t\nConnection: close\n\n")
    data = raw.raw_response()
    assert _status_line(data)[:12] in (b"HTTP/1.1 200", b"HTTP/1.1 400"), data


def test_a_malformed_chunk_is_400_closes_and_echoes_no_request_bytes(raw: RawClient) -> None:
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n")
    data = raw.raw_response()
    assert _status_line(data) == b"HTTP/1.1 400 Bad Request", data
    assert b"connection: close" in _headers(data)
    body = data.split(b"\r\n\r\n", 1)[1]
    assert b"5x" not in body and b"bytearray" not in body and b"hello" not in body


def test_an_oversized_chunked_body_is_413_and_says_it_closes(raw: RawClient) -> None:
    chunk = b"x" * 65536
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(20):  # 1.25 MiB against the test server's 1 MiB limit
        try:
            raw.send(b"10000\r\n" + chunk + b"\r\n")
        except OSError:
            break  # the server answered and closed while we were still sending
    data = raw.raw_response()
    assert _status_line(data).startswith(b"HTTP/1.1 413 "), data
    assert b"connection: close" in _headers(data)


@pytest.mark.parametrize("size", [b"200000", b"FFFFFFFFFFFFFFFFFFFF"], ids=["2-mib", "20-hex-digits"])
def test_a_chunk_declared_past_the_body_limit_is_413_at_its_size_line(raw: RawClient, size: bytes,
                                                                       http: str) -> None:
    """Refused when the size line arrives (413), not when the body timeout gives up waiting for
    the data (408); the client has sent only a few bytes of the chunk. llhttp refuses a size
    past 64 bits itself, as malformed (400); docs/server.md says so."""
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nabc")
    data = raw.raw_response(timeout=3)
    expected = b"400" if http == "httptools" and len(size) > 16 else b"413"
    assert _status_line(data)[9:12] == expected, data
    assert b"connection: close" in _headers(data)


@pytest.mark.parametrize(
    "pieces",
    [
        [b"10", b"0001\r\nab"],  # the size line split across reads: 0x100001
        [b"80000\r\n" + b"a" * 0x80000 + b"\r\n8", b"0001;ext=", b"1\r\nab"],  # half sent, then more
        [b"1\r\na\r\n", b"100000\r", b"\nab"],  # the CRLF split: one byte sent, then 1 MiB more
    ],
    ids=["split-size", "second-chunk-split-in-extension", "split-crlf"],
)
def test_a_chunk_size_is_read_across_reads(raw: RawClient, pieces: list[bytes]) -> None:
    """The test server's max_body_size is 1 MiB (0x100000). Each body declares more than that
    in all, with the deciding size line arriving over several reads; both parsers refuse it at
    that line, before its data."""
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    for piece in pieces:
        time.sleep(0.05)
        raw.send(piece)
    data = raw.raw_response(timeout=3)
    assert _status_line(data)[9:12] == b"413", data
    assert b"connection: close" in _headers(data)


def test_a_chunked_body_within_the_limit_is_read_whole_across_reads(raw: RawClient) -> None:
    """Legitimate chunked uploads are not refused: sizes split over reads, an extension, and a
    total just under the 1 MiB limit."""
    chunks = [b"x" * 0x7FFFF, b"y" * 0x7FFF0]
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7f")
    time.sleep(0.05)
    raw.send(b"fff;name=v\r\n" + chunks[0] + b"\r\n7FF")
    time.sleep(0.05)
    raw.send(b"F0\r\n" + chunks[1] + b"\r\n0\r\n\r\n")
    [(response, body)] = raw.responses(1, method="POST")
    assert response.status_code == 200 and body == b"".join(chunks)


def test_trailers_count_against_the_head_limit(raw: RawClient) -> None:
    """The test server's max_header_size is 4 KiB: many small trailer fields, or one huge
    one sent in pieces, are refused (not buffered without bound)."""
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n")
    try:
        for i in range(2000):
            raw.send(b"X-T-%d: %s\r\n" % (i, b"v" * 20))
        raw.send(b"X-Huge: ")
        for _ in range(64):
            raw.send(b"h" * 16384)
    except OSError:
        pass  # refused and closed while we were still sending
    data = raw.raw_response()
    assert _status_line(data)[:12] in (b"HTTP/1.1 431", b"HTTP/1.1 400"), data[:200]
    assert b"connection: close" in _headers(data)


def test_one_huge_trailer_field_is_refused_too(raw: RawClient) -> None:
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nX-Huge: ")
    try:
        for _ in range(64):
            raw.send(b"h" * 16384)
    except OSError:
        pass
    data = raw.raw_response()
    assert _status_line(data)[:12] in (b"HTTP/1.1 431", b"HTTP/1.1 400"), data[:200]


@pytest.mark.parametrize("value", [b"a\x01b", b"a\x1bb", b"a\x7fb", b"a\x0bb"], ids=["soh", "esc", "del", "vt"])
def test_control_characters_in_header_values_are_400(raw: RawClient, value: bytes) -> None:
    raw.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Note: " + value + b"\r\n\r\n")
    data = raw.raw_response()
    assert _status_line(data).startswith(b"HTTP/1.1 400"), data
    assert b"connection: close" in _headers(data)


def test_a_tab_in_a_header_value_is_fine(raw: RawClient) -> None:
    answer, _ = raw.request("GET", "/", headers=[("X-Note", "a\tb")])
    assert answer.status_code == 200


def test_an_early_answer_to_an_unfinished_chunked_body_says_it_closes(raw: RawClient) -> None:
    """The handler never reads the body and the rest of it has not arrived: its size is
    unknown, so the connection cannot be reused, and the answer says so."""
    raw.send(b"POST /nowhere HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n")
    data = raw.raw_response()
    assert _status_line(data).startswith(b"HTTP/1.1 404 "), data
    assert b"connection: close" in _headers(data)


def test_an_early_answer_to_a_complete_chunked_body_keeps_the_connection(raw: RawClient) -> None:
    """All of the unread body is already here: it is dropped and the next request is served."""
    raw.send(b"POST /nowhere HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
             b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    answers = raw.responses(2)
    assert [r.status_code for r, _ in answers] == [404, 200]
    assert all(dict(r.headers).get(b"connection") != b"close" for r, _ in answers)


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", (b"501",)),
        # llhttp refuses a repeated Transfer-Encoding while parsing (400) before the head reaches
        # framing; h11 reads it as "chunked, chunked" (501). Either way: refused, and closed.
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         (b"400", b"501")),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", (b"400",)),
        (b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", (b"400",)),
    ],
    ids=["te-gzip-chunked", "te-twice", "two-hosts", "no-host"],
)
def test_both_parsers_refuse_the_same_heads(raw: RawClient, head: bytes, status: tuple[bytes, ...]) -> None:
    """conduit.server.framing decides these for both parsers (h11 and llhttp differ alone)."""
    raw.send(head + b"0\r\n\r\n" if b"chunked" in head else head)
    data = raw.raw_response()
    assert _status_line(data)[9:12] in status, data
    assert b"connection: close" in _headers(data)


def test_http_1_0_needs_no_host(raw: RawClient) -> None:
    raw.send(b"GET / HTTP/1.0\r\n\r\n")
    assert _status_line(raw.raw_response()).startswith(b"HTTP/1.1 200")
