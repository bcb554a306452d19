"""The reference: H11Protocol as it was when h11 wrote every response (h11.Connection.send).

The production protocols write responses themselves (conduit/server/writer.py);
test_protocol_conformance compares their bytes with this class's, so h11 stays the judge of
what goes on the wire. Parsing is H11Protocol's own; output, 100-continue and the cycle
go through one h11 connection, as before.
"""

from __future__ import annotations

import h11

from conduit.framework.errors import HTTPError
from conduit.http.response import HTTPResponse
from conduit.server.protocol import H11Protocol
from conduit.server.writer import closing_error, date_header, reason_phrase


class ReferenceH11Protocol(H11Protocol):
    """H11Protocol with h11 writing the responses."""

    __slots__ = ()

    @property
    def wants_continue(self) -> bool:
        return self.conn.they_are_waiting_for_100_continue

    def continue_bytes(self) -> bytes:
        return self.conn.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")) or b""

    def _headers(self, response: HTTPResponse, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        headers = [(b"server", b"conduit"), (b"date", date_header())]
        for name, value in response.headers.raw_items():
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        headers.extend(extra)
        if self.closing:
            headers.append((b"connection", b"close"))
        return headers

    def response_bytes(self, response: HTTPResponse) -> bytes:
        body = response.body
        status = response.status_code
        no_body = status in (204, 304) or status < 200 or self.request_method == b"HEAD"
        if "content-length" in response.headers or status in (204, 304):
            extra = []
        else:
            extra = [(b"content-length", str(len(body)).encode("ascii"))]
        conn = self.conn
        out = conn.send(h11.Response(status_code=status, headers=self._headers(response, extra), reason=reason_phrase(status)))
        if body and not no_body:
            out += conn.send(h11.Data(data=body))
        return out + conn.send(h11.EndOfMessage())

    def stream_head(self, response: HTTPResponse) -> bytes:
        status = response.status_code
        return self.conn.send(h11.Response(status_code=status, headers=self._headers(response, []), reason=reason_phrase(status)))

    def stream_chunk(self, data: bytes) -> bytes:
        if self.request_method == b"HEAD" or not data:
            return b""
        return self.conn.send(h11.Data(data=data))

    def stream_end(self) -> bytes:
        return self.conn.send(h11.EndOfMessage())

    def error_bytes(self, status: int, message: str, detail: str | None = None) -> bytes | None:
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

    def finish_body(self) -> bool:
        self._bodiless = False  # h11 must see the end of every request here
        super().finish_body()
        return self.conn.their_state is h11.DONE

    def start_next_cycle(self) -> bool:
        conn = self.conn
        if self.closing or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return False
        conn.start_next_cycle()
        return True
