"""Inference opens child spans through the kernel's `conduit.telemetry.span` seam (`conduit_span` hook)."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
import pytest

from conduit import hookimpl
from conduit.framework.errors import InferenceError
from conduit_onnx import TextEmbedder, load_onnx_model


class SpanRecorder:
    """A telemetry plugin: every span it is asked to open, in order, with how it ended."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.errors: dict[str, str] = {}

    @hookimpl
    def conduit_span(self, name: str, attributes: dict[str, Any]) -> Any:
        return self._span(name, attributes)

    @contextlib.contextmanager
    def _span(self, name: str, attributes: dict[str, Any]) -> Iterator[None]:
        self.events.append(("start", name, attributes))
        try:
            yield
        except BaseException as exc:
            self.errors[name] = type(exc).__name__
            raise
        finally:
            self.events.append(("end", name, attributes))


@pytest.fixture
def spans(onnx_pm) -> Iterator[SpanRecorder]:
    recorder = SpanRecorder()
    onnx_pm.register(recorder, name="span-recorder")
    onnx_pm.enable("span-recorder")
    yield recorder
    onnx_pm.unregister(recorder)


def test_predict_runs_inside_an_onnx_inference_span(spans, classifier) -> None:
    model = load_onnx_model(classifier.path, use_gpu=False, warmup=False)
    spans.events.clear()
    model.predict(classifier.X[:10])
    assert spans.events == [
        ("start", "onnx.inference", {"model": "classifier", "batch_size": 10, "device": "cpu", "provider": "CPUExecutionProvider"}),
        ("end", "onnx.inference", {"model": "classifier", "batch_size": 10, "device": "cpu", "provider": "CPUExecutionProvider"}),
    ]
    model.predict(classifier.X[0])
    assert spans.events[-1][2]["batch_size"] == 1


def test_a_failing_run_ends_its_span_with_the_error(spans, classifier) -> None:
    model = load_onnx_model(classifier.path, use_gpu=False, warmup=False)
    with pytest.raises(InferenceError):
        model.run({"features": np.zeros((2, 4), np.float32)}, outputs=["no-such-output"])
    assert spans.errors == {"onnx.inference": "InferenceError"}
    assert [e[0] for e in spans.events] == ["start", "end"]


def test_embedding_span_holds_one_inference_span_per_sub_batch(spans) -> None:
    embedder = TextEmbedder(use_gpu=False, batch_size=8)
    spans.events.clear()
    embedder.embed([f"text number {i}" for i in range(20)])
    names = [(kind, name) for kind, name, _ in spans.events]
    assert names[0] == ("start", "embedding") and names[-1] == ("end", "embedding")
    assert names[1:-1] == [("start", "onnx.inference"), ("end", "onnx.inference")] * 3  # 8 + 8 + 4 texts
    assert spans.events[0][2] == {"model": "all-MiniLM-L6-v2", "texts": 20, "sub_batch": 8}
    assert [attrs["batch_size"] for kind, name, attrs in spans.events if kind == "start" and name == "onnx.inference"] == [8, 8, 4]
