"""model_endpoint: one call turns a model (or an InferenceEngine) into HTTP routes.

``model_endpoint(app, "/predict", model)`` adds

- ``POST /predict``: ``{"features": <one sample>}`` -> ``{"prediction": ..., "model": ...,
  "duration_ms": ...}``, or ``{"instances": [<sample>, ...]}`` -> ``{"predictions": [...]}``.
  Every sample goes through the engine, so concurrent requests share batches.
- ``POST /predict/stream``: ``{"instances": [...]}`` -> Server-Sent Events, one event per
  ``chunk_size`` predictions as they are computed, then ``event: end``; work stops when
  the client goes away.
- ``GET /predict/metadata``: the model's inputs, outputs, providers and the engine's counters.

The request body is declared exactly in OpenAPI: one of ``features`` or ``instances``, no
other key, each sample shaped by ``sample_schema`` (by default derived from the model: its
``input_schema()``, else the ``inputs`` its ``metadata()`` lists as ``{name, dtype, shape}``,
as conduit-onnx's models do). Malformed input answers 422 naming the problem (and the server keeps serving), a full
queue 503 with Retry-After, a request that waits past ``timeout`` 504. Every request and
batch is recorded in ``metrics``: by default an :class:`conduit.framework.ml_metrics.MLMetrics`
on the process-wide metrics (``ml_inferences_total{model=...}`` ...); pass another object
with ``track_inference`` / ``track_batch_inference``, or ``metrics=False`` for none.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, TypedDict

from conduit.framework.errors import HTTPError, ValidationError
from conduit.ml.engine import InferenceEngine
from conduit.ml.streaming import StreamingInferenceEngine

__all__ = ["PredictRequest", "PredictResponse", "model_endpoint", "sample_schema_of"]


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

# JSON bounds of each tensor element type (what numpy converts without overflow).
_FLOAT_MAX = {"float16": 65504.0, "float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}
_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_UINT_BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}


def _element_schema(dtype: str) -> dict[str, Any]:
    if dtype in _FLOAT_MAX:
        return {"type": "number", "minimum": -_FLOAT_MAX[dtype], "maximum": _FLOAT_MAX[dtype]}
    if dtype in _INT_BITS:
        bits = _INT_BITS[dtype]
        return {"type": "integer", "minimum": -(2 ** (bits - 1)), "maximum": 2 ** (bits - 1) - 1}
    if dtype in _UINT_BITS:
        return {"type": "integer", "minimum": 0, "maximum": 2 ** _UINT_BITS[dtype] - 1}
    if dtype == "bool":
        return {"type": "boolean"}
    if dtype == "str":
        return {"type": "string"}
    return {}


def _tensor_row_schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One sample of a ``{name, dtype, shape}`` input: nested arrays of the shape without its batch axis."""
    shape = spec.get("shape")
    if not isinstance(shape, (list, tuple)) or not shape:
        return {}  # shape unknown: anything the model takes
    schema = _element_schema(str(spec.get("dtype", "")))
    for dim in reversed(list(shape)[1:]):
        if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0:
            schema = {"type": "array", "items": schema, "minItems": dim, "maxItems": dim}
        else:  # a dynamic axis: any length but 0 (an empty axis is refused)
            schema = {"type": "array", "items": schema, "minItems": 1}
    return schema


def sample_schema_of(model: Any) -> dict[str, Any]:
    """The JSON Schema of one sample ``model`` takes, as far as the model says (``{}``: unknown).

    From ``model.input_schema()`` when the model has it; else from the ``inputs`` of
    ``model.metadata()`` (``[{"name", "dtype", "shape"}]``, the batch axis first): one input
    gives its row's nested arrays, several an object with each input by name.
    """
    own = getattr(model, "input_schema", None)
    if callable(own):
        return dict(own())
    describe = getattr(model, "metadata", None)
    try:
        inputs = describe().get("inputs") if callable(describe) else None
    except Exception:  # noqa: BLE001 - a model whose metadata fails still serves, undescribed
        return {}
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, Mapping) and "name" in i for i in inputs):
        return {}
    if len(inputs) == 1:
        return _tensor_row_schema(inputs[0])
    return {"type": "object", "properties": {str(i["name"]): _tensor_row_schema(i) for i in inputs},
            "required": [str(i["name"]) for i in inputs], "additionalProperties": False}


