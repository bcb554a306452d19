"""A refresh that runs beside a decision instead of in its way.

Shared state (the posteriors, the answer lengths) is read from Redis at most every
``refresh_interval`` seconds. Done inside the decision that finds the copy stale, that
decision waits for the round trip and the parsing; at a few hundred decisions a second per
worker it is one decision in a hundred or so, which is the p99. :class:`Refresh` runs the read
as a task of the running event loop instead, started once the decision is made (a task
started earlier would run inside the decision's own awaits), and the decision goes on with
the copy it has, at most one interval and one round trip older (stale-while-revalidate).
One read runs at a time; a task of an event loop that is no longer running is forgotten,
not waited for.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

__all__ = ["Refresh"]

logger = logging.getLogger("conduit.router")


class Refresh:
    """When a shared copy is read again, and the background read itself: ``interval`` seconds
    at most between reads (0: every :meth:`ensure` reads and waits); ``what`` names the read in
    the log."""

    def __init__(self, what: str, interval: float = 0.0) -> None:
        self.what = what
        self.interval = interval
        self._read_at = -math.inf  # when the last read started
        self._due: Callable[[], Awaitable[None]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def ensure(self, read: Callable[[], Awaitable[None]], *, wait: bool = False) -> None:
        """Keep the copy no older than ``interval``. When it is older: the first read of all, a
        ``wait``, or every read with an interval of 0 runs ``read()`` now; otherwise the read is
        marked due for :meth:`start_due` and the caller goes on with the copy it has. A read
        counts from when it starts, failed or not, so a dead Redis is not asked on every call."""
        now = time.monotonic()
        if not wait and now - self._read_at < self.interval:
            return
        if not wait and self.interval > 0 and self._read_at > -math.inf:
            self._due = read
            return
        self._read_at = now
        await read()

    def start_due(self) -> None:
        """Start the read :meth:`ensure` marked due, as a task of the running loop (call it once
        the caller's own work is done: a task started earlier runs inside that work's awaits)."""
        read, self._due = self._due, None
        if read is not None and self._current() is None:
            self._read_at = time.monotonic()
            self.start(read)

    def forget(self) -> None:
        """The copy was dropped (a reset): the next :meth:`ensure` reads and waits."""
        self._read_at = -math.inf
        self._due = None

    def _current(self) -> asyncio.Task[None] | None:
        task = self._task
        if task is None or task.done():
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return task if task.get_loop() is loop else None

    @property
    def running(self) -> bool:
        """Whether a read is in flight on the running event loop."""
        return self._current() is not None

    def start(self, read: Callable[[], Awaitable[None]]) -> None:
        """Run ``read()`` as a task of the running loop, unless a read is already in flight."""
        if self._current() is None:
            self._task = asyncio.get_running_loop().create_task(self._run(read))

    async def _run(self, read: Callable[[], Awaitable[None]]) -> None:
        try:
            await read()
        except Exception:  # the readers handle Redis errors; anything else must not vanish
            logger.warning("router: the background %s failed; the next one tries again", self.what, exc_info=True)

    async def wait(self) -> None:
        """Wait for the read in flight, if any (before closing)."""
        task = self._current()
        if task is not None:
            await task
