"""HTTP/1.1 protocol state on h11, with no I/O.

:class:`H11Protocol` turns received bytes into request heads and body chunks, and
responses into bytes to write. The transport (:mod:`conduit.server.transport`) owns the
socket and the waiting; everything here is testable with raw bytes. Following h11's
own server example: an error is answered only while a response can still be sent,
with h11's status hint, and the connection is then closed.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import h11

from conduit.framework.errors import BadRequestError, HTTPError, PayloadTooLargeError, error_for_status
from conduit.http.datastructures import Headers
from conduit.http.response import HTTPResponse

__all__ = [
    "H11Protocol",
    "RequestHead",
    "NEED_DATA",
    "ProtocolError",
    "split_target",
    "date_header",
    "reason_phrase",
    "body_too_large",
    "closing_error",
]

NEED_DATA = h11.NEED_DATA
SERVER_HEADER = (b"server", b"conduit")


class ProtocolError(Exception):
    """The peer broke HTTP; ``status`` is what to answer (if a response can still be sent)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestHead:
    """The parsed head of one request, ready to become an HTTPRequest."""

    __slots__ = ("method", "path", "raw_path", "query_string", "headers", "http_version", "has_body",
                 "content_length", "expects_continue", "keep_alive")

    def __init__(self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], http_version: bytes) -> None:
        """From the parser's parts; header names are lower-case, values stripped."""
        self.method = method.decode("ascii")
        self.raw_path, self.query_string = split_target(target)
        self.path = unquote(self.raw_path) if "%" in self.raw_path else self.raw_path
        self.headers = Headers(headers)
        self.http_version = http_version.decode("ascii")
        length = None
        chunked = False
        expect = False
        keep_alive = self.http_version == "1.1"
        for name, value in headers:
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"expect" and value.lower() == b"100-continue":
                expect = True
            elif name == b"connection":
                tokens = value.lower()
                if b"close" in tokens:
                    keep_alive = False
                elif b"keep-alive" in tokens:
                    keep_alive = True
        self.content_length = length
        self.has_body = chunked or bool(length)
        self.expects_continue = expect
        self.keep_alive = keep_alive


def split_target(target: bytes) -> tuple[str, str]:
    """Split a request target into the (still percent-encoded) path and query string."""
    text = target.decode("latin-1")
    if text.startswith(("http://", "https://")):  # absolute-form (proxies)
        slash = text.find("/", text.find("//") + 2)
        text = text[slash:] if slash != -1 else "/"
    elif text == "*":
        return "*", ""
    path, _, query = text.partition("?")
    return path or "/", query


_REASONS = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}


def reason_phrase(status: int) -> bytes:
    """The standard reason phrase for ``status`` (empty for unknown codes)."""
    return _REASONS.get(status, b"")


def body_too_large(limit: int, declared: int | None = None) -> PayloadTooLargeError:
    """The 413 for a body over ``limit``: declared by Content-Length, or found while reading."""
    if declared is not None:
        detail = f"the body is {declared} bytes; the limit is {limit} bytes"
    else:
        detail = f"the body exceeds the limit of {limit} bytes"
    return PayloadTooLargeError("Payload Too Large", detail, code="body_too_large")


def closing_error(exc: HTTPError) -> HTTPResponse:
    """The JSON error response for ``exc`` (its headers included), with ``Connection: close``."""
    response = HTTPResponse(exc.status_code).json(exc.to_dict())
    for name, value in exc.headers.items():
        response.headers[name] = value
    response.headers["Connection"] = "close"
    return response


_date_cache: list[Any] = [0, b""]


