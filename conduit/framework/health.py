"""Health checks: a registry of named checks run together, each under a timeout.

A check is a callable taking no arguments and returning ``(ok, message)`` (or just a
bool), or an async function / awaitable of it. Checks run concurrently: async ones on
the event loop, sync ones in worker threads (a sync check that overruns its timeout is
reported as failed; its thread is abandoned, not killed). A check that raises fails
with the exception's sanitised message, so reports never leak paths or secrets.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread

from conduit.framework.sanitize import safe_error_detail, sanitize_error_message

__all__ = ["Check", "CheckResult", "HealthCheck", "HealthReport"]

Check = Callable[[], tuple[bool, str] | bool | Awaitable[tuple[bool, str] | bool]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, "duration_ms": round(self.duration_ms, 2)}


@dataclass(frozen=True)
class HealthReport:
    """The outcome of one run: ``ok`` only when every check passed."""

    results: dict[str, CheckResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    @property
    def failing(self) -> list[str]:
        return sorted(name for name, r in self.results.items() if not r.ok)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "unavailable",
            "checks": {name: r.to_dict() for name, r in sorted(self.results.items())},
            "failing": self.failing,
        }


@dataclass(frozen=True, slots=True)
class _Registered:
    check: Check
    timeout: float | None
    startup: bool


def _normalise(value: Any) -> tuple[bool, str]:
    if isinstance(value, bool):
        return value, "ok" if value else "failed"
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        return value[0], sanitize_error_message(value[1])
    raise TypeError(f"a health check must return (bool, str) or bool, not {type(value).__name__}")


class HealthCheck:
    """Named readiness checks (seed 000's ``_health_check``).

    ``default_timeout`` applies to checks registered without their own.
    """

    def __init__(self, default_timeout: float = 5.0) -> None:
        self.default_timeout = default_timeout
        self._checks: dict[str, _Registered] = {}
        self._lock = threading.Lock()

    def register_check(self, name: str, check: Check, *, timeout: float | None = None, startup: bool = False) -> None:
        """Add (or replace) the check ``name``. ``startup=True`` also runs it on the
        start-up probe (e.g. "model loaded"); every check runs on the readiness probe."""
        if not callable(check):
            raise TypeError(f"health check {name!r} must be callable, got {type(check).__name__}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout of health check {name!r} must be > 0 seconds")
        with self._lock:
            self._checks[name] = _Registered(check, timeout, startup)

    def unregister_check(self, name: str) -> bool:
        with self._lock:
            return self._checks.pop(name, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._checks.clear()

    @property
    def names(self) -> list[str]:
        return sorted(self._checks)

    def _selected(self, startup_only: bool, extra: Mapping[str, Check] | None) -> dict[str, tuple[Check, float]]:
        with self._lock:
            chosen = {
                name: (reg.check, reg.timeout or self.default_timeout)
                for name, reg in self._checks.items()
                if reg.startup or not startup_only
            }
        if not startup_only:
            for name, check in (extra or {}).items():
                chosen.setdefault(name, (check, self.default_timeout))
        return chosen

    async def arun_checks(
        self, *, startup_only: bool = False, extra: Mapping[str, Check] | None = None
    ) -> HealthReport:
        """Run the checks concurrently on the running event loop.

        ``extra`` adds checks for this run only (the app's plugin-registered checks).
        """
        results: dict[str, CheckResult] = {}

        async def run_one(name: str, check: Check, timeout: float) -> None:
            start = time.perf_counter()
            outcome: tuple[bool, str] | None = None
            with anyio.move_on_after(timeout):
                try:
                    if inspect.iscoroutinefunction(check):
                        value = await check()
                    else:
                        value = await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
                        if inspect.isawaitable(value):
                            value = await value
                    outcome = _normalise(value)
                except Exception as exc:  # noqa: BLE001 - a failing check is a result
                    outcome = (False, safe_error_detail(exc))
            if outcome is None:
                outcome = (False, f"timed out after {timeout:g}s")
            results[name] = CheckResult(outcome[0], outcome[1], (time.perf_counter() - start) * 1000)

        async with anyio.create_task_group() as tg:
            for name, (check, timeout) in self._selected(startup_only, extra).items():
                tg.start_soon(run_one, name, check, timeout)
        return HealthReport(results)

    def run_checks(self, *, startup_only: bool = False, extra: Mapping[str, Check] | None = None) -> HealthReport:
        """Run the checks from sync code.

        Inside a sync handler (an AnyIO worker thread) they run on the app's event loop,
        where async checks' clients live; with no loop at all, on a fresh one. On the
        event loop's own thread use ``await arun_checks()`` instead.
        """
        try:
            anyio.from_thread.check_cancelled()
        except RuntimeError:
            in_worker = False
        else:
            in_worker = True
        if in_worker:
            return anyio.from_thread.run(lambda: self.arun_checks(startup_only=startup_only, extra=extra))
        if asyncio._get_running_loop() is not None:
            raise RuntimeError("run_checks() was called on the event loop's thread; use `await arun_checks()`")
        return anyio.run(lambda: self.arun_checks(startup_only=startup_only, extra=extra))
