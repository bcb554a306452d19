"""State stores: shared counters, sliding windows and values with expiry.

``create_state_store()`` gives the in-process memory store, or the Redis store when a
URL is passed or configured (``CONDUIT_REDIS_URL`` / ``redis_url`` in settings)::

    store = create_state_store()                       # memory, or Redis if configured
    store = create_state_store("redis://127.0.0.1:6379/0")
    result = await store.acquire("ratelimit:client-1", limit=100, window_seconds=60)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conduit._install import install_hint
from conduit.errors import ConfigurationError
from conduit.storage.base import (
    AcquireResult,
    StateStore,
    StoreError,
    StoreUnavailableError,
)
from conduit.storage.memory import MemoryStateStore

if TYPE_CHECKING:  # pragma: no cover
    from conduit.storage.redis import RedisStateStore

__all__ = [
    "ENV_VAR",
    "AcquireResult",
    "MemoryStateStore",
    "RedisStateStore",
    "StateStore",
    "StoreError",
    "StoreUnavailableError",
    "create_state_store",
]

ENV_VAR = "CONDUIT_REDIS_URL"
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def __getattr__(name: str) -> Any:
    if name == "RedisStateStore":
        return _redis_store_class()
    raise AttributeError(f"module 'conduit.storage' has no attribute {name!r}")


def _redis_store_class() -> type[RedisStateStore]:
    try:
        from conduit.storage.redis import RedisStateStore
    except ImportError as exc:
        raise ConfigurationError(
            f"the Redis state store needs redis-py; install it with {install_hint('redis')} "
            "(or unset CONDUIT_REDIS_URL to use the in-memory store)"
        ) from exc
    return RedisStateStore


def create_state_store(
    url: str | None = None,
    *,
    settings: Any = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> StateStore:
    """Build the configured state store.

    The URL is ``url``, else ``settings.redis_url``, else ``$CONDUIT_REDIS_URL``.
    No URL or ``memory://`` gives a :class:`MemoryStateStore`; ``redis://``,
    ``rediss://`` or ``unix://`` a :class:`RedisStateStore` (``options`` go to
    :meth:`RedisStateStore.from_url`, e.g. ``prefix=``, ``socket_timeout=``).
    """
    if url is None and settings is not None:
        url = settings.get("redis_url")
    if url is None:
        url = (os.environ if environ is None else environ).get(ENV_VAR) or None
    if url is None or url == "memory://":
        return MemoryStateStore(**options)
    if url.startswith(_REDIS_SCHEMES):
        return _redis_store_class().from_url(url, **options)
    scheme = url.split("://", 1)[0] if "://" in url else url
    raise ConfigurationError(
        f"state store URL scheme {scheme!r} is not supported; use memory://, redis://, "
        f"rediss:// or unix:// in {ENV_VAR} or redis_url"
    )
