"""Request limits: body size (413), time (504) and concurrency (503).

- ``request_size_limit(max_mb)`` refuses a declared ``Content-Length`` over the limit
  before any byte is read, and counts bytes while a chunked or streamed body arrives.
- ``request_timeout(seconds)`` answers 504 at the deadline. The request's task is
  cancelled there: an async handler stops; a sync handler's worker thread cannot be
  stopped, so it runs on and its result is dropped.
- ``connection_limit(max_connections)`` answers 503 with ``Retry-After`` while that many
  requests are in flight; ``create_connection_pool`` is the seed's explicit form.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conduit.framework.errors import GatewayTimeoutError, ServiceUnavailableError
from conduit.http.middleware import PhasedMiddleware
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse

__all__ = [
    "ConnectionLimit",
    "ConnectionPool",
    "RequestSizeLimit",
    "RequestTimeout",
    "connection_limit",
    "create_connection_pool",
    "request_size_limit",
    "request_timeout",
]

_MB = 1024 * 1024


def _size(n: int) -> str:
    return f"{n} bytes ({n / _MB:.2f} MB)" if n >= _MB else f"{n} bytes"


class RequestSizeLimit(PhasedMiddleware):
    """413 for bodies over ``max_bytes``, on ``Content-Length`` and while streaming."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"the size limit must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"request_size_limit({_size(self.max_bytes)})"

    def before(self, request: HTTPRequest) -> None:
        request.limit_body(self.max_bytes)


def request_size_limit(max_mb: float = 10.0, *, max_bytes: int | None = None) -> RequestSizeLimit:
    """The seed's ``request_size_limit(max_mb=50)``; ``max_bytes`` sets it exactly."""
    return RequestSizeLimit(max_bytes if max_bytes is not None else int(max_mb * _MB))


class _DeadlineQueue:
    """The in-flight requests of one event loop, oldest first, under one timer.

    Every request gets the same timeout, so deadlines arrive in the order requests do: a
    dict in insertion order is the priority queue. A request costs one dict insert and one
    delete; the single timer fires at the oldest pending deadline, cancels what is due
    (moving it to ``fired``) and re-arms for the next one, instead of each request arming
    and disarming its own timer.
    """

    __slots__ = ("fired", "loop", "owner", "pending", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, owner: dict[Any, _DeadlineQueue]) -> None:
        self.loop = loop
        self.pending: dict[HTTPRequest, tuple[float, asyncio.Task[Any]]] = {}
        self.fired: set[HTTPRequest] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.owner = owner

    def done(self, request: HTTPRequest) -> bool:
        """Forget ``request``; True when its deadline had fired."""
        if self.pending.pop(request, None) is not None:
            return False
        if request in self.fired:
            self.fired.discard(request)
            return True
        return False

    def _fire(self) -> None:
        self.timer = None
        pending = self.pending
        now = self.loop.time()
        while pending:
            request = next(iter(pending))
            when, task = pending[request]
            if when > now:
                self.timer = self.loop.call_at(when, self._fire)
                return
            del pending[request]
            self.fired.add(request)
            task.cancel()
        self.owner.pop(self.loop, None)  # idle: forget this loop until it serves again


class RequestTimeout(PhasedMiddleware):
    """504 when the inner layers take longer than ``timeout_seconds``.

    At the deadline the request's own task is cancelled (as ``asyncio.timeout`` would);
    the cancellation is told apart from any other (a client that left, a server
    shutting down), which propagates unchanged. A handler that swallows the
    cancellation still gets its request answered 504.
    """

    def __init__(self, timeout_seconds: float) -> None:
        if not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds!r}")
        self.timeout_seconds = timeout_seconds
        self._queues: dict[asyncio.AbstractEventLoop, _DeadlineQueue] = {}

    def __repr__(self) -> str:
        return f"request_timeout({self.timeout_seconds:g}s)"

    def _timed_out(self) -> GatewayTimeoutError:
        return GatewayTimeoutError(
            "Gateway Timeout",
            f"the request did not complete within {self.timeout_seconds:g}s",
            code="request_timeout",
        )

    def before(self, request: HTTPRequest) -> _DeadlineQueue:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("request_timeout runs inside an asyncio task (the server's or a test client's)")
        loop = task.get_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _DeadlineQueue(loop, self._queues)
        when = loop.time() + self.timeout_seconds
        queue.pending[request] = (when, task)
        if queue.timer is None:
            queue.timer = loop.call_at(when, queue._fire)
        return queue

    def after(self, request: HTTPRequest, response: HTTPResponse, queue: _DeadlineQueue) -> None:
        if queue.pending.pop(request, None) is None and queue.done(request) and _uncancel():
            raise self._timed_out()  # the inner layers swallowed our cancellation

    def cancelled(self, request: HTTPRequest, queue: _DeadlineQueue) -> HTTPResponse | None:
        """Our deadline's cancellation becomes the 504; any other goes on (None)."""
        if queue.done(request) and _uncancel():
            raise self._timed_out()
        return None


def _uncancel() -> bool:
    """Withdraw one cancellation of the current task: True when none is left to deliver."""
    task = asyncio.current_task()
    return task is not None and task.uncancel() == 0


def request_timeout(timeout_seconds: float = 30.0) -> RequestTimeout:
    """The seed's ``request_timeout(timeout_seconds=30.0)``."""
    return RequestTimeout(timeout_seconds)


class ConnectionPool:
    """A non-blocking counter of in-flight work (seed 000's ``create_connection_pool``).

    ``acquire_connection()`` returns False when ``max_connections`` are taken; every True
    must be matched by one ``release_connection()``. Thread-safe.
    """

    def __init__(self, max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections}")
        self.max_connections = max_connections
        self._active = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        return self._active

    def acquire_connection(self) -> bool:
        with self._lock:
            if self._active >= self.max_connections:
                return False
            self._active += 1
            return True

    def release_connection(self) -> None:
        with self._lock:
            if self._active == 0:
                raise RuntimeError("release_connection() without a matching acquire_connection()")
            self._active -= 1


def create_connection_pool(max_connections: int = 1000) -> ConnectionPool:
    return ConnectionPool(max_connections)


class ConnectionLimit:
    """503 with ``Retry-After`` while ``pool.max_connections`` requests are in flight."""

    def __init__(self, pool: ConnectionPool, retry_after: int = 1) -> None:
        self.pool = pool
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"connection_limit({self.pool.max_connections})"

    async def __call__(self, request: HTTPRequest, call_next: Any) -> HTTPResponse:
        if not self.pool.acquire_connection():
            raise ServiceUnavailableError(
                "Server busy",
                f"{self.pool.max_connections} requests are already in progress; retry shortly",
                headers={"Retry-After": str(self.retry_after)},
                code="too_many_connections",
            )
        try:
            return await call_next(request)
        finally:
            self.pool.release_connection()


def connection_limit(max_connections: int = 1000, *, retry_after: int = 1) -> ConnectionLimit:
    """At most ``max_connections`` requests in flight; the rest get 503 at once."""
    return ConnectionLimit(ConnectionPool(max_connections), retry_after)
