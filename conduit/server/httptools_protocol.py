"""HTTP/1.1 protocol state on httptools (llhttp), with no I/O: the fast twin of H11Protocol.

Same interface and the same observable behaviour as :class:`~conduit.server.protocol.H11Protocol`
(h11 stays the reference; one conformance suite runs against both). ``http="auto"`` picks
this one when httptools is installed.

httptools pushes: ``feed()`` parses eagerly and queues what the callbacks produce
(request heads, body chunks, end-of-message markers, errors) and the transport pulls them in
order with ``next_head``/``next_body_chunk``. ``buffered`` counts the queued bytes, so the
transport's read back-pressure bounds the queue as it bounds h11's buffer. Responses are
written by :class:`~conduit.server.writer.ResponseWriter`, as for h11;
tests/server/test_protocol_conformance.py compares both protocols with h11 byte for byte.

Where llhttp is stricter or looser than h11, and this follows llhttp: empty lines before a
request line are skipped (RFC 9112 §2.2; h11 answers 400), a repeated identical
Content-Length and methods llhttp does not know get 400 (h11 accepts them).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from httptools import HttpParserCallbackError, HttpParserError, HttpParserUpgrade, HttpRequestParser

from conduit.errors import BadRequestError, error_for_status
from conduit.server.framing import ProtocolError, RequestHead, body_too_large, spoken_version
from conduit.server.protocol import NEED_DATA
from conduit.server.writer import ResponseWriter

__all__ = ["HttpToolsProtocol"]


class _End:
    """Queued after the last body chunk of a request."""

    __slots__ = ()


_END: Any = _End()


class _TooLarge:
    """Queued when a chunk's declared size takes the body past ``max_body_size``."""

    __slots__ = ()


_TOO_LARGE: Any = _TooLarge()

#: A chunk-size line: hex digits, optional extensions (RFC 9112 §7.1).
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;.*)?", re.DOTALL)


class _Stop(Exception):
    """Raised inside a callback to stop parsing without queueing an error (e.g. before a 413)."""


def _error_status(exc: HttpParserError) -> int:
    """llhttp's parse errors are the client's garbage: 400. (A well-formed version that is not
    1.x is answered 505 by :func:`spoken_version`, once the head is parsed.)"""
    return 400


def _parser(protocol: Any) -> HttpRequestParser:
    parser = HttpRequestParser(protocol)
    # Any single-digit version parses (llhttp refuses HTTP/1.2); spoken_version then answers
    # 1.x as 1.1 and other majors 505, as h11's path does. No other leniency.
    parser.set_dangerous_leniencies(lenient_version=True)
    return parser


