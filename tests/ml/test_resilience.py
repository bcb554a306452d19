"""Circuit breaker, retries, timeouts and ResilientMLModel, with models that fail on purpose."""

from __future__ import annotations

import contextvars
import threading

import anyio
import pytest

from conduit.framework.errors import GatewayTimeoutError, ServiceUnavailableError, ValidationError
from conduit.ml.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    OperationTimeoutError,
    ResilientMLModel,
    RetryPolicy,
    with_circuit_breaker,
    with_retry,
    with_timeout,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FlakyModel:
    """Fails ``failures`` times (or for ever), then answers the sum of the features."""

    def __init__(self, failures: float = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or RuntimeError("the accelerator fell over")
        self.calls = 0
        self.version = "1.2.3"

    def predict(self, features: list[float]) -> float:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return sum(features)

    def predict_batch(self, batch: list[list[float]]) -> list[float]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return [sum(row) for row in batch]


class AsyncFlakyModel(FlakyModel):
    async def predict(self, features: list[float]) -> float:  # type: ignore[override]
        await anyio.sleep(0)
        return FlakyModel.predict(self, features)


# --- circuit breaker ---------------------------------------------------------------------------


def test_breaker_goes_closed_open_half_open_closed() -> None:
    clock = Clock()
    changes: list[tuple[str, str]] = []
    cb = CircuitBreaker(3, 2, timeout=10, clock=clock, on_state_change=lambda a, b: changes.append((a.value, b.value)))
    for _ in range(2):
        assert cb.can_execute()
        cb.record_failure()
    assert cb.state is CircuitState.CLOSED
    cb.record_failure()
    assert cb.state is CircuitState.OPEN
    assert not cb.can_execute()
    assert cb.retry_after() == 10
    clock.now += 9.5
    assert not cb.can_execute()
    assert cb.retry_after() == pytest.approx(0.5)
    clock.now += 0.5
    assert cb.state is CircuitState.HALF_OPEN
    assert cb.can_execute()
    assert not cb.can_execute()  # one trial at a time
    cb.record_success()
    assert cb.state is CircuitState.HALF_OPEN
    assert cb.can_execute()
    cb.record_success()
    assert cb.state is CircuitState.CLOSED
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_a_failed_trial_reopens_for_a_full_timeout() -> None:
    clock = Clock()
    cb = CircuitBreaker(1, 1, timeout=5, clock=clock)
    cb.record_failure()
    clock.now += 5
    assert cb.can_execute()
    cb.record_failure()
    assert cb.state is CircuitState.OPEN
    assert cb.retry_after() == 5


def test_success_resets_the_consecutive_failure_count() -> None:
    cb = CircuitBreaker(3, 1, timeout=5)
    for _ in range(5):
        cb.record_failure()
        cb.record_failure()
        cb.record_success()
    assert cb.state is CircuitState.CLOSED
    assert cb.failure_count == 0


def test_unreported_trial_does_not_keep_the_breaker_half_open_for_ever() -> None:
    clock = Clock()
    cb = CircuitBreaker(1, 1, timeout=5, clock=clock)
    cb.record_failure()
    clock.now += 5
    assert cb.can_execute()  # a trial that never reports back
    clock.now += 4
    assert not cb.can_execute()
    clock.now += 1
    assert cb.can_execute()


def test_only_one_of_many_racing_threads_gets_the_half_open_trial() -> None:
    clock = Clock()
    cb = CircuitBreaker(1, 1, timeout=1, clock=clock)
    cb.record_failure()
    clock.now += 1
    barrier = threading.Barrier(16)
    admitted: list[bool] = []

    def race() -> None:
        barrier.wait()
        admitted.append(cb.can_execute())

    threads = [threading.Thread(target=race) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 1


def test_open_breaker_raises_503_with_retry_after_and_does_not_call() -> None:
    clock = Clock()
    cb = CircuitBreaker(2, 1, timeout=30, clock=clock, name="scorer")
    model = FlakyModel(failures=float("inf"))
    for _ in range(2):
        with pytest.raises(RuntimeError):
            cb.call(model.predict, [1.0])
    clock.now += 12.2
    with pytest.raises(CircuitOpenError) as info:
        cb.call(model.predict, [1.0])
    assert model.calls == 2
    err = info.value
    assert isinstance(err, ServiceUnavailableError)
    assert err.status_code == 503
    assert err.headers["Retry-After"] == "18"
    assert err.to_dict()["code"] == "circuit_open"


def test_client_errors_never_open_the_breaker() -> None:
    cb = CircuitBreaker(2, 1, timeout=30)
    model = FlakyModel(failures=float("inf"), error=ValidationError("bad shape"))
    for _ in range(5):
        with pytest.raises(ValidationError):
            cb.call(model.predict, [1.0])
    assert cb.state is CircuitState.CLOSED


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"success_threshold": 0}, {"timeout": -1}])
def test_breaker_rejects_nonsense_settings(kwargs) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)


# --- retry policy --------------------------------------------------------------------------------