def _request_schema(sample: Mapping[str, Any], max_instances: int, *, stream: bool) -> dict[str, Any]:
    instances = {"type": "array", "items": dict(sample), "minItems": 1, "maxItems": max_instances,
                 "description": f"1 to {max_instances} samples, predicted together"}
    batch = {"type": "object", "properties": {"instances": instances}, "required": ["instances"],
             "additionalProperties": False}
    if stream:
        return {**batch, "description": "The samples to predict, streamed back in chunks"}
    one = {"type": "object", "properties": {"features": {**sample, "description": "one sample"}},
           "required": ["features"], "additionalProperties": False}
    return {"description": "Either one sample (features) or a batch (instances), not both", "oneOf": [one, batch]}


def _response_schema() -> dict[str, Any]:
    common = {"model": {"type": "string"}, "duration_ms": {"type": "number", "minimum": 0}}
    return {"oneOf": [
        {"type": "object", "properties": {"prediction": {}, **common}, "required": ["prediction", "model", "duration_ms"]},
        {"type": "object", "properties": {"predictions": {"type": "array"}, **common},
         "required": ["predictions", "model", "duration_ms"]},
    ]}


def _event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["event", "data"], "properties": {
        "event": {"const": name},
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data}}}


# One Server-Sent Event of {path}/stream (OpenAPI 3.1: ``schema`` describes each event).
_EVENT_SCHEMA = {"oneOf": [
    _event("predictions", {"type": "object", "required": ["index", "predictions"], "properties": {
        "index": {"type": "integer", "minimum": 0}, "predictions": {"type": "array"}}}),
    _event("end", {"type": "object", "required": ["chunks", "count"], "properties": {
        "chunks": {"type": "integer", "minimum": 0}, "count": {"type": "integer", "minimum": 1}}}),
]}


def _samples(data: Any, max_instances: int, *, stream: bool = False) -> tuple[list[Any], bool]:
    """(samples, single) from the JSON body, or ValidationError naming what to send."""
    allowed = "'instances' (a list of samples)" if stream else "'features' (one sample) or 'instances' (a list of samples)"
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", f"send {{{allowed}}}; got a JSON {type(data).__name__}")
    known = {"instances"} if stream else {"features", "instances"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(map(repr, unknown))}", f"send only {allowed}")
    if "features" in data and "instances" in data:
        raise ValidationError("send 'features' or 'instances', not both", "one sample as features, a batch as instances")
    if "features" in data:
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
    sample_schema: Mapping[str, Any] | None = None,
) -> InferenceEngine:
    """Serve ``model`` (any object with ``predict``, or an :class:`InferenceEngine`) at ``path``.

    Returns the engine (created here unless one was given; then it is closed at app
    shutdown). ``stream=False`` leaves out ``{path}/stream``. ``sample_schema``: the JSON
    Schema of one sample in the OpenAPI document (default: :func:`sample_schema_of` the model).
    """
    if isinstance(model, InferenceEngine):
        engine = model
    else:
        engine = InferenceEngine(
            model, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue, timeout=timeout, name=name
        )
        app.on_shutdown(engine.aclose)
    model_name = name or engine.name
    sample = dict(sample_schema) if sample_schema is not None else sample_schema_of(engine.model)
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
        body=_request_schema(sample, max_instances, stream=False), response=_response_schema(),
        responses=dict(_RESPONSES),
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

    app.add_route(f"{base}/metadata", metadata, ["GET"], name=f"metadata_{model_name}",
                  summary=f"Describe model {model_name!r}", tags=tags)

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
            body=_request_schema(sample, max_instances, stream=True),
            responses={200: {"description": "Server-Sent Events: 'predictions' events ({index, predictions}), then "
                                            "'end' ({chunks, count})",
                             "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}}},
                       422: _RESPONSES[422]},
        )
    return engine
