"""The state-store interface shared by every back-end (memory, Redis, plugins).

A state store holds small shared values for the kernel and plugins: rate-limit windows,
counters, cached answers, router posteriors. Every operation is a coroutine, every
operation that must be atomic is atomic in the back-end (a lock in memory, one Lua
script in Redis), and every back-end failure surfaces as :class:`StoreUnavailableError`
so a caller can decide to fail open or closed.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from conduit.errors import ConduitError

__all__ = [
    "AcquireResult",
    "StateStore",
    "StoreError",
    "StoreUnavailableError",
    "Value",
    "check_ttl",
    "check_window_args",
    "encode_value",
]

Value = bytes | str | int | float
"""What :meth:`StateStore.set` accepts; :meth:`StateStore.get` always returns ``bytes``."""


class StoreError(ConduitError):
    """A state-store operation was refused (for example a counter holding text)."""


class StoreUnavailableError(StoreError):
    """The back-end could not be reached or did not answer in time.

    Raised for refused connections, timeouts and connections dropped mid-command.
    The client reconnects by itself on the next call, so a caller may catch this,
    fail open or closed, and simply try again later.
    """


class AcquireResult(NamedTuple):
    """The outcome of one sliding-window :meth:`StateStore.acquire`.

    ``remaining`` is how many more requests the window admits right now;
    ``retry_after`` is 0 when allowed, otherwise the seconds until the oldest request
    in the window expires and one slot frees; ``reset_after`` is the seconds until every
    request now in the window has expired (the whole quota is back). A NamedTuple, because
    it is built on every rate-limited request and is cheaper to build than a frozen dataclass.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float


@runtime_checkable
class StateStore(Protocol):
    """Key/value, counters and sliding windows with expiry. Keys are ``str``.

    A store whose ``acquire`` never waits may also offer ``acquire_nowait`` with the same
    arguments and result, synchronous; the rate limiter then calls it on every request.
    """

    async def get(self, key: str) -> bytes | None:
        """The value stored at ``key`` as bytes, or None when absent or expired."""
        ...

    async def set(self, key: str, value: Value, ttl: float | None = None) -> None:
        """Store ``value`` (text is UTF-8 encoded, numbers as their decimal text).

        ``ttl`` is in seconds; None keeps the value until deleted.
        """
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when something was removed."""
        ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add ``amount`` to the integer at ``key`` (absent counts as 0).

        ``ttl`` (seconds) is applied when the counter has no expiry yet, so a counter
        created by the first ``incr`` of a period expires at the period's end (a fixed
        window). Raises :class:`StoreError` when ``key`` holds something that is not an
        integer.
        """
        ...

    async def acquire(self, key: str, limit: int, window_seconds: float) -> AcquireResult:
        """Atomically admit one request into the sliding window at ``key`` if fewer than
        ``limit`` were admitted in the last ``window_seconds``; denied requests are not
        counted."""
        ...

    async def ping(self) -> bool:
        """True when the back-end answers; raises :class:`StoreUnavailableError` otherwise."""
        ...

    async def clear(self) -> int:
        """Delete every key this store owns (its prefix); returns how many."""
        ...

    async def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...


def encode_value(value: Value) -> bytes:
    """The bytes a store keeps for ``value`` (the same in every back-end)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool):
        raise TypeError("store booleans as 0/1 or text; bool is ambiguous across back-ends")
    if isinstance(value, (int, float)):
        return repr(value).encode("ascii")
    raise TypeError(f"a state store value must be bytes, str, int or float, not {type(value).__name__}")


def check_window_args(limit: int, window_seconds: float) -> None:
    """Reject a limit or window that no back-end could honour."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
    if not window_seconds > 0:
        raise ValueError(f"window_seconds must be > 0, got {window_seconds!r}")


def check_ttl(ttl: float | None) -> None:
    """Reject a TTL that is not a positive number of seconds (None means no expiry)."""
    if ttl is not None and (isinstance(ttl, bool) or not ttl > 0):
        raise ValueError(f"ttl must be a number of seconds > 0 or None, got {ttl!r}")
