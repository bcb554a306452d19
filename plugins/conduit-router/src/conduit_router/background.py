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
from collections.abc import Awaitable, Callable

__all__ = ["Refresh"]

logger = logging.getLogger("conduit.router")


class Refresh:
    """At most one background read at a time (``what`` names it in the log)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._task: asyncio.Task[None] | None = None

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
