"""Request limits: body size (413), time (504) and concurrency (503).

- ``request_size_limit(max_mb)`` refuses a declared ``Content-Length`` over the limit
  before any byte is read, and counts bytes while a chunked or streamed body arrives.
- ``request_timeout(seconds)`` answers 504 at the deadline. An async handler is
  cancelled; a sync handler's worker thread cannot be stopped, so it runs on and its
  result is dropped.
- ``connection_limit(max_connections)`` answers 503 with ``Retry-After`` while that many
  requests are in flight; ``create_connection_pool`` is the seed's explicit form.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conduit.framework.errors import GatewayTimeoutError, ServiceUnavailableError
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse

__all__ = [
    "ConnectionPool",
    "ConnectionLimit",
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


class RequestSizeLimit:
    """413 for bodies over ``max_bytes``, on ``Content-Length`` and while streaming."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"the size limit must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"request_size_limit({_size(self.max_bytes)})"

    async def __call__(self, request: HTTPRequest, call_next: Any) -> HTTPResponse:
        request.limit_body(self.max_bytes)
        return await call_next(request)


def request_size_limit(max_mb: float = 10.0, *, max_bytes: int | None = None) -> RequestSizeLimit:
    """The seed's ``request_size_limit(max_mb=50)``; ``max_bytes`` sets it exactly."""
    return RequestSizeLimit(max_bytes if max_bytes is not None else int(max_mb * _MB))


class RequestTimeout:
    """504 when the inner layers take longer than ``timeout_seconds``."""

    def __init__(self, timeout_seconds: float) -> None:
        if not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds!r}")
        self.timeout_seconds = timeout_seconds

    def __repr__(self) -> str:
        return f"request_timeout({self.timeout_seconds:g}s)"

    async def __call__(self, request: HTTPRequest, call_next: Any) -> HTTPResponse:
        task = asyncio.ensure_future(call_next(request))
        done, _ = await asyncio.wait({task}, timeout=self.timeout_seconds)
        if task in done:
            return task.result()
        # A sync handler's thread cannot be interrupted: cancel, stop waiting, drop its result.
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        raise GatewayTimeoutError(
            "Gateway Timeout",
            f"the request did not complete within {self.timeout_seconds:g}s",
            code="request_timeout",
        )


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
