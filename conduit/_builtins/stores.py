"""Built-in plugin: the kernel's state stores (memory, and Redis when redis-py is installed)."""

from __future__ import annotations

from typing import Any, Callable

from conduit.hookspecs import hookimpl

__all__ = ["conduit_register_stores"]


@hookimpl
def conduit_register_stores(register: Callable[..., Any], settings: Any) -> None:
    def memory(**options: Any) -> Any:
        from conduit.storage.memory import MemoryStore

        return MemoryStore(**options)

    def redis(**options: Any) -> Any:
        from conduit.storage.redis import RedisStore

        return RedisStore(**options)

    register("state", "memory", memory)
    register("state", "redis", redis)