def date_header() -> bytes:
    """The ``Date`` value, formatted at most once a second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = formatdate(now, usegmt=True).encode("ascii")
    return _date_cache[1]


class H11Protocol:
    """One connection's HTTP state: bytes in, events and bytes out."""

    __slots__ = ("conn", "max_header_size", "max_body_size", "body_received", "request_method", "closing")

    def __init__(self, max_header_size: int = 16384, max_body_size: int = 16 * 1024 * 1024) -> None:
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_header_size)
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.body_received = 0
        self.request_method = b""
        self.closing = False  # set on shutdown: answer with Connection: close

    # --- input ------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Hand received bytes (``b""`` for EOF) to the parser."""
        self.conn.receive_data(data)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet parsed into events."""
        return len(self.conn.trailing_data[0])

    def next_head(self) -> RequestHead | Any:
        """The next request head, ``NEED_DATA``, or ``None`` when the peer closed cleanly."""
        try:
            event = self.conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ProtocolError(exc.error_status_hint, str(exc) or "malformed request") from None
        if event is NEED_DATA:
            return NEED_DATA
        if type(event) is h11.Request:
            # h11 bounds only heads that arrive in pieces; one that arrives whole is measured here.
            size = len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers)
            if size > self.max_header_size:
                raise ProtocolError(431, f"the request head exceeds {self.max_header_size} bytes")
            if event.http_version not in (b"1.1", b"1.0"):
                raise ProtocolError(505, "only HTTP/1.0 and HTTP/1.1 are supported")
            self.body_received = 0
            self.request_method = event.method
            try:
                head = RequestHead(event.method, event.target, event.headers, event.http_version)
            except (ValueError, UnicodeDecodeError):
                raise ProtocolError(400, "malformed request head") from None
            if head.content_length is not None and head.content_length > self.max_body_size:
                raise body_too_large(self.max_body_size, head.content_length)
            return head
        if type(event) is h11.ConnectionClosed:
            return None
        raise ProtocolError(400, f"unexpected {type(event).__name__} before a request")

    def next_body_chunk(self) -> bytes | Any:
        """The next body chunk, ``b""`` at the end of the body, or ``NEED_DATA``."""
        try:
            event = self.conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise error_for_status(
                exc.error_status_hint, "Malformed request body", str(exc) or None, code="malformed_body"
            ) from None
        t = type(event)
        if t is h11.Data:
            self.body_received += len(event.data)
            if self.body_received > self.max_body_size:
                raise body_too_large(self.max_body_size)
            return bytes(event.data)
        if t is h11.EndOfMessage:
            return b""
        if event is NEED_DATA:
            return NEED_DATA
        if t is h11.ConnectionClosed:
            raise BadRequestError("Incomplete body", "the client closed the connection before the body was complete")
        raise BadRequestError("Malformed request body", f"unexpected {t.__name__} in a request body")

    @property
    def wants_continue(self) -> bool:
        return self.conn.they_are_waiting_for_100_continue

    def continue_bytes(self) -> bytes:
        return self.conn.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")) or b""

    # --- output -----------------------------------------------------------------------

    def _headers(self, response: HTTPResponse, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        headers = [SERVER_HEADER, (b"date", date_header())]
        for name, value in response.headers.raw_items():
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        headers.extend(extra)
        if self.closing:
            headers.append((b"connection", b"close"))
        return headers

    def response_bytes(self, response: HTTPResponse) -> bytes:
        """Head, body and end of a complete response, as one buffer."""
        body = response.body
        status = response.status_code
        no_body = status in (204, 304) or status < 200 or self.request_method == b"HEAD"
        if "content-length" in response.headers:
            extra = []
        elif status in (204, 304):
            extra = []
        else:
            extra = [(b"content-length", str(len(body)).encode("ascii"))]
        conn = self.conn
        out = conn.send(h11.Response(status_code=status, headers=self._headers(response, extra), reason=reason_phrase(status)))
        if body and not no_body:
            out += conn.send(h11.Data(data=body))
        return out + conn.send(h11.EndOfMessage())

    def stream_head(self, response: HTTPResponse) -> bytes:
        """Head of a streamed response (h11 picks chunked, or close-delimited for HTTP/1.0)."""
        status = response.status_code
        return self.conn.send(h11.Response(status_code=status, headers=self._headers(response, []), reason=reason_phrase(status)))

    def stream_chunk(self, data: bytes) -> bytes:
        if self.request_method == b"HEAD" or not data:
            return b""
        return self.conn.send(h11.Data(data=data))

    def stream_end(self) -> bytes:
        return self.conn.send(h11.EndOfMessage())

    def error_bytes(self, status: int, message: str, detail: str | None = None) -> bytes | None:
        """A JSON error response that also closes the connection, if one can still be sent."""
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return None
        try:
            return self.response_bytes(closing_error(HTTPError(message, detail, status_code=status)))
        except h11.LocalProtocolError:
            return None

    def error_from(self, exc: HTTPError) -> bytes | None:
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return None
        return self.response_bytes(closing_error(exc))

    # --- cycle ------------------------------------------------------------------------

    @property
    def response_done(self) -> bool:
        return self.conn.our_state is h11.DONE

    def finish_body(self) -> bool:
        """After the response: consume the rest of a bodiless request's events.

        Returns True when the request is complete (their side DONE) so the connection
        can be reused; False when unread body remains (the caller closes).
        """
        conn = self.conn
        while conn.their_state is h11.SEND_BODY:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                return False
            if event is NEED_DATA:
                return False
            if type(event) is h11.Data:
                return False  # the handler did not read the body; don't drain unbounded input
        return conn.their_state is h11.DONE

    def start_next_cycle(self) -> bool:
        """Prepare for the next request on this connection; False if it must close."""
        conn = self.conn
        if self.closing or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return False
        conn.start_next_cycle()
        return True
