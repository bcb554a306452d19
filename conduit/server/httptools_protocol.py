"""HTTP/1.1 protocol state on httptools (llhttp), with no I/O: the fast twin of H11Protocol.

Same interface and the same observable behaviour as :class:`~conduit.server.protocol.H11Protocol`
(h11 stays the reference; one conformance suite runs against both). ``http="auto"`` picks
this one when httptools is installed.

httptools pushes: ``feed()`` parses eagerly and queues what the callbacks produce
(request heads, body chunks, end-of-message markers, errors) and the transport pulls them in
order with ``next_head``/``next_body_chunk``. ``buffered`` counts the queued bytes, so the
transport's read back-pressure bounds the queue as it bounds h11's buffer. Responses are
written here (h11's rules: a ``Content-Length`` unless streamed, chunked streams for HTTP/1.1,
close-delimited for HTTP/1.0, ``Connection: close`` whenever the connection will not be
reused, no body for HEAD, 1xx, 204 and 304); tests/server/test_protocol_conformance.py
compares the two byte for byte.

Where llhttp is stricter or looser than h11, and this follows llhttp: empty lines before a
request line are skipped (RFC 9112 §2.2; h11 answers 400), a repeated identical
Content-Length and methods llhttp does not know get 400 (h11 accepts them).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from httptools import HttpParserCallbackError, HttpParserError, HttpParserUpgrade, HttpRequestParser

from conduit.framework.errors import BadRequestError, HTTPError, error_for_status
from conduit.http.response import HTTPResponse
from conduit.server.protocol import (
    NEED_DATA,
    ProtocolError,
    RequestHead,
    body_too_large,
    closing_error,
    date_header,
    reason_phrase,
)

__all__ = ["HttpToolsProtocol"]


class _End:
    """Queued after the last body chunk of a request."""

    __slots__ = ()


_END: Any = _End()


class _Stop(Exception):
    """Raised inside a callback to stop parsing without queueing an error (e.g. before a 413)."""


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_SERVER_DATE: list[Any] = [b"", b""]
_CHUNKED = 1
_RAW = 2  # content-length or close-delimited


_STATUS_LINES: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n``, built once per status code."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = b"HTTP/1.1 %d %b\r\n" % (status, reason_phrase(status))
        if 100 <= status <= 999:
            _STATUS_LINES[status] = line
    return line


def _server_and_date() -> bytes:
    date = date_header()
    if date is not _SERVER_DATE[0]:
        _SERVER_DATE[0] = date
        _SERVER_DATE[1] = b"server: conduit\r\ndate: " + date + b"\r\n"
    return _SERVER_DATE[1]


def _values(items: list[tuple[str, str]], name: str) -> list[str]:
    return [v for n, v in items if n.lower() == name]


def _tokens(items: list[tuple[str, str]], name: str) -> list[str]:
    """A comma-separated header's values, lower-cased (h11's get_comma_header)."""
    return [t.strip() for v in _values(items, name) for t in v.lower().split(",") if t.strip()]


def _without(items: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in items if n.lower() != name]


def _error_status(exc: HttpParserError) -> int:
    message = str(exc)
    if "version" in message or "PRI" in message:
        return 505
    return 400


class HttpToolsProtocol:
    """One connection's HTTP state on httptools: bytes in, events and bytes out."""

    __slots__ = (
        "parser", "events", "queued", "max_header_size", "max_body_size", "body_received",
        "request_method", "closing", "_url", "_headers", "_known", "_in_head", "_head_bytes",
        "_began", "_completed", "_eof", "_dead", "_raw_body", "_keep_alive", "_waiting_continue",
        "_request_complete", "_response_started", "_response_complete", "_stream_mode", "_stream_left", "_http11",
    )

    def __init__(self, max_header_size: int = 16384, max_body_size: int = 16 * 1024 * 1024) -> None:
        self.parser = HttpRequestParser(self)
        self.events: deque[Any] = deque()
        self.queued = 0  # bytes the queued events stand for (heads by their size)
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.body_received = 0
        self.request_method = b""
        self.closing = False  # set on shutdown: answer with Connection: close
        # parsing
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._known = 0  # head bytes seen through callbacks (target + complete headers)
        self._in_head = False
        self._head_bytes = 0
        self._began = False  # a message began during the current feed
        self._completed = False  # a message completed during the current feed
        self._eof = False
        self._dead = False  # the parser failed or was stopped; later input is ignored
        self._raw_body = 0  # body bytes of an Upgrade request still to pass through unparsed
        # this request/response cycle
        self._keep_alive = True
        self._waiting_continue = False
        self._request_complete = False
        self._response_started = False
        self._response_complete = False
        self._stream_mode = 0
        self._stream_left = -1
        self._http11 = False  # the current request's version (HTTP/1.0 peers get no chunks)

    # --- httptools callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = True
        self._began = True
        self._url = b""
        self._headers = []
        self._known = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        value = value.strip(b" \t")
        self._headers.append((name.lower(), value))
        self._known += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self.parser
        url = self._url
        headers = self._headers
        size = len(url) + self._known
        if size > self.max_header_size:
            raise ProtocolError(431, f"the request head exceeds {self.max_header_size} bytes")
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise ProtocolError(505, "only HTTP/1.0 and HTTP/1.1 are supported")
        hosts = 0
        close = False
        for name, value in headers:
            if name == b"host":
                hosts += 1
            elif name == b"connection":
                close = close or b"close" in [t.strip() for t in value.lower().split(b",")]
            elif name == b"transfer-encoding":
                codings = [c.strip().lower() for n, v in headers if n == name for c in v.split(b",")]
                if codings != [b"chunked"]:
                    raise ProtocolError(501, "Only Transfer-Encoding: chunked is supported")
        if hosts > 1 or (hosts == 0 and version == "1.1"):
            raise ProtocolError(400, "Missing mandatory Host: header" if not hosts else "Found multiple Host: headers")
        method = parser.get_method()
        try:
            head = RequestHead(method, url, headers, version.encode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(400, "malformed request head") from None
        self.events.append((head, method, size, close))
        self.queued += size
        if head.content_length is not None and head.content_length > self.max_body_size:
            raise _Stop()  # next_head answers 413; the body is never read

    def on_body(self, body: bytes) -> None:
        self.events.append(body)
        self.queued += len(body)

    def on_message_complete(self) -> None:
        self._completed = True
        if self.parser.should_upgrade():
            # llhttp stops after an Upgrade/CONNECT head without reading its body. Conduit
            # does not switch protocols, so (as h11 does) the request is answered normally:
            # its Content-Length body is passed through below and parsing resumes after it.
            head = self.events[-1][0]
            if head.content_length is None and head.has_body:
                raise ProtocolError(400, "a chunked body on an Upgrade request is not supported")
            self._raw_body = head.content_length or 0
            if self._raw_body:
                return
        self.events.append(_END)

    # --- input ------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Hand received bytes (``b""`` for EOF) to the parser."""
        if self._dead:
            return
        if not data:
            self._eof = True
            return
        if self._raw_body:
            data = self._pass_through(data)
            if not data:
                return
        self._began = self._completed = False
        was_in_head = self._in_head
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade as exc:
            self.parser = HttpRequestParser(self)
            rest = data[exc.args[0]:]
            if rest:
                self.feed(rest)
            return
        except HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Stop):
                self._dead = True
            else:
                self._fail(cause if isinstance(cause, ProtocolError) else ProtocolError(400, str(exc)))
            return
        except HttpParserError as exc:
            self._fail(ProtocolError(_error_status(exc), str(exc) or "malformed request"))
            return
        if self._in_head:
            if not self._began and was_in_head:
                self._head_bytes += len(data)  # the whole feed belongs to the unfinished head
            elif not self._completed:
                self._head_bytes = len(data)  # the head started this feed
            else:  # it started after a pipelined message in this feed: count what is known
                self._head_bytes = len(self._url) + self._known + 1
            if self._head_bytes > self.max_header_size:
                self._fail(ProtocolError(431, f"the request head exceeds {self.max_header_size} bytes"))

    def _pass_through(self, data: bytes) -> bytes:
        n = min(self._raw_body, len(data))
        self.events.append(data[:n])
        self.queued += n
        self._raw_body -= n
        if not self._raw_body:
            self.events.append(_END)
        return data[n:]

    def _fail(self, error: ProtocolError) -> None:
        self._dead = True
        self._in_head = False
        self.events.append(error)
        self.queued += 1

    @property
    def buffered(self) -> int:
        """Bytes received but not yet taken as events (a partial head counts)."""
        return self.queued + (self._head_bytes if self._in_head else 0)

    def next_head(self) -> RequestHead | Any:
        """The next request head, ``NEED_DATA``, or ``None`` when the peer closed cleanly."""
        events = self.events
        if not events:
            if self._eof and not self._in_head:
                return None
            return NEED_DATA
        item = events.popleft()
        if type(item) is tuple:
            head, method, size, close = item
            self.queued -= size
            self.request_method = method
            self.body_received = 0
            http11 = self._http11 = head.http_version == "1.1"
            self._keep_alive = http11 and not close  # h11's rule: HTTP/1.0 connections are not reused
            self._waiting_continue = head.expects_continue and http11
            self._request_complete = self._response_started = self._response_complete = False
            if head.content_length is not None and head.content_length > self.max_body_size:
                raise body_too_large(self.max_body_size, head.content_length)
            return head
        if type(item) is ProtocolError:
            self.queued -= 1
            raise item
        raise ProtocolError(400, "unexpected body data before a request")  # pragma: no cover - guarded by finish_body

    def next_body_chunk(self) -> bytes | Any:
        """The next body chunk, ``b""`` at the end of the body, or ``NEED_DATA``."""
        if self._request_complete:
            return b""
        events = self.events
        if not events:
            if self._eof:
                raise BadRequestError("Incomplete body", "the client closed the connection before the body was complete")
            return NEED_DATA
        item = events[0]
        if type(item) is bytes:
            events.popleft()
            self.queued -= len(item)
            self._waiting_continue = False
            self.body_received += len(item)
            if self.body_received > self.max_body_size:
                raise body_too_large(self.max_body_size)
            return item
        if item is _END:
            events.popleft()
            self._request_complete = True
            self._waiting_continue = False
            return b""
        if type(item) is ProtocolError:
            events.popleft()
            self.queued -= 1
            raise error_for_status(item.status, "Malformed request body", item.message, code="malformed_body")
        raise BadRequestError("Malformed request body", "unexpected request head in a request body")

    @property
    def wants_continue(self) -> bool:
        return self._waiting_continue

    def continue_bytes(self) -> bytes:
        self._waiting_continue = False
        return _CONTINUE

    # --- output -----------------------------------------------------------------------
    #
    # The common case (a complete response on a kept-alive HTTP/1.1 connection, no
    # Connection or Transfer-Encoding set by the app) takes the fast path. Everything else
    # goes through _framed_head, which applies h11's rules to the header list in h11's order.

    def response_bytes(self, response: HTTPResponse) -> bytes:
        """Head, body and end of a complete response, as one buffer."""
        headers = response.headers
        body = response.body
        status = response.status_code
        self._response_started = True
        self._waiting_continue = False
        if not self._keep_alive or self.closing or "connection" in headers or "transfer-encoding" in headers:
            head = self._framed_head(response, len(body))
            return head + self.stream_chunk(body) + self.stream_end()
        no_body = status == 204 or status == 304 or status < 200
        if no_body:
            extra = "\r\n"
        elif "content-length" in headers:
            extra = "\r\n"
            if self.request_method != b"HEAD" and int(headers["content-length"]) != len(body):
                raise RuntimeError(
                    f"response Content-Length {headers['content-length']} does not match its {len(body)}-byte body"
                )
        else:
            extra = f"content-length: {len(body)}\r\n\r\n"
        lines = "".join([f"{name}: {value}\r\n" for name, value in headers.raw_items()])
        self._response_complete = True
        out = b"".join((status_line(status), _server_and_date(), (lines + extra).encode("latin-1")))
        if no_body or not body or self.request_method == b"HEAD":
            return out
        return out + body

    def stream_head(self, response: HTTPResponse) -> bytes:
        """Head of a streamed response (chunked, or close-delimited for HTTP/1.0)."""
        self._response_started = True
        self._waiting_continue = False
        return self._framed_head(response, None)

    def _framed_head(self, response: HTTPResponse, body_len: int | None) -> bytes:
        """The head as H11Protocol + h11 write it; sets the body framing for stream_chunk."""
        status = response.status_code
        method = self.request_method
        items = response.headers.raw_items()
        if body_len is not None and "content-length" not in response.headers and status != 204 and status != 304:
            items.append(("content-length", str(body_len)))
        if self.closing:
            items.append(("connection", "close"))
        bodiless = status == 204 or status == 304 or (method == b"CONNECT" and 200 <= status < 300)
        if bodiless:
            framing = "length"
        elif _tokens(items, "transfer-encoding"):
            framing = "chunked"
        elif _values(items, "content-length"):
            framing = "length"
        else:
            framing = "http/1.0"
        need_close = False
        if framing != "length":
            items = _without(items, "content-length")
            items = _without(items, "transfer-encoding")
            if self._http11:
                items.append(("Transfer-Encoding", "chunked"))
            elif method != b"HEAD":
                need_close = True
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

    # --- cycle ------------------------------------------------------------------------

    @property
    def response_done(self) -> bool:
        return self._response_complete

    def finish_body(self) -> bool:
        """After the response: consume the end of a fully read request.

        True when the request is complete so the connection can be reused; False when
        unread body remains (the caller closes).
        """
        if self._request_complete:
            return True
        events = self.events
        if events and events[0] is _END:
            events.popleft()
            self._request_complete = True
            return True
        return False

    def start_next_cycle(self) -> bool:
        """Prepare for the next request on this connection; False if it must close."""
        if self.closing or not self._keep_alive or not self._response_complete or not self._request_complete:
            return False
        self.request_method = b""
        self._request_complete = self._response_started = self._response_complete = False
        self._stream_mode = 0
        return True
