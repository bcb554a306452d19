"""Resumable SSE streams for the Streamable HTTP transport (MCP 2025-11-25, SEP-1699).

Every event a session's SSE streams carry gets an id ``<stream>-<n>`` and is kept (up
to ``max_events`` a stream) in an :class:`EventStream`, so a client whose connection
dropped, or whose stream the server ended on purpose (``Context.close_sse_stream``),
reconnects with ``GET`` + ``Last-Event-ID`` and receives what it missed, then the rest
as it comes. The work a POST started runs in a :class:`TaskHost`, not in the HTTP
response, so it carries on while no connection listens.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from conduit_mcp.convert import dumps

__all__ = ["EventStream", "TaskHost", "parse_event_id"]

logger = logging.getLogger("conduit.mcp")


def parse_event_id(event_id: str) -> tuple[str, int] | None:
    """``"<stream>-<n>"`` -> ``(stream, n)``; None for anything else."""
    stream_id, sep, number = event_id.strip().rpartition("-")
    if not sep or not stream_id or not number.isdigit():
        return None
    return stream_id, int(number)


class EventStream:
    """The events of one SSE stream, in order, kept for replay; followers wait for more."""

    def __init__(self, *, max_events: int = 1000, stream_id: str | None = None) -> None:
        self.stream_id = stream_id or secrets.token_hex(8)
        self.max_events = max_events
        self.done = False
        self._events: list[bytes] = []
        self._first = 0  # the number of the oldest event still kept
        self._epoch = 0  # bumped to end the followers attached now
        self._changed = anyio.Event()
        # Called with (number, frame) for each event and (None, b"") at the end: the transport
        # mirrors the stream into Redis so another process can replay it (sessions.py).
        self.mirror: Callable[[int | None, bytes], None] | None = None

    @property
    def next_number(self) -> int:
        return self._first + len(self._events)

    def _append(self, frame: bytes) -> None:
        if self.mirror is not None:
            self.mirror(self.next_number, frame)
        self._events.append(frame)
        if len(self._events) > self.max_events:
            drop = len(self._events) - self.max_events
            del self._events[:drop]
            self._first += drop
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def prime(self, retry_ms: int | None) -> None:
        """The priming event (an id, empty data, the reconnection delay) that makes it resumable."""
        head = f"id: {self.stream_id}-{self.next_number}\n"
        if retry_ms is not None:
            head += f"retry: {retry_ms}\n"
        self._append(head.encode() + b"data: \n\n")

    def add(self, message: Any) -> None:
        """Append one JSON-RPC message as an ``event: message``."""
        head = f"id: {self.stream_id}-{self.next_number}\nevent: message\ndata: ".encode()
        self._append(head + dumps(message) + b"\n\n")

    async def send(self, message: dict[str, Any]) -> None:
        """:meth:`add`, shaped as the protocol layer's ``send``."""
        self.add(message)

    def finish(self) -> None:
        """No more events: followers end once they have sent what is kept."""
        if self.mirror is not None and not self.done:
            self.mirror(None, b"")
        self.done = True
        self._wake()

    def close_followers(self) -> None:
        """End the HTTP responses following now (events still accumulate for a resume)."""
        self._epoch += 1
        self._wake()

    def kept(self) -> list[tuple[int, bytes]]:
        """The events still kept, with their numbers."""
        return list(enumerate(self._events, self._first))

    def has(self, number: int) -> bool:
        return number < self.next_number

    async def follow(
        self, after: int | None = None, *, from_end: bool = False, keepalive: float | None = None
    ) -> AsyncIterator[bytes]:
        """Yield the events after number ``after`` (all kept, or only new ones with
        ``from_end``), then new ones until :meth:`finish` or :meth:`close_followers`;
        an SSE comment every ``keepalive`` seconds of silence."""
        epoch = self._epoch
        number = after + 1 if after is not None else (self.next_number if from_end else self._first)
        while True:
            number = max(number, self._first)
            while number < self.next_number:
                yield self._events[number - self._first]
                number += 1
            if self.done or self._epoch != epoch:
                return
            changed = self._changed
            if keepalive is None:
                await changed.wait()
                continue
            with anyio.move_on_after(keepalive):
                await changed.wait()
            if not changed.is_set():
                yield b": keep-alive\n\n"


class TaskHost:
    """A task group that outlives the HTTP responses which start work in it.

    Started on first use in the running event loop (the Conduit server's, or a test
    client's portal), restarted if a later call comes from another loop; :meth:`aclose`
    cancels what still runs.
    """

    def __init__(self) -> None:
        self._group: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: anyio.Event | None = None
        self._stop: anyio.Event | None = None

    async def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop
            self._group = None
            self._ready = anyio.Event()
            self._stop = anyio.Event()
            self._task = loop.create_task(self._host(self._ready, self._stop))
        assert self._ready is not None
        await self._ready.wait()
        self._group.start_soon(self._guarded, fn, *args)

    async def _host(self, ready: anyio.Event, stop: anyio.Event) -> None:
        async with anyio.create_task_group() as group:
            self._group = group
            ready.set()
            await stop.wait()
            group.cancel_scope.cancel()

    @staticmethod
    async def _guarded(fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        try:
            await fn(*args)
        except Exception:
            logger.exception("MCP background work failed")

    async def aclose(self) -> None:
        """Cancel the work still running and wait for it to end."""
        task, stop = self._task, self._stop
        self._task = None
        if task is None or stop is None or task.done():
            return
        if task.get_loop() is not asyncio.get_running_loop():
            task.get_loop().call_soon_threadsafe(stop.set)
            return
        stop.set()
        await task