class HttpToolsProtocol(ResponseWriter):
    """One connection's HTTP state on httptools: bytes in, events and bytes out."""

    __slots__ = (
        "_began",
        "_body_fed",
        "_body_total",
        "_chunk_fed",
        "_chunk_left",
        "_chunk_pending",
        "_chunked",
        "_completed",
        "_dead",
        "_eof",
        "_framing_bytes",
        "_head_bytes",
        "_headers",
        "_in_body",
        "_in_head",
        "_known",
        "_line_start",
        "_raw_body",
        "_request_complete",
        "_url",
        "body_failed",
        "body_received",
        "events",
        "max_body_size",
        "max_header_size",
        "parser",
        "queued",
    )

    def __init__(self, max_header_size: int = 16384, max_body_size: int = 16 * 1024 * 1024) -> None:
        super().__init__()
        self.parser = _parser(self)
        self.events: deque[Any] = deque()
        self.queued = 0  # bytes the queued events stand for (heads by their size)
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.body_received = 0
        self.body_failed = False  # the current request's body broke framing or limits: close after answering
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
        self._request_complete = False
        # Bounding what a chunked body carries besides data (chunk headers, extensions,
        # trailers), which httptools accumulates whole before any callback: counted per feed.
        self._in_body = False
        self._body_fed = False  # the current feed produced body data
        self._framing_bytes = 0  # bytes fed in a row inside a body without producing data
        # Chunk sizes, which llhttp keeps to itself: read from the size line so that a chunk
        # declared past max_body_size is refused when its line arrives (as on h11).
        self._chunked = False  # the current request's body is chunked
        self._body_total = 0  # body bytes of the current request parsed so far
        self._chunk_pending = False  # a chunk header was parsed this feed; its size not read yet
        self._chunk_fed = 0  # data bytes of that chunk in this feed
        self._chunk_left = 0  # data bytes still due in the open chunk (once its size is read)
        self._line_start = b""  # the start of a size line that began in an earlier feed

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
        if not self._in_head:  # a trailer field: trailers count against the head's limit too
            self._chunk_pending = False  # the last chunk's (size 0): nothing to check
            self._framing_bytes += len(name) + len(value) + 4
            if self._framing_bytes > self.max_header_size:
                raise ProtocolError(431, f"the request's trailers exceed {self.max_header_size} bytes")
            return
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
        version = spoken_version(parser.get_http_version())
        method = parser.get_method()
        try:  # llhttp has refused control characters in values already
            head = RequestHead(method, url, headers, version.encode("ascii"), values_checked=True)
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(400, "malformed request head") from None
        self.events.append((head, method, size, head.close))
        self._in_body = head.has_body
        self._chunked = head.has_body and head.content_length is None
        self._body_total = self._chunk_left = 0
        self._line_start = b""
        self._framing_bytes = 0
        self.queued += size
        if head.content_length is not None and head.content_length > self.max_body_size:
            raise _Stop()  # next_head answers 413; the body is never read

    def on_body(self, body: bytes) -> None:
        self._body_fed = True
        if self._chunked:
            self._body_total += len(body)
            if self._chunk_pending:
                self._chunk_fed += len(body)
            else:
                self._chunk_left -= len(body)
        self.events.append(body)
        self.queued += len(body)

    def on_chunk_header(self) -> None:
        self._chunk_pending = True
        self._chunk_fed = 0

    def on_chunk_complete(self) -> None:
        self._chunk_pending = False
        self._chunk_left = 0

    def on_message_complete(self) -> None:
        self._completed = True
        self._in_body = False
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
        was_in_body = self._in_body
        self._body_fed = False
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade as exc:
            self.parser = _parser(self)
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
        if was_in_body and self._in_body and not self._body_fed:
            # A whole feed inside a body and not one byte of data: chunk headers, extensions or
            # trailers, which llhttp holds until they end. Bounded like a head.
            self._framing_bytes += len(data)
            if self._framing_bytes > self.max_header_size:
                self._fail(ProtocolError(431, f"chunk headers or trailers exceed {self.max_header_size} bytes"))
                return
        elif self._body_fed:
            self._framing_bytes = 0
        if self._chunked and self._in_body:
            self._read_chunk_size(data)
            if self._dead:
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

    def _read_chunk_size(self, data: bytes) -> None:
        """After a feed inside a chunked body: read the size of a chunk whose header this feed
        completed, and refuse the body when that size takes it past ``max_body_size``.

        llhttp reports a chunk header but not its size. When the chunk is still open at the end
        of the feed, everything after its size line in ``data`` is the chunk's data, so the line
        ends ``_chunk_fed`` bytes before the end; it may have begun in earlier feeds."""
        if not self._chunk_pending:
            if not self._chunk_left:  # between chunks: keep the start of a size line to come
                i = data.rfind(b"\n")
                self._line_start = data[i + 1:] if i >= 0 else self._line_start + data
            return
        self._chunk_pending = False
        end = len(data) - self._chunk_fed
        start = data.rfind(b"\n", 0, max(end - 2, 0)) + 1
        line = data[start:end] if start else self._line_start + data[:end]
        self._line_start = b""
        if line[-2:] != b"\r\n":  # pragma: no cover - llhttp parsed the line, so it ends in CRLF
            return
        match = _CHUNK_SIZE.fullmatch(line, 0, len(line) - 2)
        if match is None:
            return
        self._chunk_left = int(match.group(1), 16) - self._chunk_fed
        if self._body_total + self._chunk_left > self.max_body_size:
            self._dead = True
            self.events.append(_TOO_LARGE)
            self.queued += 1

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
            self.body_received = 0
            self.body_failed = False
            self._request_complete = False
            self._begin(method, head.http_version == "1.1", close, head.expects_continue)
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
                self.body_failed = True
                raise body_too_large(self.max_body_size)
            return item
        if item is _END:
            events.popleft()
            self._request_complete = True
            self._waiting_continue = False
            return b""
        if item is _TOO_LARGE:  # a chunk declared past the limit: refused at its size line
            events.popleft()
            self.queued -= 1
            self.body_failed = True
            raise body_too_large(self.max_body_size)
        if type(item) is ProtocolError:
            events.popleft()
            self.queued -= 1
            self.body_failed = True
            raise error_for_status(item.status, "Malformed request body", item.message, code="malformed_body")
        raise BadRequestError("Malformed request body", "unexpected request head in a request body")

    # --- cycle ------------------------------------------------------------------------

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
        self._request_complete = False
        self._next_cycle()
        return True
