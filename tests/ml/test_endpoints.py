"""model_endpoint: JSON in/out, 422 for malformed input, 503 on overload, SSE streaming, OpenAPI."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from conduit import Conduit
from conduit.framework.errors import ValidationError
from conduit.ml import InferenceEngine
from conduit.ml.endpoints import model_endpoint
from conduit.testing import AsyncTestClient, TestClient


class Mean:
    """Seed-style model: features -> [mean]; validates one row of 3 numbers."""

    name = "mean"

    def validate_input(self, x: Any) -> Any:
        if not isinstance(x, list) or len(x) != 3 or not all(isinstance(v, (int, float)) for v in x):
            raise ValidationError("features must be a list of 3 numbers", f"got {x!r}"[:80])
        return x

    def predict(self, features: list[float]) -> list[float]:
        return [sum(features) / len(features)]

    def predict_batch(self, rows: list[list[float]]) -> list[list[float]]:
        return [self.predict(r) for r in rows]


class Tracker:
    def __init__(self) -> None:
        self.inferences: list[tuple[str, bool]] = []
        self.batches: list[tuple[str, int]] = []

    def track_inference(self, model_name: str, duration: float, success: bool) -> None:
        self.inferences.append((model_name, success))

    def track_batch_inference(self, model_name: str, batch_size: int, duration: float) -> None:
        self.batches.append((model_name, batch_size))


def make_app(model: Any = None, **kwargs: Any) -> tuple[Conduit, InferenceEngine]:
    app = Conduit(plugins=[])
    engine = model_endpoint(app, "/predict", model if model is not None else Mean(), **kwargs)
    return app, engine


def test_one_sample_in_one_prediction_out() -> None:
    tracker = Tracker()
    app, _ = make_app(metrics=tracker)
    with TestClient(app) as client:
        r = client.post("/predict", json={"features": [1.0, 2.0, 3.0]})
        assert r.status_code == 200
        body = r.json()
        assert body["prediction"] == [2.0] and body["model"] == "mean" and body["duration_ms"] >= 0
        r = client.post("/predict", json={"instances": [[1, 1, 1], [0, 3, 6]]})
        assert r.json()["predictions"] == [[1.0], [3.0]]
    assert tracker.inferences == [("mean", True), ("mean", True)]
    assert sum(size for _, size in tracker.batches) == 3


@pytest.mark.parametrize(
    "payload, error",
    [
        ({"features": [1, 2]}, "features must be a list of 3 numbers"),
        ({"features": "abc"}, "features must be a list of 3 numbers"),
        ({"instances": [[1, 2, 3], [1]]}, "instance 1: features must be a list of 3 numbers"),
        ({"instances": []}, "'instances' must be a non-empty list of samples"),
        ({}, "the body names no input"),
        ({"inputs": [1, 2, 3]}, "unknown field(s) 'inputs'"),
        ({"features": [1, 2, 3], "instances": [[1, 2, 3]]}, "send 'features' or 'instances', not both"),
        ([1, 2, 3], "the body must be a JSON object"),
    ],
)
def test_malformed_input_is_422_and_the_server_keeps_serving(payload: Any, error: str) -> None:
    app, _ = make_app()
    with TestClient(app) as client:
        r = client.post("/predict", json=payload)
        assert r.status_code == 422
        assert r.json()["error"] == error
        assert client.post("/predict", json={"features": [3, 3, 3]}).json()["prediction"] == [3.0]


def test_too_many_instances_is_422_naming_the_limit() -> None:
    app, _ = make_app(max_instances=2)
    with TestClient(app) as client:
        r = client.post("/predict", json={"instances": [[1, 2, 3]] * 3})
    assert r.status_code == 422
    assert r.json()["error"] == "too many instances in one request (limit 2)"


def test_invalid_json_is_400() -> None:
    app, _ = make_app()
    with TestClient(app) as client:
        r = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400


@pytest.mark.anyio
async def test_full_queue_is_503_with_retry_after() -> None:
    release = threading.Event()
    started = threading.Event()

    class Slow(Mean):
        def predict_batch(self, rows: list[list[float]]) -> list[list[float]]:
            started.set()
            release.wait(10)
            return super().predict_batch(rows)

    app, engine = make_app(Slow(), max_batch_size=1, max_queue=1, max_wait_ms=0)
    try:
        async with AsyncTestClient(app) as client:
            statuses: list[int] = []

            async def call() -> None:
                statuses.append((await client.post("/predict", json={"features": [1, 2, 3]})).status_code)

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)  # runs and blocks the worker
                await anyio.to_thread.run_sync(started.wait, 5)
                tg.start_soon(call)  # waits in the queue
                await anyio.sleep(0.05)
                r = await client.post("/predict", json={"features": [1, 2, 3]})
                release.set()
            assert r.status_code == 503
            assert r.headers["retry-after"] == "1"
            assert r.json()["error"] == "inference queue is full"
            assert sorted(statuses) == [200, 200]
    finally:
        release.set()
        engine.close()


def test_timeout_is_504() -> None:
    release = threading.Event()

    class Stuck(Mean):
        def predict_batch(self, rows: list[list[float]]) -> list[list[float]]:
            release.wait(10)
            return super().predict_batch(rows)

    app, engine = make_app(Stuck(), timeout=0.05)
    try:
        with TestClient(app) as client:
            r = client.post("/predict", json={"features": [1, 2, 3]})
            release.set()
        assert r.status_code == 504
        assert r.json()["error"] == "inference timed out"
    finally:
        release.set()
        engine.close()


def test_stream_sends_one_event_per_chunk_then_end() -> None:
    app, _ = make_app(chunk_size=2)
    with TestClient(app) as client:
        r = client.post("/predict/stream", json={"instances": [[1, 1, 1], [2, 2, 2], [3, 3, 3]]})
        bad = client.post("/predict/stream", json={"instances": [[1, 1, 1], "x"]})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.text == (
        'event: predictions\ndata: {"index":0,"predictions":[[1.0],[2.0]]}\n\n'
        'event: predictions\ndata: {"index":1,"predictions":[[3.0]]}\n\n'
        'event: end\ndata: {"chunks":2,"count":3}\n\n'
    )
    assert bad.status_code == 422 and bad.json()["error"].startswith("instance 1:")


def test_metadata_reports_the_engine() -> None:
    app, _ = make_app(max_batch_size=8)
    with TestClient(app) as client:
        client.post("/predict", json={"features": [1, 2, 3]})
        info = client.get("/predict/metadata").json()
    assert info["name"] == "mean"
    assert info["engine"]["max_batch_size"] == 8 and info["engine"]["requests"] == 1


def test_openapi_describes_the_endpoint_and_its_errors() -> None:
    from conduit.openapi import build_openapi

    app, _ = make_app(max_instances=7, sample_schema={"type": "array", "items": {"type": "number"}, "minItems": 3,
                                                      "maxItems": 3})
    doc = build_openapi(app, "t", "1", "d")
    op = doc["paths"]["/predict"]["post"]
    assert set(op["responses"]) >= {"200", "422", "503", "504"}
    one, batch = op["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert one["required"] == ["features"] and one["additionalProperties"] is False
    assert one["properties"]["features"]["minItems"] == 3
    assert batch["properties"]["instances"]["maxItems"] == 7 and batch["additionalProperties"] is False
    stream = doc["paths"]["/predict/stream"]["post"]
    assert stream["requestBody"]["content"]["application/json"]["schema"]["required"] == ["instances"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert "get" in doc["paths"]["/predict/metadata"]


class Tensors(Mean):
    """A model that lists its inputs as conduit-onnx's models do."""

    def __init__(self, inputs: list[dict[str, Any]]) -> None:
        self.inputs = inputs

    def metadata(self) -> dict[str, Any]:
        return {"name": "tensors", "inputs": self.inputs}


