"""InferenceEngine: micro-batching, per-caller answers, 503 on overload, 504 on timeout, 422 on bad input."""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any

import anyio
import anyio.to_thread
import pytest

from conduit.framework.errors import (
    ConfigurationError,
    GatewayTimeoutError,
    InferenceError,
    ServiceUnavailableError,
    ValidationError,
)
from conduit.ml import InferenceEngine


class BatchDoubler:
    """predict_batch doubles every value; records the batch sizes it saw."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[int] = []

    def validate_input(self, x: Any) -> Any:
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            raise ValidationError("input must be a number", f"got {type(x).__name__}")
        return x

    def predict(self, x: Any) -> Any:
        return 2 * x

    def predict_batch(self, rows: list[Any]) -> list[Any]:
        self.calls.append(len(rows))
        if self.delay:
            time.sleep(self.delay)
        if any(r == -13 for r in rows):
            raise ArithmeticError("-13 is unlucky")
        return [2 * r for r in rows]


class Blocking:
    """predict_batch waits until released: holds the worker so the queue fills."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def predict_batch(self, rows: list[Any]) -> list[Any]:
        self.started.set()
        self.release.wait(10)
        return rows

    def predict(self, x: Any) -> Any:
        return x


@pytest.mark.anyio
async def test_64_concurrent_callers_each_get_their_own_answer_from_shared_batches() -> None:
    model = BatchDoubler(delay=0.002)
    with InferenceEngine(model, max_batch_size=16, max_wait_ms=5) as engine:
        results: dict[int, Any] = {}

        async def call(i: int) -> None:
            results[i] = await engine.predict_async(i)

        async with anyio.create_task_group() as tg:
            for i in range(64):
                tg.start_soon(call, i)
    assert results == {i: 2 * i for i in range(64)}
    assert engine.stats.rows == 64
    assert engine.stats.max_batch_size > 1, engine.stats.batch_sizes
    assert max(model.calls) <= 16
    assert engine.stats.batches == len(model.calls) < 64


def test_seed_sync_predict_with_a_per_sample_model() -> None:
    class MyModel:
        def predict(self, features: list[float]) -> list[float]:
            return [sum(features) / len(features)]

    with InferenceEngine(model=MyModel()) as engine:
        assert engine.predict([1.0, 2.0, 3.0]) == [2.0]


def test_sync_callers_on_many_threads_are_batched_together() -> None:
    model = BatchDoubler(delay=0.005)
    results: dict[int, Any] = {}
    with InferenceEngine(model, max_batch_size=8, max_wait_ms=20) as engine:
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, engine.predict(i))) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert results == {i: 2 * i for i in range(24)}
    assert engine.stats.max_batch_size > 1


@pytest.mark.anyio
async def test_full_queue_answers_503_with_retry_after() -> None:
    model = Blocking()
    engine = InferenceEngine(model, max_batch_size=1, max_queue=2, max_wait_ms=0)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(engine.predict_async, "running")
            await anyio.to_thread.run_sync(model.started.wait, 5)
            tg.start_soon(engine.predict_async, "queued-1")
            tg.start_soon(engine.predict_async, "queued-2")
            await anyio.sleep(0.05)
            with pytest.raises(ServiceUnavailableError) as info:
                await engine.predict_async("one too many")
            model.release.set()
        assert info.value.status_code == 503
        assert info.value.headers["Retry-After"] == "1"
        assert "2 requests are already waiting" in info.value.detail
        assert engine.stats.rejected == 1
        assert await engine.predict_async("after the rush") == "after the rush"
    finally:
        model.release.set()
        engine.close()


@pytest.mark.anyio
async def test_caller_waiting_past_its_timeout_gets_504_and_its_row_is_skipped() -> None:
    model = Blocking()
    engine = InferenceEngine(model, max_batch_size=1, max_wait_ms=0)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(engine.predict_async, "holds the worker")
            await anyio.to_thread.run_sync(model.started.wait, 5)
            with pytest.raises(GatewayTimeoutError) as info:
                await engine.predict_async("too late", timeout=0.05)
            model.release.set()
        assert info.value.status_code == 504
        assert engine.stats.timeouts == 1
        assert engine.stats.rows == 1  # the timed-out row never ran
    finally:
        model.release.set()
        engine.close()


def test_sync_timeout_gives_504() -> None:
    model = Blocking()
    engine = InferenceEngine(model, max_batch_size=1, max_wait_ms=0, timeout=0.05)
    try:
        with pytest.raises(GatewayTimeoutError):
            engine.predict("x")
    finally:
        model.release.set()
        engine.close()


@pytest.mark.anyio
async def test_malformed_sample_is_rejected_with_422_before_queueing() -> None:
    model = BatchDoubler()
    with InferenceEngine(model) as engine:
        with pytest.raises(ValidationError) as info:
            await engine.predict_async("not a number")
        assert info.value.status_code == 422
        assert info.value.detail == "got str"
        assert engine.stats.requests == 0
        assert await engine.predict_async(4) == 8


