"""Cleanup on shutdown (seed 000's ``create_graceful_shutdown_handler``).

Register cleanups (sync or async; they run last-registered first, each failure logged and
the rest still run, all within ``cleanup_timeout``), then either

- ``shutdown.attach(app)``: they run in the app's shutdown, after in-flight requests
  finished (the server drains on SIGTERM/SIGINT); or
- ``shutdown.setup_signal_handlers()``: for the seed's flow. Outside the server,
  SIGTERM/SIGINT run the cleanups and then end the process as the signal would; while
  ``app.run()`` serves, the server owns those signals and drains, and the cleanups run
  when the process exits.

Cleanups run once, however many of these paths fire.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread

__all__ = ["GracefulShutdownHandler", "create_graceful_shutdown_handler"]

logger = logging.getLogger("conduit.shutdown")


class GracefulShutdownHandler:
    def __init__(self, cleanup_timeout: float = 15.0) -> None:
        self.cleanup_timeout = cleanup_timeout
        self._cleanups: list[Callable[[], Any]] = []
        self._lock = threading.Lock()
        self._done = False
        self._installed = False

    @property
    def done(self) -> bool:
        """True once the cleanups ran."""
        return self._done

    def register_cleanup(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Add a cleanup (usable as a decorator)."""
        if not callable(fn):
            raise TypeError(f"a cleanup must be callable, got {type(fn).__name__}")
        self._cleanups.append(fn)
        return fn

    def _claim(self) -> list[Callable[[], Any]]:
        with self._lock:
            if self._done:
                return []
            self._done = True
            return list(reversed(self._cleanups))

    async def arun_cleanups(self) -> None:
        """Run the cleanups on the running event loop (what ``attach`` registers)."""
        cleanups = self._claim()
        with anyio.move_on_after(self.cleanup_timeout) as scope:
            for fn in cleanups:
                try:
                    if inspect.iscoroutinefunction(fn):
                        await fn()
                    else:
                        result = await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
                        if inspect.isawaitable(result):
                            await result
                except Exception:
                    logger.exception("cleanup %r failed", fn)
        if scope.cancelled_caught:
            logger.warning("cleanups did not finish within %gs", self.cleanup_timeout)

    def run_cleanups(self) -> None:
        """Run the cleanups from sync code (a fresh event loop runs async ones)."""
        if self._done:
            return
        if asyncio._get_running_loop() is not None:
            for fn in self._claim():
                try:
                    result = fn()
                    if inspect.iscoroutine(result):
                        result.close()
                        logger.warning("async cleanup %r skipped: a signal arrived inside a running loop", fn)
                except Exception:
                    logger.exception("cleanup %r failed", fn)
            return
        start = time.monotonic()
        anyio.run(self.arun_cleanups)
        logger.info("cleanups finished in %.2fs", time.monotonic() - start)

    def attach(self, app: Any) -> GracefulShutdownHandler:
        """Run the cleanups in ``app``'s shutdown."""
        app.on_shutdown(self.arun_cleanups)
        return self

    def setup_signal_handlers(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Run the cleanups on ``signals`` (then exit as the signal would) and at exit."""
        if self._installed:
            return
        self._installed = True
        atexit.register(self.run_cleanups)
        for signum in signals:
            previous = signal.getsignal(signum)

            def handler(received: int, frame: Any, previous: Any = previous) -> None:
                logger.info("signal %s: running cleanups", signal.Signals(received).name)
                self.run_cleanups()
                if callable(previous):
                    previous(received, frame)
                elif received == signal.SIGINT:
                    raise KeyboardInterrupt
                else:
                    raise SystemExit(128 + received)

            signal.signal(signum, handler)


def create_graceful_shutdown_handler(cleanup_timeout: float = 15.0) -> GracefulShutdownHandler:
    return GracefulShutdownHandler(cleanup_timeout)