def test_sample_schema_comes_from_the_inputs_the_model_lists() -> None:
    from conduit.ml.endpoints import sample_schema_of

    row = sample_schema_of(Tensors([{"name": "X", "dtype": "float32", "shape": [None, 4]}]))
    assert row == {"type": "array", "minItems": 4, "maxItems": 4,
                   "items": {"type": "number", "minimum": -3.4028234663852886e38, "maximum": 3.4028234663852886e38}}
    image = sample_schema_of(Tensors([{"name": "img", "dtype": "uint8", "shape": ["batch", 3, None]}]))
    assert image["minItems"] == image["maxItems"] == 3 and image["items"]["minItems"] == 1
    assert image["items"]["items"] == {"type": "integer", "minimum": 0, "maximum": 255}
    two = sample_schema_of(Tensors([{"name": "ids", "dtype": "int64", "shape": [None, None]},
                                    {"name": "mask", "dtype": "bool", "shape": [None, None]}]))
    assert two["required"] == ["ids", "mask"] and two["additionalProperties"] is False
    assert two["properties"]["mask"]["items"] == {"type": "boolean"}
    assert sample_schema_of(Mean()) == {}  # says nothing about its inputs: any JSON value


def test_a_given_engine_is_used_as_is() -> None:
    engine = InferenceEngine(Mean(), max_batch_size=4)
    app = Conduit(plugins=[])
    assert model_endpoint(app, "/m", engine, stream=False) is engine
    with TestClient(app) as client:
        assert client.post("/m", json={"features": [2, 2, 2]}).json()["prediction"] == [2.0]
        assert client.post("/m/stream", json={"instances": [[1, 2, 3]]}).status_code == 404
    engine.close()


@pytest.mark.anyio
async def test_seed_sync_handler_calling_engine_predict_serves_concurrent_requests() -> None:
    engine = InferenceEngine(Mean(), max_batch_size=8, max_wait_ms=10)
    app = Conduit(plugins=[])

    @app.post("/predict")
    def predict(req: Any, res: Any) -> None:
        data = req.json()
        res.json({"prediction": engine.predict(data["features"])})

    answers: dict[int, Any] = {}
    async with AsyncTestClient(app) as client:

        async def call(i: int) -> None:
            answers[i] = (await client.post("/predict", json={"features": [i, i, i]})).json()["prediction"]

        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(call, i)
    engine.close()
    assert answers == {i: [float(i)] for i in range(16)}


def test_requests_and_batches_are_recorded_in_mlmetrics_by_default() -> None:
    from conduit.framework.ml_metrics import MLMetrics

    before = MLMetrics().model_stats("mean-default")["predictions"]
    app = Conduit(plugins=[])
    model_endpoint(app, "/predict", Mean(), name="mean-default")
    with TestClient(app) as client:
        client.post("/predict", json={"features": [1, 2, 3]})
        client.post("/predict", json={"features": [1, 2]})
    stats = MLMetrics().model_stats("mean-default")
    assert stats["predictions"] - before == 1  # the 422 was refused before inference