@pytest.mark.anyio
async def test_one_failing_row_fails_alone_and_its_batchmates_still_succeed() -> None:
    model = BatchDoubler(delay=0.01)
    with InferenceEngine(model, max_batch_size=8, max_wait_ms=20) as engine:
        outcomes: dict[int, Any] = {}

        async def call(i: int) -> None:
            try:
                outcomes[i] = await engine.predict_async(i)
            except InferenceError as exc:
                outcomes[i] = exc

        async with anyio.create_task_group() as tg:
            for i in (11, 12, -13, 14):
                tg.start_soon(call, i)
    assert {i: outcomes[i] for i in (11, 12, 14)} == {11: 22, 12: 24, 14: 28}
    error = outcomes[-13]
    assert isinstance(error, InferenceError) and error.status_code == 500
    assert "unlucky" not in str(error.detail)  # internals stay in the log, not the response
    assert isinstance(error.__cause__, ArithmeticError)


@pytest.mark.anyio
async def test_closed_engine_answers_503() -> None:
    engine = InferenceEngine(BatchDoubler())
    assert await engine.predict_async(1) == 2
    engine.close()
    with pytest.raises(ServiceUnavailableError, match="closed"):
        await engine.predict_async(1)


@pytest.mark.anyio
async def test_sync_predict_inside_an_event_loop_is_refused() -> None:
    with InferenceEngine(BatchDoubler()) as engine:
        with pytest.raises(RuntimeError, match="predict_async"):
            engine.predict(1)


def test_batched_true_sends_the_whole_batch_to_predict() -> None:
    seen: list[list[Any]] = []

    class RowsModel:
        def predict(self, rows: list[Any]) -> list[Any]:
            seen.append(list(rows))
            return [sum(r) for r in rows]

    with InferenceEngine(RowsModel(), batched=True) as engine:
        assert engine.predict([1, 2, 3]) == 6
    assert seen == [[[1, 2, 3]]]


@pytest.mark.anyio
async def test_bucket_key_batches_similar_lengths_together_when_busy() -> None:
    model = Blocking()
    batches: list[list[str]] = []

    class Recorder:
        def predict_batch(self, rows: list[str]) -> list[int]:
            if rows == ["hold"]:
                model.predict_batch(rows)
            else:
                batches.append(list(rows))
            return [len(r) for r in rows]

        def predict(self, x: str) -> int:
            return len(x)

    texts = ["a" * n for n in (1, 40, 2, 41, 3, 42, 4, 43)]
    engine = InferenceEngine(Recorder(), max_batch_size=4, max_wait_ms=0, bucket_key=len)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(engine.predict_async, "hold")
            await anyio.to_thread.run_sync(model.started.wait, 5)
            for text in texts:
                tg.start_soon(engine.predict_async, text)
            await anyio.sleep(0.05)
            model.release.set()
    finally:
        model.release.set()
        engine.close()
    assert sorted(len(t) for b in batches for t in b) == sorted(len(t) for t in texts)
    assert [[len(t) for t in b] for b in batches] == [[1, 2, 3, 4], [40, 41, 42, 43]]


def test_on_batch_reports_size_and_duration() -> None:
    reports: list[tuple[int, float]] = []
    with InferenceEngine(BatchDoubler(), on_batch=lambda n, d: reports.append((n, d))) as engine:
        engine.predict(3)
    assert len(reports) == 1 and reports[0][0] == 1 and reports[0][1] >= 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_batch_size": 0}, "max_batch_size must be an integer >= 1"),
        ({"max_queue": -1}, "max_queue must be an integer >= 1"),
        ({"timeout": 0}, "timeout > 0"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        InferenceEngine(BatchDoubler(), **kwargs)


def test_object_without_predict_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="needs a model with predict"):
        InferenceEngine(object())


_request_tag: contextvars.ContextVar[str] = contextvars.ContextVar("request_tag", default="none")


@pytest.mark.anyio
async def test_the_model_runs_in_the_context_of_the_oldest_caller_of_its_batch() -> None:
    """A tracing plugin's current span is a context variable: the worker thread sees the caller's."""
    seen: list[str] = []
    blocker = Blocking()

    class Tagged(Blocking):
        def predict_batch(self, rows: list[Any]) -> list[Any]:
            seen.append(_request_tag.get())
            return blocker.predict_batch(rows)

    with InferenceEngine(Tagged(), max_batch_size=8, max_wait_ms=1) as engine:

        async def call(tag: str, value: int) -> Any:
            _request_tag.set(tag)
            return await engine.predict_async(value)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "first", 1)
            await anyio.to_thread.run_sync(blocker.started.wait, 5)  # "first" runs alone, holding the worker
            tg.start_soon(call, "second", 2)
            tg.start_soon(call, "third", 3)
            await anyio.sleep(0.05)  # both queue behind it and form the next batch
            blocker.release.set()
    assert seen == ["first", "second"]
    assert _request_tag.get() == "none"  # the callers' settings stayed in their own tasks
