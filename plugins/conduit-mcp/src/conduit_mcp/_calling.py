"""Call a user function, sync or async, without blocking the event loop."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import anyio.to_thread

__all__ = ["call", "is_async"]


def is_async(fn: Callable[..., Any]) -> bool:
    """True for ``async def`` functions and objects whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


async def call(fn: Callable[..., Any], is_coroutine: bool, kwargs: dict[str, Any]) -> Any:
    """Await ``fn(**kwargs)``; a sync ``fn`` runs in a worker thread (cancellable)."""
    if is_coroutine:
        return await fn(**kwargs)
    result = await anyio.to_thread.run_sync(functools.partial(fn, **kwargs), abandon_on_cancel=True)
    if inspect.isawaitable(result):
        result = await result
    return result
