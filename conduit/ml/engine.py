"""InferenceEngine: dynamic micro-batching of concurrent predictions.

Callers (async tasks on any event loop, or threads) hand in one sample each; a worker
thread gathers what is queued into a batch of at most ``max_batch_size``, waiting at
most ``max_wait_ms`` for it to fill, runs the model once off the event loop, and hands
each caller its own row back. A full queue answers 503, a caller that waits longer
than ``timeout`` gets 504, a malformed sample 422 before it is queued; one bad row
never fails the rest of its batch.
"""

from __future__ import annotations

import collections
import contextvars
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from conduit.framework.errors import (
    ConfigurationError,
    GatewayTimeoutError,
    HTTPError,
    InferenceError,
    ServiceUnavailableError,
)

__all__ = ["EngineStats", "InferenceEngine"]

logger = logging.getLogger("conduit.ml.engine")
_names = itertools.count(1)


@dataclass
class EngineStats:
    """Counters of one engine (read them; the engine updates them)."""

    requests: int = 0
    batches: int = 0
    rows: int = 0
    rejected: int = 0
    timeouts: int = 0
    errors: int = 0
    batch_sizes: collections.Counter[int] = field(default_factory=collections.Counter)

    @property
    def mean_batch_size(self) -> float:
        return self.rows / self.batches if self.batches else 0.0

    @property
    def max_batch_size(self) -> int:
        return max(self.batch_sizes, default=0)


class _Item:
    __slots__ = ("cancelled", "context", "error", "event", "key", "result", "thread_event", "token", "value")

    def __init__(self, value: Any, key: Any) -> None:
        self.value = value
        self.key = key
        # The caller's context (its request's span, for one), in which the worker thread
        # runs the batch this item opens.
        self.context = contextvars.copy_context()
        self.cancelled = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.event: anyio.Event | None = None
        self.token: Any = None
        self.thread_event: threading.Event | None = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def _set_all(events: list[anyio.Event]) -> None:
    for event in events:
        event.set()


