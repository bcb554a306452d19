"""A memory ceiling (seed 000's ``create_memory_monitor``).

``check_memory()`` reads this process's resident memory; used as middleware the monitor
answers 503 with ``Retry-After`` while memory is over the limit, reading it at most once
per ``check_interval`` seconds so the check costs nothing measurable.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from conduit.framework.errors import ServiceUnavailableError
from conduit.framework.process import memory_usage
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse

__all__ = ["MemoryMonitor", "create_memory_monitor"]

logger = logging.getLogger("conduit.memory")


class MemoryMonitor:
    """Compares resident memory with ``max_memory_mb``."""

    def __init__(self, max_memory_mb: float, *, check_interval: float = 1.0, retry_after: int = 5) -> None:
        if not max_memory_mb > 0:
            raise ValueError(f"max_memory_mb must be > 0, got {max_memory_mb!r}")
        self.max_memory_mb = max_memory_mb
        self.check_interval = check_interval
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._last: tuple[float, bool] = (0.0, False)

    def check_memory(self) -> tuple[float, bool]:
        """``(current_mb, exceeded)``, read now."""
        current = memory_usage().current_mb
        result = (current, current > self.max_memory_mb)
        with self._lock:
            self._last, self._checked_at = result, time.monotonic()
        return result

    def _recent(self) -> tuple[float, bool]:
        with self._lock:
            fresh = time.monotonic() - self._checked_at < self.check_interval
            last = self._last
        return last if fresh else self.check_memory()

    def log_memory_status(self) -> None:
        current, exceeded = self.check_memory()
        level = logging.WARNING if exceeded else logging.INFO
        logger.log(level, "memory: %.1f MB of %.1f MB%s", current, self.max_memory_mb, " (over the limit)" if exceeded else "")

    async def __call__(self, request: HTTPRequest, call_next: Any) -> HTTPResponse:
        _current, exceeded = self._recent()
        if exceeded:
            raise ServiceUnavailableError(
                "Server low on memory",
                "the server is over its memory limit; retry shortly",
                headers={"Retry-After": str(self.retry_after)},
                code="memory_limit",
            )
        return await call_next(request)


def create_memory_monitor(max_memory_mb: float = 1024, **options: Any) -> MemoryMonitor:
    return MemoryMonitor(max_memory_mb, **options)
