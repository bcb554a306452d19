"""A scikit-learn model trained here, converted to ONNX and served over HTTP through the batcher."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from conduit import Conduit
from conduit.framework.errors import ValidationError
from conduit.ml import InferenceEngine, load_model
from conduit.ml.endpoints import model_endpoint
from conduit.testing import LiveServer, TestClient


def _post(port: int, path: str, payload: Any) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(payload), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.slow
def test_64_concurrent_clients_over_real_sockets_each_get_scikit_learns_answer(onnx_pm, classifier) -> None:
    model = load_model(classifier.path, use_gpu=False)
    app = Conduit(plugins=[])
    engine = model_endpoint(app, "/predict", model, max_batch_size=16, max_wait_ms=10)
    rows = classifier.X[:64]
    expected = classifier.estimator.predict(rows).tolist()
    with LiveServer(app) as server, ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(lambda row: _post(server.port, "/predict", {"features": row.tolist()}), rows))
        status, bad = _post(server.port, "/predict", {"features": [1.0, 2.0]})
        after = _post(server.port, "/predict", {"features": rows[0].tolist()})
    assert [s for s, _ in answers] == [200] * 64
    assert [body["prediction"] for _, body in answers] == expected
    assert engine.stats.max_batch_size > 1, engine.stats.batch_sizes
    assert engine.stats.batches < 64
    assert status == 422 and bad["detail"] == "axis 1 of shape [?, 4] must have 4 values, got 2"
    assert after[0] == 200 and after[1]["prediction"] == expected[0]


def test_instances_and_stream_answer_like_scikit_learn(onnx_pm, regressor) -> None:
    model = load_model(regressor.path, use_gpu=False)
    app = Conduit(plugins=[])
    model_endpoint(app, "/regress", model, chunk_size=50)
    rows = regressor.X[:120]
    expected = regressor.estimator.predict(rows)
    with TestClient(app) as client:
        body = client.post("/regress", json={"instances": rows.tolist()}).json()
        stream = client.post("/regress/stream", json={"instances": rows.tolist()})
        meta = client.get("/regress/metadata").json()
    np.testing.assert_allclose(np.ravel(body["predictions"]), expected, rtol=1e-4, atol=1e-3)
    events = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: ")]
    assert [len(e["predictions"]) for e in events[:-1]] == [50, 50, 20]
    streamed = [p for e in events[:-1] for p in e["predictions"]]
    np.testing.assert_allclose(np.ravel(streamed), expected, rtol=1e-4, atol=1e-3)
    assert events[-1] == {"chunks": 3, "count": 120}
    assert meta["inputs"] == [{"name": "features", "dtype": "float32", "shape": [None, 6]}]
    assert meta["providers"] == ["CPUExecutionProvider"]


@pytest.mark.anyio
async def test_embedder_through_the_engine_with_length_buckets(onnx_pm) -> None:
    from conduit.ml import get_embedder

    embedder = get_embedder()
    texts = [f"sentence number {i} " + "word " * (i % 7) * 5 for i in range(40)]
    async with InferenceEngine(
        embedder, max_batch_size=16, max_wait_ms=10, bucket_key=lambda t: len(t.split())
    ) as engine:
        vectors = await engine.predict_many_async(texts)
        with pytest.raises(ValidationError, match="text to embed is empty"):
            await engine.predict_async("")
    alone = embedder.embed(texts)
    np.testing.assert_allclose(np.asarray(vectors), np.asarray(alone), atol=1e-4)
    assert engine.stats.max_batch_size > 1


def test_resilient_model_wraps_an_onnx_model_inside_the_engine(onnx_pm, classifier) -> None:
    from conduit.ml.resilience import ResilientMLModel

    resilient = ResilientMLModel(load_model(classifier.path, use_gpu=False), max_retries=2)
    rows = [r.tolist() for r in classifier.X[:12]]
    expected = classifier.estimator.predict(classifier.X[:12]).tolist()
    assert resilient.predict(rows) == expected
    with InferenceEngine(resilient, max_batch_size=4) as engine:
        assert [engine.predict(r) for r in rows] == expected
        with pytest.raises(ValidationError):  # a 4xx passes through, never retried or hidden
            engine.predict([1.0])
    assert resilient.circuit_breaker.state == "closed"
