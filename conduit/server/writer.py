"""Responses into bytes, by h11's rules, for both protocol states.

h11 is the reference for what goes on the wire: a ``Content-Length`` on complete responses,
chunked streams for HTTP/1.1 peers and close-delimited ones for HTTP/1.0, no body for HEAD,
1xx, 204 and 304, ``Connection: close`` (title-cased, last) whenever the connection will not
be reused. Writing through ``h11.Connection.send`` spends most of its time re-validating
headers the kernel already validated (docs/architecture.md, "Design notes"), so
:class:`ResponseWriter` writes the same bytes itself: the common case (a complete response on a kept-alive HTTP/1.1 connection
that sets neither ``Connection`` nor ``Transfer-Encoding``) joins a cached status line, a
cached ``server``/``date`` block and the headers; every other case replays h11's header
rules on the header list (:meth:`ResponseWriter._framed_head`).
tests/server/test_protocol_conformance.py compares the bytes with h11's own writer.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from conduit.errors import HTTPError
from conduit.http.response import HTTPResponse

__all__ = ["ResponseFramingError", "ResponseWriter", "closing_error", "date_header", "reason_phrase", "status_line"]

_REASONS = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
_STATUS_LINES: dict[int, bytes] = {}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_CHUNKED = 1
_RAW = 2  # Content-Length or close-delimited


def reason_phrase(status: int) -> bytes:
    """The standard reason phrase for ``status`` (empty for unknown codes)."""
    return _REASONS.get(status, b"")


class ResponseFramingError(RuntimeError):
    """A complete response whose ``Content-Length`` contradicts its body; none of it was sent."""


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>`` and CRLF, built once per status code."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = b"HTTP/1.1 %d %b\r\n" % (status, reason_phrase(status))
        if 100 <= status <= 999:
            _STATUS_LINES[status] = line
    return line


_date_cache: list[Any] = [0, b"", b""]


def date_header() -> bytes:
    """The ``Date`` value, formatted at most once a second."""
    now = int(time.time())
    if _date_cache[0] != now:
        date = formatdate(now, usegmt=True).encode("ascii")
        _date_cache[1:] = [date, b"server: conduit\r\ndate: " + date + b"\r\n"]
        _date_cache[0] = now
    return _date_cache[1]


def _server_and_date() -> bytes:
    if _date_cache[0] != int(time.time()):
        date_header()
    return _date_cache[2]


def closing_error(exc: HTTPError) -> HTTPResponse:
    """The JSON error response for ``exc`` (its headers included), with ``Connection: close``."""
    response = HTTPResponse(exc.status_code).json(exc.to_dict())
    for name, value in exc.headers.items():
        response.headers[name] = value
    response.headers["Connection"] = "close"
    return response


def _values(items: list[tuple[str, str]], name: str) -> list[str]:
    return [v for n, v in items if n.lower() == name]


def _tokens(items: list[tuple[str, str]], name: str) -> list[str]:
    """A comma-separated header's values, lower-cased (h11's get_comma_header)."""
    return [t.strip() for v in _values(items, name) for t in v.lower().split(",") if t.strip()]


def _without(items: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in items if n.lower() != name]


class ResponseWriter:
    """The output half of a protocol state: one request/response cycle at a time.

    The protocol calls :meth:`_begin` when it has parsed a request head and
    :meth:`_next_cycle` when the connection goes on to the next request.
    """

    __slots__ = (
        "_http11",
        "_keep_alive",
        "_response_complete",
        "_response_started",
        "_stream_left",
        "_stream_mode",
        "_waiting_continue",
        "closing",
        "request_method",
    )

    def __init__(self) -> None:
        self.request_method = b""
        self.closing = False  # set on shutdown: answer with Connection: close
        self._http11 = False  # the last request's version (an HTTP/1.0 peer gets no chunks)
        self._keep_alive = True  # h11's rule: HTTP/1.1 and no "close" on either side
        self._waiting_continue = False
        self._response_started = False
        self._response_complete = False
        self._stream_mode = 0
        self._stream_left = -1

    def _begin(self, method: bytes, http11: bool, close: bool, expects_continue: bool) -> None:
        self.request_method = method
        self._http11 = http11
        self._keep_alive = http11 and not close
        self._waiting_continue = expects_continue and http11
        self._response_started = self._response_complete = False

    def _next_cycle(self) -> None:
        self.request_method = b""
        self._response_started = self._response_complete = False
        self._stream_mode = 0

    @property
    def wants_continue(self) -> bool:
        """The client waits for ``100 Continue`` before sending the body."""
        return self._waiting_continue

    def continue_bytes(self) -> bytes:
        self._waiting_continue = False
        return _CONTINUE

    @property
    def response_done(self) -> bool:
        return self._response_complete

    def response_bytes(self, response: HTTPResponse) -> bytes:
        """Head, body and end of a complete response, as one buffer."""
        headers = response.headers
        fields = headers.by_lowered_name()
        body = response.body
        status = response.status_code
        self._response_started = True
        self._waiting_continue = False
        if not self._keep_alive or self.closing or "connection" in fields or "transfer-encoding" in fields:
            head = self._framed_head(response, len(body))
            return head + self.stream_chunk(body) + self.stream_end()
        no_body = status == 204 or status == 304 or status < 200
        if no_body:
            extra = "\r\n"
        elif "content-length" in fields:
            extra = "\r\n"
            declared = fields["content-length"][1]
            if not (declared.isascii() and declared.isdigit()) or (self.request_method != b"HEAD" and int(declared) != len(body)):
                self._response_started = False  # nothing was sent: the caller may still answer
                raise ResponseFramingError(
                    f"the response's Content-Length {declared!r} does not match its {len(body)}-byte body"
                )
        else:
            extra = f"content-length: {len(body)}\r\n\r\n"
        lines = "".join([f"{name}: {value}\r\n" for name, value in headers.raw_items()])
        self._response_complete = True
        head = (lines + extra).encode("latin-1")
        if no_body or not body or self.request_method == b"HEAD":
            return b"".join((status_line(status), _server_and_date(), head))
        return b"".join((status_line(status), _server_and_date(), head, body))

    def stream_head(self, response: HTTPResponse) -> bytes:
        """Head of a streamed response (chunked, or close-delimited for HTTP/1.0)."""
        self._response_started = True
        self._waiting_continue = False
        return self._framed_head(response, None)

    def _framed_head(self, response: HTTPResponse, body_len: int | None) -> bytes:
        """The head as h11 writes it; sets the body framing for :meth:`stream_chunk`."""
        status = response.status_code
        method = self.request_method
        items = response.headers.raw_items()
        if body_len is not None and "content-length" not in response.headers and status != 204 and status != 304:
            items.append(("content-length", str(body_len)))
        if self.closing:
            items.append(("connection", "close"))
        bodiless = status == 204 or status == 304 or (method == b"CONNECT" and 200 <= status < 300)
        # h11 picks the framing headers as for GET when the request was HEAD
        chunked_or_eof = not bodiless and (bool(_tokens(items, "transfer-encoding")) or not _values(items, "content-length"))
        need_close = False
        if chunked_or_eof:
            items = _without(_without(items, "content-length"), "transfer-encoding")
            if self._http11:
                items.append(("Transfer-Encoding", "chunked"))
            elif method != b"HEAD":
                need_close = True  # the end of the body is the end of the connection
        if not self._keep_alive or need_close:
            tokens = set(_tokens(items, "connection"))
            tokens.discard("keep-alive")
            tokens.add("close")
            items = _without(items, "connection") + [("Connection", t) for t in sorted(tokens)]
        if "close" in _tokens(items, "connection"):
            self._keep_alive = False
        self._stream_left = -1
        if bodiless or method == b"HEAD":
            self._stream_mode = 0
        elif _tokens(items, "transfer-encoding"):
            self._stream_mode = _CHUNKED
        else:
            self._stream_mode = _RAW
            lengths = _values(items, "content-length")
            if lengths:
                self._stream_left = int(lengths[0])
        lines = "".join([f"{name}: {value}\r\n" for name, value in items])
        return b"".join((status_line(status), _server_and_date(), (lines + "\r\n").encode("latin-1")))

    def stream_chunk(self, data: bytes) -> bytes:
        mode = self._stream_mode
        if not data or not mode:
            return b""
        if mode == _CHUNKED:
            return b"%x\r\n%b\r\n" % (len(data), data)
        if self._stream_left >= 0:
            self._stream_left -= len(data)
            if self._stream_left < 0:
                raise RuntimeError("too much data for the response's declared Content-Length")
        return data

    def stream_end(self) -> bytes:
        self._response_complete = True
        mode = self._stream_mode
        self._stream_mode = 0
        if mode == _CHUNKED:
            return b"0\r\n\r\n"
        if mode and self._stream_left > 0:
            raise RuntimeError("too little data for the response's declared Content-Length")
        return b""

    def error_bytes(self, status: int, message: str, detail: str | None = None) -> bytes | None:
        """A JSON error response that also closes the connection, if one can still be sent."""
        if self._response_started:
            return None
        return self.response_bytes(closing_error(HTTPError(message, detail, status_code=status)))

    def error_from(self, exc: HTTPError) -> bytes | None:
        if self._response_started:
            return None
        return self.response_bytes(closing_error(exc))
