"""Log an outage of a shared service once: a warning when it starts, an info line when it ends.

The router keeps working while Redis is away (posteriors from the local snapshot, features
from memory, decisions in this process), so every failed call is not news: a worker under
load would otherwise write a warning per request. One :class:`OutageLog` per router is
shared by its posterior backend, its feature cache and its decision records::

    outages = OutageLog(logger, "Redis")
    try:
        value = await store.get(key)
    except StoreError as exc:
        outages.failed("feature cache read", exc)      # logs only the first failure
    else:
        outages.recovered()                            # logs only the first success after one
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["OutageLog"]


class OutageLog:
    """Whether ``service`` is down, with one log line per change (see the module docstring).

    ``failures`` counts every failed call; ``outages`` the outages seen; ``down`` is true
    from the first failure to the next success."""

    def __init__(self, logger: logging.Logger, service: str = "Redis") -> None:
        self.logger = logger
        self.service = service
        self.down = False
        self.failures = 0
        self.outages = 0
        self._failures_at_start = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def failed(self, what: str, exc: BaseException) -> bool:
        """Count a failed call; True (and a warning) when it starts an outage."""
        with self._lock:
            self.failures += 1
            if self.down:
                return False
            self.down = True
            self.outages += 1
            self._failures_at_start = self.failures - 1
            self._since = time.monotonic()
        self.logger.warning("router: %s unavailable (%s failed: %s: %s); routing goes on from this process's "
                            "state, and this is logged once until %s answers again",
                            self.service, what, type(exc).__name__, exc, self.service)
        return True

    def recovered(self) -> bool:
        """Note a successful call; True (and an info line) when it ends an outage."""
        if not self.down:  # the hot path: one attribute read
            return False
        with self._lock:
            if not self.down:
                return False
            self.down = False
            failed = self.failures - self._failures_at_start
            seconds = time.monotonic() - self._since
        self.logger.info("router: %s answers again after %.1f s (%d failed calls during the outage)",
                         self.service, seconds, failed)
        return True

    def to_dict(self) -> dict[str, object]:
        return {"down": self.down, "failures": self.failures, "outages": self.outages}
