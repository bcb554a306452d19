"""MLPipeline, create_ensemble and the streaming engine, with plain-Python models."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from conduit.framework.errors import ConfigurationError, InferenceError
from conduit.ml import create_ensemble, create_pipeline, create_streaming_engine


class Preprocessor:
    def predict(self, data: list[str]) -> list[str]:
        return [x.lower() for x in data]


class Classifier:
    def predict(self, data: list[str]) -> list[str]:
        return ["positive" if len(x) > 5 else "negative" for x in data]


class Const:
    def __init__(self, value: Any) -> None:
        self.value = value

    def predict(self, features: Any) -> Any:
        return self.value


def test_seed_pipeline_example() -> None:
    pipeline = create_pipeline([("preprocess", Preprocessor()), ("classify", Classifier())])
    assert pipeline.execute(["Hello", "Wonderful"]) == ["negative", "positive"]
    assert pipeline.get_stage_count() == 2
    assert pipeline.stage_names == ["preprocess", "classify"]
    assert set(pipeline.last_timings) == {"preprocess", "classify"}


def test_pipeline_accepts_callables_and_names_the_failing_stage() -> None:
    pipeline = create_pipeline([("double", lambda x: x * 2), ("invert", lambda x: 1 / x)])
    assert pipeline.execute(2) == 0.25
    with pytest.raises(ZeroDivisionError) as info:
        pipeline.execute(0)
    assert "in stage 'invert' of pipeline 'pipeline'" in info.value.__notes__


@pytest.mark.parametrize(
    "stages, message",
    [
        ([("a", 42)], "stage 'a' is a int"),
        ([("a", Const(1)), ("a", Const(2))], "'a' is used twice"),
        (["not a pair"], "are \\(name, model\\) pairs"),
    ],
)
def test_bad_pipeline_stages_are_refused(stages: list[Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        create_pipeline(stages)


def test_voting_takes_the_majority_per_row_and_ties_go_to_the_first_model() -> None:
    ensemble = create_ensemble([Const(["cat", "dog"]), Const(["cat", "cow"]), Const(["dog", "cow"])], strategy="voting")
    assert ensemble.predict([0]) == ["cat", "cow"]
    assert create_ensemble([Const("b"), Const("a")], strategy="voting").predict(None) == "b"


def test_averaging_is_elementwise_and_weighted() -> None:
    ensemble = create_ensemble([Const([0.0, 1.0]), Const([1.0, 0.0])], strategy="averaging", weights=[3, 1])
    assert ensemble.predict(None) == [0.25, 0.75]
    assert create_ensemble([Const(1), Const(2), Const(6)], strategy="averaging").predict(None) == 3.0


def test_models_run_in_parallel_threads() -> None:
    barrier = threading.Barrier(3, timeout=5)

    class Waits:
        def predict(self, x: Any) -> int:
            barrier.wait()  # only returns when all three run at once
            return x

    assert create_ensemble([Waits(), Waits(), Waits()], strategy="averaging").predict(4) == 4.0


def test_ensemble_errors_name_the_problem() -> None:
    with pytest.raises(ConfigurationError, match="one of voting, averaging"):
        create_ensemble([Const(1)], strategy="median")
    with pytest.raises(InferenceError, match="averaging needs numeric answers"):
        create_ensemble([Const("a"), Const("b")], strategy="averaging").predict(None)
    with pytest.raises(ConfigurationError, match="weights apply to strategy='averaging' only"):
        create_ensemble([Const(1), Const(2)], weights=[1, 2])


def test_stream_yields_chunks_of_chunk_size() -> None:
    engine = create_streaming_engine(model=Preprocessor(), chunk_size=2)

    class PerItem:
        def predict(self, x: int) -> int:
            return x * x

    squares = create_streaming_engine(PerItem(), chunk_size=3)
    assert list(squares.predict_stream(range(7))) == [[0, 1, 4], [9, 16, 25], [36]]
    assert engine.chunk_size == 2
    with pytest.raises(ConfigurationError, match="chunk_size must be an integer >= 1"):
        create_streaming_engine(PerItem(), chunk_size=0)


@pytest.mark.anyio
async def test_async_stream_stops_computing_when_the_consumer_goes_away() -> None:
    class Batch:
        def predict_batch(self, rows: list[int]) -> list[int]:
            return [r + 1 for r in rows]

    engine = create_streaming_engine(Batch(), chunk_size=10)
    seen: list[list[int]] = []
    with anyio.move_on_after(5):
        stream = engine.predict_stream_async(range(1000))
        async for chunk in stream:
            seen.append(chunk)
            if len(seen) == 2:
                break
        await stream.aclose()
    assert seen == [list(range(1, 11)), list(range(11, 21))]
    assert engine.chunks_done == 2
