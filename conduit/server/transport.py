"""The hot path: an ``asyncio.Protocol`` per connection driving the protocol state.

The state is :class:`~conduit.server.protocol.H11Protocol` or, with httptools installed,
:class:`~conduit.server.httptools_protocol.HttpToolsProtocol` (the same interface).

anyio gives the server its structure (task groups, signals, worker threads), but its
stream ``receive()`` costs more per request than the rest of the server's own work, so
bytes arrive through ``data_received`` callbacks instead (docs/architecture.md, "Design
notes"). One task per connection reads a request head, runs
the app, writes the response, and loops while the connection is kept alive. Reading is
paused while a request's body is not being consumed (back-pressure); writing waits on
``pause_writing``/``resume_writing``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from conduit.errors import HTTPError
from conduit.http.datastructures import Address
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse, error_response
from conduit.server.protocol import NEED_DATA, H11Protocol, ProtocolError, RequestHead
from conduit.server.writer import ResponseFramingError

__all__ = ["ConnectionLimits", "HTTPConnection", "ServerState"]

logger = logging.getLogger("conduit.server")

HIGH_WATER = 256 * 1024
_TIMER_SLACK = 0.001  # a timer may fire this early (loop clock resolution); count it as due
DRAIN_LIMIT = 1024 * 1024  # bytes of an unread request body drained to keep the connection
DRAIN_SECONDS = 1.0


class ConnectionLimits:
    __slots__ = (
        "body_min_rate",
        "header_timeout",
        "keepalive_timeout",
        "max_body_size",
        "max_connections",
        "max_header_size",
        "max_requests",
        "write_timeout",
    )

    def __init__(
        self,
        max_header_size: int = 16384,
        max_body_size: int = 16 * 1024 * 1024,
        header_timeout: float = 10.0,
        keepalive_timeout: float = 5.0,
        write_timeout: float = 30.0,
        body_min_rate: int = 1024,
        max_connections: int = 0,
        max_requests: int = 0,
    ) -> None:
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.header_timeout = header_timeout
        self.keepalive_timeout = keepalive_timeout
        self.write_timeout = write_timeout
        self.body_min_rate = body_min_rate  # bytes/s a body must average after header_timeout; 0: no minimum
        self.max_connections = max_connections  # open connections per process; 0: no cap
        self.max_requests = max_requests  # requests served per connection before it closes; 0: no limit


class ServerState:
    """What every connection of one server shares: the app, limits, live connections."""

    def __init__(self, app: Any, limits: ConnectionLimits, scheme: str = "http", protocol: type = H11Protocol) -> None:
        self.app = app
        self.handle = app.handle
        self.limits = limits
        self.protocol = protocol  # H11Protocol, or HttpToolsProtocol (same interface)
        self.scheme = scheme
        self.connections: set[HTTPConnection] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.shutting_down = False
        self.total_requests = 0


class _Closed(Exception):
    """The connection went away or timed out while we waited."""


class HTTPConnection(asyncio.Protocol):
    __slots__ = (
        "_body_done",
        "_body_started",
        "_closed",
        "_deadline",
        "_drain_waiter",
        "_idle",
        "_reading_paused",
        "_stream_task",
        "_timer",
        "_waiter",
        "_write_paused",
        "client",
        "loop",
        "proto",
        "server",
        "state",
        "transport",
    )

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.proto = state.protocol(state.limits.max_header_size, state.limits.max_body_size)
        self.client: Address | None = None
        self.server: Address | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._idle = True
        self._stream_task: asyncio.Task[Any] | None = None
        self._deadline: float | None = None  # of the current wait for data (loop time)
        self._body_started: float | None = None  # when the current request's body was first waited for
        self._body_done = False  # the current request's body has been read to its end

    # --- asyncio.Protocol callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = Address(str(peer[0]), int(peer[1]))
        local = transport.get_extra_info("sockname")
        if isinstance(local, tuple) and len(local) >= 2:
            self.server = Address(str(local[0]), int(local[1]))
        limit = self.state.limits.max_connections
        if limit and len(self.state.connections) >= limit:
            # Over the cap: answered at once and closed, never queued behind the others.
            cast(asyncio.Transport, transport).write(_OVER_CAPACITY)
            transport.close()
            self._closed = True
            return
        self.state.connections.add(self)
        if self.state.shutting_down:
            transport.close()
            return
        task = self.loop.create_task(self._run())
        self.state.tasks.add(task)
        task.add_done_callback(self.state.tasks.discard)

    def data_received(self, data: bytes) -> None:
        self.proto.feed(data)
        if self.proto.buffered > HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def eof_received(self) -> bool | None:
        try:
            self.proto.feed(b"")
        except RuntimeError:
            pass
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._cancel_timer()
        self.state.connections.discard(self)
        self._wake(_Closed())
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_exception(_Closed())
        if self._stream_task is not None:  # stop producing a body nobody will read
            self._stream_task.cancel()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- waiting -----------------------------------------------------------------------------

    def _wake(self, exc: BaseException | None = None) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    async def _wait_data(self, deadline: float | None) -> None:
        """Wait for more bytes (or EOF), until ``deadline`` (loop time) at most."""
        if self._closed:
            raise _Closed()
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        waiter = self._waiter = self.loop.create_future()
        self._deadline = deadline
        if deadline is not None:
            # One lazily re-armed timer per connection, not one per wait: arming and
            # cancelling a TimerHandle for every request costs microseconds on the hot path.
            timer = self._timer
            if timer is None or timer.when() > deadline:
                if timer is not None:
                    timer.cancel()
                self._timer = self.loop.call_at(deadline, self._on_timer)
        try:
            await waiter
        finally:
            self._waiter = None
            self._deadline = None

    def _on_timer(self) -> None:
        """The timer fired: time out the current wait if its deadline passed, else re-arm."""
        self._timer = None
        deadline = self._deadline
        waiter = self._waiter
        if deadline is None or waiter is None or waiter.done():
            return
        if deadline - self.loop.time() <= _TIMER_SLACK:
            waiter.set_exception(TimeoutError())
        else:
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _drain(self) -> None:
        """Wait until the transport takes more output (below its high-water mark).

        Output is bounded: nothing more is written, and no further pipelined request is
        answered, while the client is not reading. A client that accepts no byte for
        ``write_timeout`` seconds (its unsent output did not shrink) is disconnected, which
        frees the output and ends a streamed response's generator.
        """
        transport = self.transport
        assert transport is not None
        timeout = self.state.limits.write_timeout
        while self._write_paused and not self._closed:
            unsent = transport.get_write_buffer_size()
            self._drain_waiter = self.loop.create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._drain_waiter
            except TimeoutError:
                if transport.get_write_buffer_size() >= unsent:  # not a byte taken: give up
                    logger.info("closing a connection whose client read nothing for %.1f s", timeout)
                    self._closed = True
                    transport.abort()
                    raise _Closed() from None
            finally:
                self._drain_waiter = None
        if self._closed:
            raise _Closed()

    def close_if_idle(self) -> None:
        """On shutdown: close now if waiting between requests, else after this response."""
        self.proto.closing = True
        if self._idle and self.proto.buffered == 0 and self.transport is not None:
            self.transport.close()
            self._wake(_Closed())

    # --- the connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        proto = self.proto
        limits = self.state.limits
        transport = self.transport
        assert transport is not None
        first = True
        served = 0
        try:
            while True:
                self._idle = True
                head = proto.next_head()
                if head is NEED_DATA:
                    head = await self._read_head(first, limits)
                    if head is None:
                        break
                elif head is None:
                    break
                self._idle = False
                first = False
                served += 1
                if limits.max_requests and served >= limits.max_requests:
                    proto.closing = True  # the last one: its answer says Connection: close
                keep = await self._cycle(head)
                if not keep or not proto.start_next_cycle():
                    break
        except _Closed:
            pass
        except ProtocolError as exc:
            out = proto.error_bytes(exc.status, _STATUS_MESSAGES.get(exc.status, "Bad Request"), exc.message)
            if out and not self._closed:
                transport.write(out)
        except HTTPError as exc:  # 413 from the head's Content-Length
            out = proto.error_from(exc)
            if out and not self._closed:
                transport.write(out)
        except Exception:
            logger.exception("connection handler failed; closing the connection")
        finally:
            self._cancel_timer()
            if not self._closed:
                transport.close()

    async def _read_head(self, first: bool, limits: ConnectionLimits) -> RequestHead | None:
        """Wait for a complete head: keep-alive idle timeout, then the header timeout."""
        proto = self.proto
        loop = self.loop
        deadline: float | None = None
        if proto.buffered or first:
            deadline = loop.time() + limits.header_timeout
        while True:
            if deadline is None:
                try:
                    await self._wait_data(loop.time() + limits.keepalive_timeout)
                except TimeoutError:
                    return None  # idle keep-alive connection: close quietly
                deadline = loop.time() + limits.header_timeout
            else:
                try:
                    await self._wait_data(deadline)
                except TimeoutError:
                    if proto.buffered == 0 and not first:
                        return None
                    raise ProtocolError(408, "the request head did not arrive in time") from None
            head = proto.next_head()
            if head is not NEED_DATA:
                return head

    async def _receive_body(self) -> bytes:
        proto = self.proto
        limits = self.state.limits
        while True:
            chunk = proto.next_body_chunk()
            if chunk is not NEED_DATA:
                if not chunk:
                    self._body_done = True
                return chunk
            if proto.wants_continue:
                self.transport.write(proto.continue_bytes())  # type: ignore[union-attr]
            now = self.loop.time()
            deadline = now + limits.header_timeout
            too_slow_at = None
            if limits.body_min_rate:
                # Each read waits header_timeout at most, and the whole body must also average
                # body_min_rate bytes/s after a header_timeout grace: one byte a second ends.
                if self._body_started is None:
                    self._body_started = now
                too_slow_at = self._body_started + limits.header_timeout + proto.body_received / limits.body_min_rate
                deadline = min(deadline, too_slow_at)
            try:
                await self._wait_data(deadline)
            except TimeoutError:
                proto.body_failed = True
                slow = too_slow_at is not None and deadline == too_slow_at
                raise HTTPError(
                    "Request Timeout",
                    f"the request body arrived slower than {limits.body_min_rate} bytes a second" if slow
                    else "the request body did not arrive in time",
                    status_code=408, code="body_timeout",
                ) from None

    async def _cycle(self, head: RequestHead) -> bool:
        """Answer one request; True if the connection may serve another."""
        state = self.state
        self._body_started = None
        self._body_done = False
        request = HTTPRequest(
            head.method,
            head.path,
            head.query_string,
            head.headers,
            body=None if head.has_body else b"",
            receive=self._receive_body,
            client=self.client,
            server=self.server,
            scheme=state.scheme,
            http_version=head.http_version,
            raw_path=head.raw_path,
        )
        state.total_requests += 1
        try:
            response = await state.handle(request)
        except ProtocolError:
            raise
        except Exception as exc:  # noqa: BLE001 - app.handle renders errors itself; this is a last resort
            response = error_response(exc, request)
        proto = self.proto
        transport = self.transport
        assert transport is not None
        if self._closed:
            return False
        closing = proto.body_failed or (
            head.content_length is not None and head.content_length - proto.body_received > DRAIN_LIMIT
        ) or (
            # A chunked body the handler left unread: its size is unknown, so unless the rest of
            # it has already arrived (then it is dropped here), the connection cannot be reused.
            head.content_length is None and head.has_body and not self._body_done
            and not response.is_streaming and not self._drop_buffered_body()
        )
        if closing:
            # The connection closes after this answer (a broken or unfinished body, or one too big
            # to drain): say so, so the client does not send its next request into it.
            response.headers["Connection"] = "close"
        if response.is_streaming:
            await self._send_stream(response, request)
        else:
            try:
                data = proto.response_bytes(response)
            except ResponseFramingError as exc:  # the handler's own Content-Length is wrong
                logger.error("%s %s: %s; answered 500 and closed the connection", request.method, request.path, exc)
                data = proto.error_bytes(
                    500, "Internal Server Error", "the handler's response declared a Content-Length its body does not have"
                ) or b""
                closing = True
            transport.write(data)
            if self._write_paused:  # a client that does not read gets no more answers until it does
                await self._drain()
        if response.background:
            await _run_background(response.background)
        if closing or not head.keep_alive or self._closed:
            return False
        return proto.finish_body() or await self._discard_body()

    def _drop_buffered_body(self) -> bool:
        """Read and drop the rest of an unread body if all of it has arrived (True), within
        DRAIN_LIMIT; False when more is still to come, or it is broken."""
        proto = self.proto
        if proto.wants_continue:  # the client waits for 100 Continue, which it will not get
            return False
        drained = 0
        while drained <= DRAIN_LIMIT:
            try:
                chunk = proto.next_body_chunk()
            except HTTPError:
                return False
            if chunk is NEED_DATA:
                return False
            if not chunk:
                self._body_done = True
                return True
            drained += len(chunk)
        return False

    async def _discard_body(self) -> bool:
        """Read and drop a request body the handler left unread, within bounds.

        Closing a socket with unread input makes the kernel send RST, which can destroy
        the response the client has not read yet; a small leftover is drained instead and
        the connection stays usable. Past DRAIN_LIMIT bytes or DRAIN_SECONDS, close.
        """
        proto = self.proto
        if proto.wants_continue:  # the client never sent the body; it will not now
            return False
        deadline = self.loop.time() + DRAIN_SECONDS
        drained = 0
        while True:
            try:
                chunk = proto.next_body_chunk()
            except HTTPError:
                return False
            if chunk is NEED_DATA:
                try:
                    await self._wait_data(deadline)
                except (TimeoutError, _Closed):
                    return False
                continue
            if not chunk:
                return proto.finish_body()
            drained += len(chunk)
            if drained > DRAIN_LIMIT:
                return False

    async def _send_stream(self, response: HTTPResponse, request: HTTPRequest) -> None:
        proto = self.proto
        transport = self.transport
        assert transport is not None
        transport.write(proto.stream_head(response))
        agen = response.iter_bytes()  # type: ignore[attr-defined]
        self._stream_task = asyncio.current_task()
        try:
            async for chunk in agen:
                out = proto.stream_chunk(chunk)
                if out:
                    transport.write(out)
                    if self._write_paused:
                        await self._drain()
        except _Closed:
            raise
        except asyncio.CancelledError:
            if not self._closed:  # cancelled from outside (shutdown): let it propagate
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise _Closed() from None  # the client went away mid-stream
        except Exception:
            logger.exception("streamed response for %s %s failed mid-body; closing", request.method, request.path)
            transport.close()
            raise _Closed() from None
        finally:
            self._stream_task = None
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                await aclose()
        transport.write(proto.stream_end())


async def _run_background(tasks: list[Callable[[], Any]]) -> None:
    from conduit.plugins import resolve

    for fn in tasks:
        try:
            await resolve(fn)
        except Exception:
            logger.exception("background task %r failed", fn)


_OVER_CAPACITY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: 106\r\n\r\n"
    b'{"error":"Service Unavailable","detail":"too many open connections; try again","status":503,"code":"busy"}'
)

_STATUS_MESSAGES = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Payload Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}
