"""Resilience for model calls: circuit breaker, retries with backoff, timeouts, fallback.

* :class:`CircuitBreaker` stops calling a failing dependency (CLOSED → OPEN), lets a
  trial call through after ``timeout`` seconds (HALF_OPEN) and closes again after
  ``success_threshold`` successes. A call refused by an open breaker raises
  :class:`CircuitOpenError`, a 503 with ``Retry-After``.
* :class:`RetryPolicy` retries on tenacity with exponential backoff and jitter, only for
  the exception types it is given, never for client errors (4xx) or an open breaker.
* :func:`with_circuit_breaker`, :func:`with_retry`, :func:`with_timeout` decorate sync and
  async functions alike.
* :class:`ResilientMLModel` wraps a model's ``predict`` (and ``predict_batch`` /
  ``predict_proba`` when it has them) in all of the above, with an optional fallback.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, ParamSpec, TypeVar

import anyio
import tenacity
from tenacity.wait import wait_base

from conduit.framework.errors import GatewayTimeoutError, HTTPError, ServiceUnavailableError

__all__ = [
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "OperationTimeoutError",
    "ResilientMLModel",
    "RetryPolicy",
    "with_circuit_breaker",
    "with_retry",
    "with_timeout",
]

logger = logging.getLogger("conduit.resilience")

P = ParamSpec("P")
T = TypeVar("T")
_Exceptions = tuple[type[BaseException], ...]


class CircuitState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(ServiceUnavailableError):
    """The breaker is open: the call was not attempted. 503 with ``Retry-After``."""

    def __init__(self, name: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            "Service temporarily unavailable",
            f"{name!r} failed repeatedly and is paused; retry in {seconds}s",
            headers={"Retry-After": str(seconds)},
            code="circuit_open",
        )
        self.name = name
        self.retry_after = retry_after


class OperationTimeoutError(GatewayTimeoutError, TimeoutError):
    """A call decorated with :func:`with_timeout` ran too long: 504, and a ``TimeoutError``."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__("Operation timed out", f"the operation did not finish within {timeout_seconds:g}s")
        self.timeout_seconds = timeout_seconds


def _is_client_error(exc: BaseException) -> bool:
    return isinstance(exc, HTTPError) and 400 <= exc.status_code < 500


# --- circuit breaker ---------------------------------------------------------------------