def test_retry_succeeds_after_transient_failures_with_growing_jittered_delays() -> None:
    delays: list[float] = []
    policy = RetryPolicy(max_retries=3, base_delay=0.1, max_delay=5.0, sleep=delays.append)
    model = FlakyModel(failures=2)
    assert policy.execute(model.predict, [1.0, 2.0]) == 3.0
    assert model.calls == 3
    assert len(delays) == 2
    assert 0.1 <= delays[0] <= 0.2
    assert 0.2 <= delays[1] <= 0.3


def test_retry_delays_are_capped_at_max_delay() -> None:
    delays: list[float] = []
    policy = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=2.5, sleep=delays.append)
    with pytest.raises(RuntimeError):
        policy.execute(FlakyModel(failures=float("inf")).predict, [1.0])
    assert len(delays) == 5
    assert delays[2:] == [2.5, 2.5, 2.5]


def test_exhausted_retries_raise_the_last_error_itself() -> None:
    model = FlakyModel(failures=float("inf"))
    with pytest.raises(RuntimeError, match="fell over"):
        RetryPolicy(max_retries=2, base_delay=0, sleep=lambda s: None).execute(model.predict, [1.0])
    assert model.calls == 3


def test_only_the_configured_exception_types_are_retried() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0, retry_on=(ConnectionError,), sleep=lambda s: None)
    model = FlakyModel(failures=float("inf"), error=ValueError("bad input"))
    with pytest.raises(ValueError):
        policy.execute(model.predict, [1.0])
    assert model.calls == 1
    flaky = FlakyModel(failures=2, error=ConnectionError("reset"))
    assert policy.execute(flaky.predict, [2.0]) == 2.0


def test_client_errors_are_not_retried() -> None:
    model = FlakyModel(failures=float("inf"), error=ValidationError("bad shape"))
    with pytest.raises(ValidationError):
        RetryPolicy(max_retries=3, base_delay=0).execute(model.predict, [1.0])
    assert model.calls == 1


@pytest.mark.anyio
async def test_execute_async_retries_a_coroutine_function() -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    model = AsyncFlakyModel(failures=2)
    policy = RetryPolicy(max_retries=3, base_delay=0.05, async_sleep=record)
    assert await policy.execute_async(model.predict, [4.0]) == 4.0
    assert model.calls == 3
    assert len(slept) == 2


# --- decorators ----------------------------------------------------------------------------------


def test_with_retry_and_with_circuit_breaker_on_a_sync_function() -> None:
    model = FlakyModel(failures=float("inf"))

    @with_circuit_breaker(failure_threshold=2, timeout=60)
    @with_retry(max_retries=1, base_delay=0)
    def predict(features: list[float]) -> float:
        return model.predict(features)

    for _ in range(2):
        with pytest.raises(RuntimeError):
            predict([1.0])
    assert model.calls == 4  # each call tried twice, counted once by the outer breaker
    assert predict.circuit_breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        predict([1.0])
    assert model.calls == 4


@pytest.mark.anyio
async def test_decorators_keep_async_functions_async() -> None:
    model = AsyncFlakyModel(failures=1)

    @with_circuit_breaker(failure_threshold=5)
    @with_retry(max_retries=2, base_delay=0)
    @with_timeout(timeout_seconds=5.0)
    async def predict(features: list[float]) -> float:
        return await model.predict(features)

    assert await predict([1.0, 1.0]) == 2.0
    assert model.calls == 2
    assert predict.circuit_breaker.state is CircuitState.CLOSED


@pytest.mark.anyio
async def test_with_timeout_cancels_an_async_call_at_the_deadline() -> None:
    finished = []

    @with_timeout(timeout_seconds=0.05)
    async def slow() -> None:
        await anyio.sleep(5)
        finished.append(True)

    with pytest.raises(OperationTimeoutError) as info:
        await slow()
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, GatewayTimeoutError)
    assert info.value.status_code == 504
    assert finished == []


@pytest.mark.anyio
async def test_with_timeout_does_not_mistake_the_functions_own_timeout_error() -> None:
    @with_timeout(timeout_seconds=5)
    async def own() -> None:
        raise TimeoutError("upstream said so")

    with pytest.raises(TimeoutError, match="upstream said so"):
        await own()


def test_with_timeout_on_a_sync_function_raises_while_the_thread_runs_on() -> None:
    release = threading.Event()
    finished = threading.Event()

    @with_timeout(timeout_seconds=0.1)
    def blocking() -> str:
        release.wait(10)
        finished.set()
        return "late"

    with pytest.raises(OperationTimeoutError):
        blocking()
    assert not finished.is_set()  # the thread cannot be killed: it is still waiting
    release.set()
    assert finished.wait(5)


def test_with_timeout_on_a_sync_function_returns_results_errors_and_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("from the caller")

    @with_timeout(timeout_seconds=5)
    def read() -> str:
        return var.get()

    @with_timeout(timeout_seconds=5)
    def fail() -> None:
        raise KeyError("missing")

    assert read() == "from the caller"
    with pytest.raises(KeyError):
        fail()


