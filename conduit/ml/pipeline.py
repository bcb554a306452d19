"""MLPipeline: named stages run one after another, each stage's output the next one's input."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from conduit.framework.errors import ConfigurationError

__all__ = ["MLPipeline", "create_pipeline"]


def _stage_callable(name: str, stage: Any) -> Callable[[Any], Any]:
    if hasattr(stage, "predict"):
        return stage.predict
    if hasattr(stage, "transform"):
        return stage.transform
    if callable(stage):
        return stage
    raise ConfigurationError(
        f"pipeline stage {name!r} is a {type(stage).__name__}; a stage needs predict(), transform() or to be callable"
    )


class MLPipeline:
    """The seed's pipeline: ``execute(data)`` threads ``data`` through every stage in order.

    A stage is any object with ``predict`` (or ``transform``), or a plain callable.
    ``last_timings`` holds each stage's seconds from the latest ``execute``.
    """

    def __init__(self, stages: Sequence[tuple[str, Any]], name: str = "pipeline") -> None:
        self.name = name
        self._stages: list[tuple[str, Any, Callable[[Any], Any]]] = []
        seen: set[str] = set()
        for entry in stages:
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
                raise ConfigurationError(f"pipeline stages are (name, model) pairs; got {entry!r}")
            stage_name, stage = entry
            if stage_name in seen:
                raise ConfigurationError(f"pipeline stage name {stage_name!r} is used twice")
            seen.add(stage_name)
            self._stages.append((stage_name, stage, _stage_callable(stage_name, stage)))
        self.last_timings: dict[str, float] = {}

    def execute(self, input_data: Any) -> Any:
        """Run every stage; an exception names the stage it came from (as a note)."""
        timings: dict[str, float] = {}
        data = input_data
        for stage_name, _, call in self._stages:
            started = time.perf_counter()
            try:
                data = call(data)
            except Exception as exc:
                exc.add_note(f"in stage {stage_name!r} of pipeline {self.name!r}")
                raise
            timings[stage_name] = time.perf_counter() - started
        self.last_timings = timings
        return data

    predict = execute  # a pipeline is itself a model: engines, ensembles and pipelines nest

    def get_stage_count(self) -> int:
        return len(self._stages)

    @property
    def stage_names(self) -> list[str]:
        return [name for name, _, _ in self._stages]

    def __getitem__(self, name: str) -> Any:
        for stage_name, stage, _ in self._stages:
            if stage_name == name:
                return stage
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"MLPipeline({self.name!r}, stages={self.stage_names})"


def create_pipeline(stages: Sequence[tuple[str, Any]], name: str = "pipeline") -> MLPipeline:
    """``create_pipeline([("preprocess", p), ("classify", c)])`` -> :class:`MLPipeline`."""
    return MLPipeline(stages, name=name)