class CircuitBreaker:
    """A thread-safe circuit breaker (one lock; usable from threads and event loops).

    ``failure_threshold`` consecutive failures open it; after ``timeout`` seconds it is
    HALF_OPEN and admits ``half_open_max_calls`` trial calls at a time; a trial failure
    opens it again, ``success_threshold`` trial successes close it. Only exceptions
    matching ``failure_exceptions`` count as failures, and client errors (4xx) never do.
    ``clock`` returns monotonic seconds (replace it in tests); ``on_state_change(old,
    new)`` is called after every transition, outside the lock.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        success_threshold: int = 2,
        timeout: float = 60.0,
        *,
        name: str = "circuit",
        half_open_max_calls: int = 1,
        failure_exceptions: _Exceptions = (Exception,),
        clock: Callable[[], float] = time.monotonic,
        on_state_change: Callable[[CircuitState, CircuitState], None] | None = None,
    ) -> None:
        for label, value in (("failure_threshold", failure_threshold), ("success_threshold", success_threshold),
                             ("half_open_max_calls", half_open_max_calls)):
            if value < 1:
                raise ValueError(f"{label} must be >= 1, got {value!r}")
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
        self.failure_threshold = failure_threshold
        self.success_threshold = success_threshold
        self.timeout = timeout
        self.name = name
        self.half_open_max_calls = half_open_max_calls
        self.failure_exceptions = failure_exceptions
        self._clock = clock
        self._on_state_change = on_state_change
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._successes = 0
        self._opened_at = 0.0
        self._trials = 0
        self._last_trial_at = 0.0
        self._changes: list[tuple[CircuitState, CircuitState]] = []

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state.value}, failures={self._failures})"

    # -- state machine (call with the lock held) -----------------------------------------

    def _move(self, new: CircuitState, now: float) -> None:
        old, self._state = self._state, new
        self._successes = 0
        self._trials = 0
        if new is CircuitState.OPEN:
            self._opened_at = now
        if new is CircuitState.CLOSED:
            self._failures = 0
        self._changes.append((old, new))

    def _tick(self, now: float) -> None:
        if self._state is CircuitState.OPEN and now - self._opened_at >= self.timeout:
            self._move(CircuitState.HALF_OPEN, now)

    def _notify(self) -> None:
        with self._lock:
            changes, self._changes = self._changes, []
        for old, new in changes:
            log = logger.warning if new is CircuitState.OPEN else logger.info
            log("circuit %r: %s -> %s", self.name, old.value, new.value)
            if self._on_state_change is not None:
                self._on_state_change(old, new)

    # -- the seed's API -------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """The current state (an elapsed open period reads as HALF_OPEN)."""
        with self._lock:
            self._tick(self._clock())
        self._notify()
        return self._state

    @property
    def failure_count(self) -> int:
        """Consecutive failures counted while CLOSED."""
        return self._failures

    def retry_after(self) -> float:
        """Seconds until an open breaker admits a trial call (0 when not open)."""
        with self._lock:
            if self._state is not CircuitState.OPEN:
                return 0.0
            return max(0.0, self._opened_at + self.timeout - self._clock())

    def can_execute(self) -> bool:
        """May a call go ahead now? In HALF_OPEN this takes one trial slot: report the
        outcome with :meth:`record_success` or :meth:`record_failure`."""
        with self._lock:
            now = self._clock()
            self._tick(now)
            if self._state is CircuitState.CLOSED:
                allowed = True
            elif self._state is CircuitState.OPEN:
                allowed = False
            else:
                if self._trials >= self.half_open_max_calls and now - self._last_trial_at >= self.timeout:
                    self._trials = 0  # trial outcomes never reported: do not stay stuck
                allowed = self._trials < self.half_open_max_calls
                if allowed:
                    self._trials += 1
                    self._last_trial_at = now
        self._notify()
        return allowed

    def record_success(self) -> None:
        with self._lock:
            now = self._clock()
            self._tick(now)
            if self._state is CircuitState.HALF_OPEN:
                self._trials = max(0, self._trials - 1)
                self._successes += 1
                if self._successes >= self.success_threshold:
                    self._move(CircuitState.CLOSED, now)
            elif self._state is CircuitState.CLOSED:
                self._failures = 0
        self._notify()

    def record_failure(self) -> None:
        with self._lock:
            now = self._clock()
            self._tick(now)
            if self._state is CircuitState.HALF_OPEN:
                self._move(CircuitState.OPEN, now)
            elif self._state is CircuitState.CLOSED:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._move(CircuitState.OPEN, now)
        self._notify()

    def reset(self) -> None:
        """Close the breaker and forget every count."""
        with self._lock:
            if self._state is not CircuitState.CLOSED:
                self._move(CircuitState.CLOSED, self._clock())
            self._failures = 0
        self._notify()

    # -- calling through the breaker ------------------------------------------------------

    def _refuse(self) -> CircuitOpenError:
        return CircuitOpenError(self.name, self.retry_after() or self.timeout)

    def _outcome(self, exc: BaseException | None) -> None:
        if exc is None:
            self.record_success()
        elif _is_client_error(exc) or not isinstance(exc, self.failure_exceptions):
            self._release_trial()  # the dependency answered; the caller was wrong, or cancelled
        else:
            self.record_failure()

    def _release_trial(self) -> None:
        with self._lock:
            if self._state is CircuitState.HALF_OPEN:
                self._trials = max(0, self._trials - 1)

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` through the breaker; raises :class:`CircuitOpenError`."""
        if not self.can_execute():
            raise self._refuse()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._outcome(exc)
            raise
        self._outcome(None)
        return result

    async def call_async(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` through the breaker."""
        if not self.can_execute():
            raise self._refuse()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._outcome(exc)
            raise
        self._outcome(None)
        return result


# --- retries -------------------------------------------------------------------------------


class _ExponentialJitter(wait_base):
    """``min(base * 2**(n-1) + uniform(0, base), max)`` before retry ``n``."""

    def __init__(self, base: float, maximum: float, jitter: bool) -> None:
        self.base, self.maximum, self.jitter = base, maximum, jitter

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exp = self.base * 2 ** (retry_state.attempt_number - 1)
        return min(exp + (random.uniform(0, self.base) if self.jitter else 0.0), self.maximum)


class RetryPolicy:
    """Retry a call up to ``max_retries`` times with exponential backoff and jitter.

    The delay before retry ``n`` is ``base_delay * 2**(n-1)`` plus up to ``base_delay``
    of random jitter, capped at ``max_delay``. Only exceptions matching ``retry_on`` are
    retried; client errors (4xx ``HTTPError``) and :class:`CircuitOpenError` never are.
    The last exception is re-raised as itself. ``sleep``/``async_sleep`` can be replaced
    in tests.
    """

    def __init__(
        self,
        max_retries: int = 3,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        *,
        retry_on: _Exceptions = (Exception,),
        jitter: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries!r}")
        if base_delay < 0 or max_delay < 0:
            raise ValueError("base_delay and max_delay must be >= 0 seconds")
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.retry_on = retry_on
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._options: dict[str, Any] = dict(
            stop=tenacity.stop_after_attempt(max_retries + 1),
            wait=_ExponentialJitter(base_delay, max_delay, jitter),
            retry=tenacity.retry_if_exception(self.should_retry),
            reraise=True,
            before_sleep=self._log,
        )

    def should_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, self.retry_on) and not isinstance(exc, CircuitOpenError) and not _is_client_error(exc)

    @staticmethod
    def _log(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning("attempt %d failed (%s); retrying in %.3fs", state.attempt_number, type(exc).__name__, wait)

    def execute(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn`` until it succeeds, a non-retryable error, or retries run out."""
        return tenacity.Retrying(sleep=self._sleep, **self._options)(fn, *args, **kwargs)

    async def execute_async(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`execute` for a coroutine function (or one returning an awaitable)."""

        async def attempt() -> Any:
            result = fn(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return await tenacity.AsyncRetrying(sleep=self._async_sleep, **self._options)(attempt)


# --- decorators ----------------------------------------------------------------------------


def _decorate(fn: Callable[..., Any], sync_call: Callable[..., Any], async_call: Callable[..., Any]) -> Any:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await async_call(fn, *args, **kwargs)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return sync_call(fn, *args, **kwargs)

    return wrapper


def with_circuit_breaker(
    failure_threshold: int = 5,
    success_threshold: int = 2,
    timeout: float = 60.0,
    *,
    breaker: CircuitBreaker | None = None,
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Run every call of the decorated (sync or async) function through a breaker.

    The breaker is shared by all calls and exposed as ``fn.circuit_breaker``.
    """

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        cb = breaker or CircuitBreaker(failure_threshold, success_threshold, timeout, name=fn.__qualname__)
        wrapped = _decorate(fn, cb.call, cb.call_async)
        wrapped.circuit_breaker = cb
        return wrapped

    return decorate


def with_retry(
    max_retries: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 5.0,
    *,
    retry_on: _Exceptions = (Exception,),
    policy: RetryPolicy | None = None,
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Retry the decorated (sync or async) function; the policy is ``fn.retry_policy``."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        rp = policy or RetryPolicy(max_retries, base_delay, max_delay, retry_on=retry_on)
        wrapped = _decorate(fn, rp.execute, rp.execute_async)
        wrapped.retry_policy = rp
        return wrapped

    return decorate


def _call_in_thread(timeout_seconds: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    outcome: dict[str, Any] = {}
    done = threading.Event()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["value"] = context.run(fn, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc
        finally:
            done.set()

    name = getattr(fn, "__qualname__", "call")
    threading.Thread(target=target, name=f"conduit-timeout:{name}", daemon=True).start()
    if not done.wait(timeout_seconds):
        logger.warning("%s did not finish within %gs; its thread keeps running", name, timeout_seconds)
        raise OperationTimeoutError(timeout_seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def with_timeout(timeout_seconds: float) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Raise :class:`OperationTimeoutError` (504, a ``TimeoutError``) when a call runs
    longer than ``timeout_seconds``.

    Async functions are cancelled at the deadline. Sync functions run in a fresh daemon
    thread while the caller waits: Python cannot kill a thread, so a sync call that
    overruns keeps running in the background until it returns, and its result is
    dropped. Give blocking I/O its own timeout too where the library offers one.
    """
    if not timeout_seconds > 0:
        raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds!r}")

    async def call_async(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        with anyio.move_on_after(timeout_seconds) as scope:
            return await fn(*args, **kwargs)
        if scope.cancelled_caught:
            raise OperationTimeoutError(timeout_seconds)
        raise AssertionError("unreachable: the scope either returned or was cancelled")  # pragma: no cover

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        return _decorate(fn, functools.partial(_call_in_thread, timeout_seconds), call_async)

    return decorate


# --- the model wrapper ------------------------------------------------------------------------

_WRAPPED_METHODS = frozenset({"predict", "predict_batch", "predict_proba"})
_NO_FALLBACK = None


class ResilientMLModel:
    """A model whose predictions go through retries and a circuit breaker.

    ``predict`` (and ``predict_batch`` / ``predict_proba`` when the model has them) are
    retried ``max_retries`` times with backoff inside, and counted by one breaker
    outside each attempt, so an open breaker stops the retries at once. When every
    attempt fails or the breaker is open, ``fallback`` answers if given: a callable
    receives the same arguments as the prediction, anything else is returned as is.
    Client errors (4xx) are raised, never hidden by the fallback. Async ``predict``
    methods give async wrappers. Other attributes are the model's.
    """

    def __init__(
        self,
        model: Any,
        use_circuit_breaker: bool = True,
        use_retry: bool = True,
        max_retries: int = 3,
        fallback: Any = _NO_FALLBACK,
        *,
        circuit_breaker: CircuitBreaker | None = None,
        retry_policy: RetryPolicy | None = None,
        failure_threshold: int = 5,
        success_threshold: int = 2,
        timeout: float = 60.0,
        base_delay: float = 0.1,
        max_delay: float = 2.0,
    ) -> None:
        if not callable(getattr(model, "predict", None)):
            raise TypeError(f"ResilientMLModel needs a model with predict(), got {type(model).__name__}")
        self.model = model
        self.fallback = fallback
        name = f"model:{type(model).__name__}"
        self.circuit_breaker = (
            circuit_breaker or CircuitBreaker(failure_threshold, success_threshold, timeout, name=name)
            if use_circuit_breaker
            else None
        )
        self.retry_policy = (
            retry_policy or RetryPolicy(max_retries, base_delay, max_delay) if use_retry else None
        )

    def __repr__(self) -> str:
        return f"ResilientMLModel({self.model!r})"

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__.get("model")
        if model is None:
            raise AttributeError(name)
        attr = getattr(model, name)
        if name in _WRAPPED_METHODS and callable(attr):
            return functools.partial(self._invoke, name)
        return attr

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """The model's ``predict`` with retries, breaker and fallback."""
        return self._invoke("predict", *args, **kwargs)

    def _fall_back(self, exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.fallback is _NO_FALLBACK or _is_client_error(exc):
            raise exc
        logger.warning("prediction failed (%s); answering with the fallback", type(exc).__name__)
        return self.fallback(*args, **kwargs) if callable(self.fallback) else self.fallback

    def _invoke(self, method_name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.model, method_name)
        if inspect.iscoroutinefunction(method):
            return self._invoke_async(method, args, kwargs)
        breaker = self.circuit_breaker
        call: Callable[..., Any] = functools.partial(breaker.call, method) if breaker else method
        try:
            return self.retry_policy.execute(call, *args, **kwargs) if self.retry_policy else call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the fallback decides, or re-raises
            return self._fall_back(exc, args, kwargs)

    async def _invoke_async(self, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        breaker = self.circuit_breaker
        call = functools.partial(breaker.call_async, method) if breaker else method
        try:
            if self.retry_policy:
                return await self.retry_policy.execute_async(call, *args, **kwargs)
            return await call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the fallback decides, or re-raises
            result = self._fall_back(exc, args, kwargs)
            return await result if inspect.isawaitable(result) else result