def test_seed_decorator_stack_on_a_sync_prediction() -> None:
    model = FlakyModel(failures=1)

    @with_circuit_breaker(failure_threshold=5)
    @with_retry(max_retries=3, base_delay=0.01)
    @with_timeout(timeout_seconds=5.0)
    def make_prediction(features: list[float]) -> float:
        return model.predict(features)

    assert make_prediction([2.0, 3.0]) == 5.0
    assert make_prediction.__name__ == "make_prediction"


# --- ResilientMLModel -------------------------------------------------------------------------------


def test_resilient_model_retries_transient_failures() -> None:
    model = FlakyModel(failures=2)
    resilient = ResilientMLModel(model, max_retries=3, base_delay=0)
    assert resilient.predict([1.0, 2.0]) == 3.0
    assert model.calls == 3
    assert resilient.circuit_breaker.state is CircuitState.CLOSED


def test_resilient_model_opens_the_breaker_and_stops_calling_the_model() -> None:
    model = FlakyModel(failures=float("inf"))
    resilient = ResilientMLModel(model, max_retries=3, failure_threshold=5, base_delay=0)
    with pytest.raises(RuntimeError):
        resilient.predict([1.0])
    assert model.calls == 4
    with pytest.raises(CircuitOpenError) as info:
        resilient.predict([1.0])  # the 5th failure opens it; the retry after that is refused
    assert model.calls == 5
    assert int(info.value.headers["Retry-After"]) == 60
    with pytest.raises(CircuitOpenError):
        resilient.predict([1.0])
    assert model.calls == 5


def test_resilient_model_recovers_through_half_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker(2, 2, timeout=10, clock=clock)
    model = FlakyModel(failures=2)
    resilient = ResilientMLModel(model, use_retry=False, circuit_breaker=breaker)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            resilient.predict([1.0])
    with pytest.raises(CircuitOpenError):
        resilient.predict([1.0])
    clock.now += 10
    assert resilient.predict([1.0]) == 1.0
    assert breaker.state is CircuitState.HALF_OPEN
    assert resilient.predict([2.0]) == 2.0
    assert breaker.state is CircuitState.CLOSED


def test_fallback_answers_when_the_model_cannot() -> None:
    model = FlakyModel(failures=float("inf"))
    seen: list[list[float]] = []

    def fallback(features: list[float]) -> float:
        seen.append(features)
        return -1.0

    resilient = ResilientMLModel(model, max_retries=1, failure_threshold=3, base_delay=0, fallback=fallback)
    assert [resilient.predict([float(i)]) for i in range(4)] == [-1.0] * 4
    assert seen == [[0.0], [1.0], [2.0], [3.0]]
    assert model.calls == 3  # the breaker opened on the third failure; later calls skip the model
    constant = ResilientMLModel(FlakyModel(failures=float("inf")), use_retry=False, fallback=0.5)
    assert constant.predict([1.0]) == 0.5


def test_fallback_does_not_hide_client_errors() -> None:
    model = FlakyModel(failures=float("inf"), error=ValidationError("expected 4 features"))
    resilient = ResilientMLModel(model, fallback=0.0, base_delay=0)
    with pytest.raises(ValidationError):
        resilient.predict([1.0])
    assert model.calls == 1


def test_predict_batch_is_wrapped_only_when_the_model_has_it() -> None:
    model = FlakyModel(failures=1)
    resilient = ResilientMLModel(model, base_delay=0)
    assert resilient.predict_batch([[1.0], [2.0, 3.0]]) == [1.0, 5.0]
    assert model.calls == 2
    assert resilient.version == "1.2.3"

    class PredictOnly:
        def predict(self, features: list[float]) -> float:
            return 0.0

    assert not hasattr(ResilientMLModel(PredictOnly()), "predict_batch")
    with pytest.raises(TypeError, match="predict"):
        ResilientMLModel(object())


@pytest.mark.anyio
async def test_async_models_get_async_resilience() -> None:
    model = AsyncFlakyModel(failures=2)
    resilient = ResilientMLModel(model, base_delay=0)
    assert await resilient.predict([2.0, 2.0]) == 4.0
    assert model.calls == 3
    broken = ResilientMLModel(AsyncFlakyModel(failures=float("inf")), max_retries=1, base_delay=0, fallback=lambda f: 9.0)
    assert await broken.predict([1.0]) == 9.0


def test_failures_from_many_threads_are_all_counted_and_open_the_breaker_once() -> None:
    changes: list[tuple[CircuitState, CircuitState]] = []
    counting = CircuitBreaker(failure_threshold=10_000, on_state_change=lambda a, b: changes.append((a, b)))
    opening = CircuitBreaker(failure_threshold=400, on_state_change=lambda a, b: changes.append((a, b)))
    barrier = threading.Barrier(8)

    def boom() -> None:
        raise RuntimeError("boom")

    def work() -> None:
        barrier.wait()
        for _ in range(100):
            for cb in (counting, opening):
                try:
                    cb.call(boom)
                except (RuntimeError, CircuitOpenError):
                    pass

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counting.failure_count == 800
    assert changes == [(CircuitState.CLOSED, CircuitState.OPEN)]
