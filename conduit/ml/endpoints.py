"""model_endpoint: one call turns a model (or an InferenceEngine) into HTTP routes.

``model_endpoint(app, "/predict", model)`` adds

- ``POST /predict``: ``{"features": <one sample>}`` -> ``{"prediction": ..., "model": ...,
  "duration_ms": ...}``, or ``{"instances": [<sample>, ...]}`` -> ``{"predictions": [...]}``.
  Every sample goes through the engine, so concurrent requests share batches.
- ``POST /predict/stream``: ``{"instances": [...]}`` -> Server-Sent Events, one event per
  ``chunk_size`` predictions as they are computed, then ``event: end``; work stops when
  the client goes away.
- ``GET /predict/metadata``: the model's inputs, outputs, providers and the engine's counters.

Malformed input answers 422 naming the problem (and the server keeps serving), a full
queue 503 with Retry-After, a request that waits past ``timeout`` 504. Every request and
batch is recorded in ``metrics``: by default an :class:`conduit.framework.ml_metrics.MLMetrics`
on the process-wide metrics (``ml_inferences_total{model=...}`` ...); pass another object
with ``track_inference`` / ``track_batch_inference``, or ``metrics=False`` for none.
"""

from __future__ import annotations

import time
from typing import Any, TypedDict

from conduit.framework.errors import HTTPError, ValidationError
from conduit.ml.engine import InferenceEngine
from conduit.ml.streaming import StreamingInferenceEngine

__all__ = ["PredictRequest", "PredictResponse", "model_endpoint"]


class PredictRequest(TypedDict, total=False):
    """Either ``features`` (one sample: a list of numbers, a text, or {input: value}) or ``instances``."""

    features: Any
    instances: list[Any]


class PredictResponse(TypedDict, total=False):
    """``prediction`` for ``features``, ``predictions`` (one per instance) for ``instances``."""

    prediction: Any
    predictions: list[Any]
    model: str
    duration_ms: float


def _error_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_RESPONSES = {
    422: _error_doc("The input does not fit the model (the detail names the problem)"),
    503: _error_doc("Too many requests are queued for the model; retry after Retry-After seconds"),
    504: _error_doc("The prediction did not finish within the endpoint's timeout"),
}


def _samples(data: Any, max_instances: int, *, stream: bool = False) -> tuple[list[Any], bool]:
    """(samples, single) from the JSON body, or ValidationError naming what to send."""
    allowed = "'instances' (a list of samples)" if stream else "'features' (one sample) or 'instances' (a list of samples)"
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", f"send {{{allowed}}}; got a JSON {type(data).__name__}")
    if not stream and "features" in data and "instances" not in data:
        return [data["features"]], True
    if "instances" not in data:
        raise ValidationError("the body names no input", f"send {allowed}; got keys {sorted(data)}")
    instances = data["instances"]
    if not isinstance(instances, list) or not instances:
        raise ValidationError("'instances' must be a non-empty list of samples", f"got {type(instances).__name__}")
    if len(instances) > max_instances:
        raise ValidationError(
            f"too many instances in one request (limit {max_instances})", f"got {len(instances)}; split the request"
        )
    return instances, False


def _validated(engine: InferenceEngine, samples: list[Any]) -> None:
    validate = getattr(engine.model, "validate_input", None)
    if validate is None:
        return
    for index, sample in enumerate(samples):
        try:
            validate(sample)
        except ValidationError as exc:
            raise ValidationError(f"instance {index}: {exc.message}", exc.detail) from exc


