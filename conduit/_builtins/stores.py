"""Built-in plugin: the kernel's state stores (memory, and Redis when redis-py is installed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit.hookspecs import hookimpl

__all__ = ["conduit_register_stores"]


@hookimpl
def conduit_register_stores(register: Callable[..., Any], settings: Any) -> None:
    def memory(**options: Any) -> Any:
        from conduit.storage.memory import MemoryStateStore

        return MemoryStateStore(**options)

    def redis(url: str = "redis://127.0.0.1:6379/0", **options: Any) -> Any:
        from conduit.storage import RedisStateStore

        return RedisStateStore.from_url(url, **options)

    register("state", "memory", memory)
    register("state", "redis", redis)
