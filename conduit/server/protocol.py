"""HTTP/1.1 protocol state on h11, with no I/O.

:class:`H11Protocol` turns received bytes into request heads and body chunks, and
responses into bytes to write (through :mod:`conduit.server.writer`, shared with the
httptools protocol). The transport (:mod:`conduit.server.transport`) owns the
socket and the waiting; everything here is testable with raw bytes. Following h11's
own server example: an error is answered only while a response can still be sent,
with h11's status hint, and the connection is then closed.
"""

from __future__ import annotations

from typing import Any, cast

import h11

from conduit.errors import BadRequestError, error_for_status
from conduit.server.framing import ProtocolError, RequestHead, body_too_large, split_target, spoken_version
from conduit.server.writer import ResponseWriter, date_header

__all__ = [
    "NEED_DATA",
    "H11Protocol",
    "ProtocolError",
    "RequestHead",
    "body_too_large",
    "date_header",
    "split_target",
    "spoken_version",
]

NEED_DATA = h11.NEED_DATA
_COMPLETE = (h11.DONE, h11.MIGHT_SWITCH_PROTOCOL)  # type: ignore[attr-defined]  # public, not in __all__


def _reason_of(exc: Exception) -> str:
    """h11's message without the echoed input (``...: bytearray(b'...')``), which is noise."""
    text = str(exc) or "malformed request"
    return text.split(": bytearray(", 1)[0].split(": b'", 1)[0].split(': b"', 1)[0]


class H11Protocol(ResponseWriter):
    """One connection's HTTP state: bytes in, events and bytes out.

    h11 parses; responses are written by :class:`~conduit.server.writer.ResponseWriter`
    (h11's rules, without its per-response validation cost). Since h11 then never sees our
    side of the exchange, each request/response cycle gets a fresh ``h11.Connection`` that
    carries on with the bytes already received.
    """

    __slots__ = ("_bodiless", "_stale", "body_failed", "body_received", "conn", "max_body_size", "max_header_size")

    def __init__(self, max_header_size: int = 16384, max_body_size: int = 16 * 1024 * 1024) -> None:
        super().__init__()
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_header_size)
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.body_received = 0
        self.body_failed = False  # the current request's body broke framing or limits: close after answering
        self._bodiless = False  # the current request has no body: complete at its head
        self._stale = False  # h11 said NEED_DATA and nothing arrived since: it would say it again

    # --- input ------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Hand received bytes (``b""`` for EOF) to the parser."""
        self._stale = False
        self.conn.receive_data(data)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet parsed into events."""
        return len(self.conn.trailing_data[0])

    def next_head(self) -> RequestHead | Any:
        """The next request head, ``NEED_DATA``, or ``None`` when the peer closed cleanly."""
        if self._stale:  # asking h11 again costs microseconds, mostly an IndexError inside it
            return NEED_DATA
        try:
            event = self.conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ProtocolError(exc.error_status_hint, _reason_of(exc)) from None
        if event is NEED_DATA:
            self._stale = True
            return NEED_DATA
        if type(event) is h11.Request:
            headers = list(event.headers)  # h11's Headers is a Sequence: slow to walk more than once
            # h11 bounds only heads that arrive in pieces; one that arrives whole is measured here.
            size = len(event.target) + sum(len(n) + len(v) + 4 for n, v in headers)
            if size > self.max_header_size:
                raise ProtocolError(431, f"the request head exceeds {self.max_header_size} bytes")
            version = spoken_version(event.http_version.decode("ascii", "replace"))
            self.body_received = 0
            self.body_failed = False
            try:
                head = RequestHead(event.method, event.target, headers, version.encode("ascii"))
            except (ValueError, UnicodeDecodeError):
                raise ProtocolError(400, "malformed request head") from None
            self._begin(event.method, version == "1.1", head.close, head.expects_continue)
            self._bodiless = not head.has_body
            if head.content_length is not None and head.content_length > self.max_body_size:
                raise body_too_large(self.max_body_size, head.content_length)
            return head
        if type(event) is h11.ConnectionClosed:
            return None
        raise ProtocolError(400, f"unexpected {type(event).__name__} before a request")

    def next_body_chunk(self) -> bytes | Any:
        """The next body chunk, ``b""`` at the end of the body, or ``NEED_DATA``."""
        if self._stale:
            return NEED_DATA
        try:
            event = self.conn.next_event()
        except h11.RemoteProtocolError as exc:
            self.body_failed = True
            raise error_for_status(
                exc.error_status_hint, "Malformed request body", _reason_of(exc), code="malformed_body"
            ) from None
        t = type(event)
        if t is h11.Data:
            data = cast(h11.Data, event).data
            self._waiting_continue = False
            self.body_received += len(data)
            if self.body_received + self._chunk_left() > self.max_body_size:
                self.body_failed = True
                raise body_too_large(self.max_body_size)
            return bytes(data)
        if t is h11.EndOfMessage:
            self._waiting_continue = False
            return b""
        if event is NEED_DATA:
            if self.body_received + self._chunk_left() > self.max_body_size:
                self.body_failed = True  # a chunk declared past the limit: refused at its size line
                raise body_too_large(self.max_body_size)
            self._stale = True
            return NEED_DATA
        if t is h11.ConnectionClosed:
            raise BadRequestError("Incomplete body", "the client closed the connection before the body was complete")
        raise BadRequestError("Malformed request body", f"unexpected {t.__name__} in a request body")

    def _chunk_left(self) -> int:
        """Bytes still due in the chunk being read (0 outside chunked bodies). h11 keeps the
        declared chunk size to itself; read it so that a size past max_body_size is refused
        when its line arrives, not after the client has sent (or stalled on) that much."""
        left = getattr(getattr(self.conn, "_reader", None), "_bytes_in_chunk", 0)
        return left if type(left) is int else 0

    # --- cycle ------------------------------------------------------------------------

    def finish_body(self) -> bool:
        """After the response: consume the rest of a bodiless request's events.

        Returns True when the request is complete (their side DONE) so the connection
        can be reused; False when unread body remains.
        """
        if self._bodiless:
            return True  # h11 would only report its end of message; the next cycle starts afresh
        conn = self.conn
        while conn.their_state is h11.SEND_BODY:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                return False
            if event is NEED_DATA:
                self._stale = True
                return False
            if type(event) is h11.Data:
                return False  # the handler did not read the body; don't drain unbounded input
        # An Upgrade request leaves h11 waiting for our answer to it; ours is never 101, so
        # (as h11 would after seeing that response) the request is simply complete.
        return conn.their_state in _COMPLETE

    def start_next_cycle(self) -> bool:
        """Prepare for the next request on this connection; False if it must close."""
        old = self.conn
        if self.closing or not self._keep_alive or not self._response_complete:
            return False
        if not self._bodiless and old.their_state not in _COMPLETE:
            return False
        data, closed = old.trailing_data
        conn = self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.max_header_size)
        if data:
            conn.receive_data(data)
        if closed:
            conn.receive_data(b"")
        self._stale = not data and not closed
        self._next_cycle()
        return True