def model_endpoint(
    app: Any,
    path: str,
    model: Any,
    *,
    name: str | None = None,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    max_queue: int = 1024,
    timeout: float | None = 30.0,
    max_instances: int = 1024,
    chunk_size: int = 100,
    stream: bool = True,
    metrics: Any = None,
    tags: tuple[str, ...] = ("ml",),
    summary: str | None = None,
) -> InferenceEngine:
    """Serve ``model`` (any object with ``predict``, or an :class:`InferenceEngine`) at ``path``.

    Returns the engine (created here unless one was given; then it is closed at app
    shutdown). ``stream=False`` leaves out ``{path}/stream``.
    """
    if isinstance(model, InferenceEngine):
        engine = model
    else:
        engine = InferenceEngine(
            model, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue, timeout=timeout, name=name
        )
        app.on_shutdown(engine.aclose)
    model_name = name or engine.name
    if metrics is None:
        from conduit.framework.ml_metrics import MLMetrics

        metrics = MLMetrics()  # the process-wide metrics that /metrics exposes
    elif metrics is False:
        metrics = None
    if metrics is not None and engine.on_batch is None and hasattr(metrics, "track_batch_inference"):
        engine.on_batch = lambda size, seconds: metrics.track_batch_inference(
            model_name=model_name, batch_size=size, duration=seconds
        )
    base = path.rstrip("/") or ""

    def track(started: float, success: bool) -> float:
        seconds = time.perf_counter() - started
        if metrics is not None and hasattr(metrics, "track_inference"):
            metrics.track_inference(model_name=model_name, duration=seconds, success=success)
        return seconds

    async def predict(request: Any) -> dict[str, Any]:
        samples, single = _samples(await request.json(), max_instances)
        if not single:
            _validated(engine, samples)
        started = time.perf_counter()
        try:
            if single:
                answer: dict[str, Any] = {"prediction": await engine.predict_async(samples[0])}
            else:
                answer = {"predictions": await engine.predict_many_async(samples)}
        except HTTPError as exc:
            if exc.status_code >= 500:  # a client's malformed sample is not a model failure
                track(started, False)
            raise
        except Exception:
            track(started, False)
            raise
        answer["model"] = model_name
        answer["duration_ms"] = round(track(started, True) * 1000, 3)
        return answer

    predict.__doc__ = summary or f"Predict with model {model_name!r}; concurrent requests are batched."
    app.add_route(
        path, predict, ["POST"], name=f"predict_{model_name}", summary=predict.__doc__, tags=tags,
        body=PredictRequest, response=PredictResponse, responses=dict(_RESPONSES),
    )

    async def metadata(request: Any) -> dict[str, Any]:
        describe = getattr(engine.model, "metadata", None)
        info: dict[str, Any] = describe() if callable(describe) else {"name": model_name}
        stats = engine.stats
        info["engine"] = {
            "max_batch_size": engine.max_batch_size,
            "max_wait_ms": engine.max_wait * 1000,
            "queued": engine.queue_depth,
            "requests": stats.requests,
            "batches": stats.batches,
            "mean_batch_size": round(stats.mean_batch_size, 3),
            "rejected": stats.rejected,
            "timeouts": stats.timeouts,
        }
        return info

    app.add_route(f"{base}/metadata", metadata, ["GET"], name=f"metadata_{model_name}", summary=f"Describe model {model_name!r}", tags=tags)

    if stream:
        streamer = StreamingInferenceEngine(engine.model, chunk_size=chunk_size)

        async def predict_stream(request: Any) -> Any:
            from conduit.http.response import EventSourceResponse

            samples, _ = _samples(await request.json(), max_instances, stream=True)
            _validated(engine, samples)

            async def events() -> Any:
                index = 0
                async for chunk in streamer.predict_stream_async(samples):
                    yield {"data": {"index": index, "predictions": chunk}, "event": "predictions"}
                    index += 1
                yield {"data": {"chunks": index, "count": len(samples)}, "event": "end"}

            return EventSourceResponse(events())

        app.add_route(
            f"{base}/stream", predict_stream, ["POST"], name=f"predict_stream_{model_name}",
            summary=f"Stream predictions of model {model_name!r} as Server-Sent Events", tags=tags,
            body=PredictRequest, responses={422: _RESPONSES[422]},
        )
    return engine
