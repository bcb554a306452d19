"""Seed 003's ``lib.error_handler``: error handling with graceful degradation.

``ErrorHandler(enable_graceful_degradation=True, max_retries=3, retry_backoff_ms=100)``
sanitises messages (:class:`conduit.framework.sanitize.ErrorHandler`), turns off a cache
that keeps failing (``handle_cache_error``), frees memory on an out-of-memory condition by
clearing the caches registered with it (``handle_oom_error``), and retries an operation with
exponential backoff (``retry_with_backoff``, on tenacity). The exceptions are
:class:`CacheError`, :class:`OOMError` and :class:`NetworkError`.
"""

from __future__ import annotations

import gc
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import tenacity

from conduit.framework.errors import CacheError, NetworkError, OOMError
from conduit.framework.process import memory_usage
from conduit.framework.sanitize import ErrorHandler as _Sanitiser

__all__ = ["CacheError", "ErrorHandler", "NetworkError", "OOMError"]

logger = logging.getLogger("conduit.errors")

T = TypeVar("T")

#: What retry_with_backoff retries: failures that may pass (not a programming error).
RETRYABLE: tuple[type[BaseException], ...] = (NetworkError, CacheError, ConnectionError, TimeoutError, socket.gaierror)
#: The same kind of failure from the HTTP clients a seed's code calls, named rather than
#: imported (requests' ConnectionError is an OSError, not a ConnectionError).
RETRYABLE_NAMES = frozenset({
    "requests.exceptions.ConnectionError", "requests.exceptions.Timeout", "httpx.TransportError",
    "httpx.TimeoutException", "urllib3.exceptions.ProtocolError", "urllib3.exceptions.TimeoutError",
    "aiohttp.client_exceptions.ClientConnectionError",
})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure that may pass when tried again (see :data:`RETRYABLE`)."""
    if isinstance(exc, RETRYABLE):
        return True
    return any(f"{cls.__module__}.{cls.__qualname__}" in RETRYABLE_NAMES for cls in type(exc).__mro__)


class ErrorHandler(_Sanitiser):
    """Seed 003's ErrorHandler (see the module docstring).

    ``cache_error_limit`` consecutive cache errors turn the cache off when
    ``enable_graceful_degradation`` is on; ``register_cache(clear)`` adds a callable that
    empties a cache, called by :meth:`handle_oom_error`.
    """

    def __init__(
        self,
        enable_graceful_degradation: bool = True,
        max_retries: int = 3,
        retry_backoff_ms: float = 100,
        *,
        cache_error_limit: int = 3,
        extra_patterns: Iterable[tuple[Any, str]] = (),
    ) -> None:
        if max_retries < 0 or retry_backoff_ms < 0 or cache_error_limit < 1:
            raise ValueError("max_retries and retry_backoff_ms must be >= 0, cache_error_limit >= 1")
        super().__init__(extra_patterns)
        self.enable_graceful_degradation = enable_graceful_degradation
        self.max_retries = max_retries
        self.retry_backoff_ms = retry_backoff_ms
        self.cache_error_limit = cache_error_limit
        self.cache_enabled = True
        self.fallback_mode = False
        self._cache_errors = 0
        self._caches: list[Callable[[], Any]] = []
        self._lock = threading.Lock()

    def register_cache(self, clear: Callable[[], Any]) -> Callable[[], Any]:
        """Let :meth:`handle_oom_error` empty a cache (``handler.register_cache(cache.clear)``)."""
        self._caches.append(clear)
        return clear

    def cache_succeeded(self) -> None:
        """A cache operation worked: the run of errors is over (the cache stays as it is)."""
        with self._lock:
            self._cache_errors = 0

    def handle_cache_error(self, error: BaseException | None) -> dict[str, Any]:
        """Count a cache failure; past ``cache_error_limit`` in a row, turn the cache off."""
        with self._lock:
            self._cache_errors += 1
            if self.enable_graceful_degradation and self._cache_errors >= self.cache_error_limit:
                if self.cache_enabled:
                    logger.warning("cache disabled after %d consecutive errors", self._cache_errors)
                self.cache_enabled = False
            enabled = self.cache_enabled
        return {
            "status": "degraded" if self.enable_graceful_degradation else "error",
            "cache_enabled": enabled,
            "fallback_available": self.enable_graceful_degradation,
            "error": self.sanitize_error_message(error) if error is not None else None,
        }

    def handle_oom_error(self, error: BaseException | None = None) -> dict[str, Any]:
        """Empty the registered caches, collect garbage, and go into fallback mode."""
        before = memory_usage().current_mb
        cleared = 0
        for clear in list(self._caches):
            try:
                clear()
                cleared += 1
            except Exception:
                logger.exception("clearing a cache on out-of-memory failed")
        gc.collect()
        after = memory_usage().current_mb
        self.fallback_mode = True
        logger.error("out of memory (%s): %d caches cleared", self.sanitize_error_message(error or "no detail"),
                     cleared)
        return {
            "status": "oom_handled",
            "cache_cleared": cleared > 0,
            "memory_freed_mb": round(max(0.0, before - after), 1),
            "fallback_mode": True,
        }

    def retry_with_backoff(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, retried up to ``max_retries`` times on network, cache and
        timeout errors (the standard library's, and those of requests, httpx, urllib3 and
        aiohttp: :func:`is_transient`), waiting ``retry_backoff_ms`` then twice as long each time (with jitter);
        the last error is raised as itself."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=tenacity.wait_exponential(multiplier=self.retry_backoff_ms / 1000)
            + tenacity.wait_random(0, self.retry_backoff_ms / 4000),
            retry=tenacity.retry_if_exception(is_transient),
            reraise=True,
        )
        return retrying(fn, *args, **kwargs)