class InferenceEngine:
    """Serve ``model`` to many concurrent callers, batching their samples.

    ``model`` is any object with ``predict``. When it also has ``predict_batch(rows) ->
    list`` (OnnxModel, SklearnModel, TextEmbedder do) a batch is one call; pass
    ``batched=True`` when ``model.predict`` itself takes a list of rows and returns one
    answer per row (a bare scikit-learn estimator), ``batched=False`` to call ``predict``
    once per sample. ``validate`` (default: ``model.validate_input`` when present) checks
    each sample before it is queued. ``bucket_key(sample)`` (for text: its token count)
    lets a busy engine batch samples of similar length together, so less padding is run.

    ``max_wait_ms`` is how long a batch waits to fill once traffic is concurrent; a lone
    request on an idle engine runs at once (``adaptive=False`` always waits).
    """

    def __init__(
        self,
        model: Any,
        max_batch_size: int = 32,
        max_wait_ms: float = 5.0,
        max_queue: int = 1024,
        timeout: float | None = 30.0,
        *,
        batched: bool | None = None,
        validate: Callable[[Any], Any] | None = None,
        bucket_key: Callable[[Any], Any] | None = None,
        workers: int = 1,
        adaptive: bool = True,
        on_batch: Callable[[int, float], Any] | None = None,
        name: str | None = None,
    ) -> None:
        if not hasattr(model, "predict") and not hasattr(model, "predict_batch"):
            raise ConfigurationError(f"InferenceEngine needs a model with predict(); got {type(model).__name__}")
        for label, value, low in (("max_batch_size", max_batch_size, 1), ("max_queue", max_queue, 1), ("workers", workers, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigurationError(f"{label} must be an integer >= {low}; got {value!r}")
        if max_wait_ms < 0 or (timeout is not None and timeout <= 0):
            raise ConfigurationError(f"max_wait_ms must be >= 0 and timeout > 0; got {max_wait_ms!r}, {timeout!r}")
        self.model = model
        self.name = name or getattr(model, "name", None) or f"engine-{next(_names)}"
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.timeout = timeout
        self.adaptive = adaptive
        self.bucket_key = bucket_key
        self.on_batch = on_batch
        self.stats = EngineStats()
        self._batch_fn = self._resolve_batch_fn(model, batched)
        self._validate = validate if validate is not None else getattr(model, "validate_input", None)
        self._queue: collections.deque[_Item] = collections.deque()
        self._cond = threading.Condition()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._last_batch = 0
        # Waking async callers means a (blocking) call into their event loop; a separate
        # thread does it so the model never waits for a busy loop, and close() called on
        # that very loop cannot deadlock with it.
        self._wakeups: queue.SimpleQueue[tuple[Any, list[anyio.Event]] | None] = queue.SimpleQueue()
        self._waker: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"InferenceEngine({self.name!r}, max_batch_size={self.max_batch_size}, queued={self.queue_depth})"

    @staticmethod
    def _resolve_batch_fn(model: Any, batched: bool | None) -> Callable[[list[Any]], Sequence[Any]]:
        if batched is None:
            batched = hasattr(model, "predict_batch")
        if not batched:
            return lambda values: [model.predict(v) for v in values]
        if hasattr(model, "predict_batch"):
            return model.predict_batch

        def whole(values: list[Any]) -> list[Any]:
            out = model.predict(values)
            return [v.tolist() if hasattr(v, "tolist") else v for v in out]

        return whole

    # --- public API ---------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def predict(self, features: Any, timeout: float | None = None) -> Any:
        """Predict one sample from synchronous code (a script or a sync handler's worker thread).

        Blocks this thread, not an event loop: from async code use :meth:`predict_async`.
        """
        try:
            anyio.lowlevel.current_token()
        except Exception:  # noqa: BLE001, S110 - no event loop in this thread: the expected case
            pass
        else:
            raise RuntimeError("InferenceEngine.predict() would block the event loop; use `await engine.predict_async(...)`")
        item = self._submit(features)
        item.thread_event = threading.Event()
        self._enqueue(item)
        limit = timeout if timeout is not None else self.timeout
        if not item.thread_event.wait(limit):
            item.cancelled = True
            raise self._timed_out(limit)
        return item.outcome()

    async def predict_async(self, features: Any, timeout: float | None = None) -> Any:
        """Predict one sample; concurrent callers are batched together. 422/503/504 as HTTP errors."""
        item = self._submit(features)
        item.event = anyio.Event()
        item.token = anyio.lowlevel.current_token()
        self._enqueue(item)
        limit = timeout if timeout is not None else self.timeout
        try:
            with anyio.fail_after(limit):
                await item.event.wait()
        except TimeoutError:
            item.cancelled = True
            raise self._timed_out(limit) from None
        except BaseException:  # cancelled (client gone): the batcher skips it if not yet running
            item.cancelled = True
            raise
        return item.outcome()

    async def predict_many_async(self, samples: Sequence[Any], timeout: float | None = None) -> list[Any]:
        """Predict several samples concurrently (they join whatever batches are forming)."""
        results: list[Any] = [None] * len(samples)

        async def one(index: int, sample: Any) -> None:
            results[index] = await self.predict_async(sample, timeout)

        async with anyio.create_task_group() as tg:
            for index, sample in enumerate(samples):
                tg.start_soon(one, index, sample)
        return results

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers after the batch in progress (waiting up to ``timeout``); queued callers get 503."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self._wakeups.put(None)

    async def aclose(self, timeout: float = 5.0) -> None:
        """:meth:`close` without blocking the event loop (use it in app shutdown)."""
        await anyio.to_thread.run_sync(self.close, timeout)

    def __enter__(self) -> InferenceEngine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> InferenceEngine:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # --- queueing -------------------------------------------------------------------

    def _submit(self, features: Any) -> _Item:
        value = self._validate(features) if self._validate is not None else features
        if value is None:
            value = features
        key = self.bucket_key(value) if self.bucket_key is not None else None
        return _Item(value, key)

    def _enqueue(self, item: _Item) -> None:
        with self._cond:
            if self._closed:
                raise ServiceUnavailableError("inference engine is closed", f"engine {self.name!r} was shut down")
            if len(self._queue) >= self.max_queue:
                self.stats.rejected += 1
                raise ServiceUnavailableError(
                    "inference queue is full",
                    f"{self.max_queue} requests are already waiting for model {self.name!r}; retry shortly",
                    headers={"Retry-After": "1"},
                )
            self.stats.requests += 1
            self._queue.append(item)
            if len(self._threads) < self._workers:
                self._start_worker()
            if item.event is not None and self._waker is None:
                self._waker = threading.Thread(target=self._wake, name=f"conduit-inference-{self.name}-waker", daemon=True)
                self._waker.start()
            self._cond.notify()

    def _start_worker(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"conduit-inference-{self.name}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _timed_out(self, limit: float | None) -> GatewayTimeoutError:
        self.stats.timeouts += 1
        return GatewayTimeoutError(
            "inference timed out",
            f"model {self.name!r} gave no answer within {limit:g}s; the server is busy, retry later",
        )

    def _take_batch(self) -> list[_Item]:
        """Called with the lock held and the queue non-empty."""
        size = min(self.max_batch_size, len(self._queue))
        if self.bucket_key is None or len(self._queue) <= self.max_batch_size:
            return [self._queue.popleft() for _ in range(size)]
        oldest = self._queue.popleft()
        window = list(itertools.islice(self._queue, 0, 4 * self.max_batch_size))
        window.sort(key=lambda it: abs(it.key - oldest.key))
        chosen = window[: size - 1]
        chosen_ids = {id(it) for it in chosen}
        self._queue = collections.deque(it for it in self._queue if id(it) not in chosen_ids)
        return sorted([oldest, *chosen], key=lambda it: it.key)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    self._fail_queued()
                    return
                wait = self.max_wait if (not self.adaptive or self._last_batch > 1 or len(self._queue) > 1) else 0.0
                deadline = time.monotonic() + wait
                while len(self._queue) < self.max_batch_size and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch = [it for it in self._take_batch() if not it.cancelled]
                self._last_batch = len(batch)
            if batch:
                self._run(batch)

    def _fail_queued(self) -> None:
        error = ServiceUnavailableError("inference engine is closed", f"engine {self.name!r} was shut down")
        pending = list(self._queue)
        self._queue.clear()
        for item in pending:
            item.error = error
        self._notify(pending)

    # --- running ----------------------------------------------------------------------

    def _run(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            # In the oldest caller's context: a tracing plugin then parents the model's
            # span under that request's span (a batch serves several requests; one is chosen).
            outputs = batch[0].context.run(self._call_batch, [it.value for it in batch])
            if len(outputs) != len(batch):
                raise InferenceError(
                    f"model {self.name!r} answered {len(outputs)} rows for a batch of {len(batch)}",
                    "its predict_batch must return one answer per input row",
                )
        except BaseException as exc:  # noqa: BLE001 - isolate the failing row(s)
            if len(batch) == 1 or isinstance(exc, (KeyboardInterrupt, SystemExit)):
                batch[0].error = self._as_http_error(exc)
            else:
                for item in batch:  # rerun one by one so one bad row fails alone
                    self._run_one(item)
        else:
            for item, output in zip(batch, outputs):
                item.result = output
        duration = time.perf_counter() - started
        with self._cond:
            self.stats.batches += 1
            self.stats.rows += len(batch)
            self.stats.batch_sizes[len(batch)] += 1
            self.stats.errors += sum(1 for it in batch if it.error is not None)
        if self.on_batch is not None:
            try:
                self.on_batch(len(batch), duration)
            except Exception:
                logger.exception("on_batch callback of engine %r failed", self.name)
        self._notify(batch)

    def _call_batch(self, values: list[Any]) -> list[Any]:
        return list(self._batch_fn(values))

    def _run_one(self, item: _Item) -> None:
        try:
            (item.result,) = item.context.run(self._call_batch, [item.value])
        except BaseException as exc:  # noqa: BLE001
            item.error = self._as_http_error(exc)

    def _as_http_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, HTTPError):
            return exc
        logger.error("model %r failed on a batch", self.name, exc_info=exc)
        error = InferenceError(
            f"model {self.name!r} failed to predict", "the model raised an error; the server log has the details"
        )
        error.__cause__ = exc
        return error

    def _notify(self, items: list[_Item]) -> None:
        by_token: dict[int, tuple[Any, list[anyio.Event]]] = {}
        for item in items:
            if item.thread_event is not None:
                item.thread_event.set()
            elif item.event is not None:
                by_token.setdefault(id(item.token.native_token), (item.token, []))[1].append(item.event)
        for token, events in by_token.values():
            self._wakeups.put((token, events))

    def _wake(self) -> None:
        while (job := self._wakeups.get()) is not None:
            token, events = job
            try:
                anyio.from_thread.run_sync(_set_all, events, token=token)
            except Exception:  # noqa: BLE001 - that event loop has finished; nobody is waiting
                logger.debug("an event loop waiting on engine %r is gone", self.name)
