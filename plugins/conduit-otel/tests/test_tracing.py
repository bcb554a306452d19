"""Server spans with the stable HTTP conventions, W3C context, child spans and @traced."""

from __future__ import annotations

import conduit_otel
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import conduit.telemetry
from conduit import HTTPResponse
from conduit.http.response import StreamingResponse
from conduit.testing import TestClient

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def test_server_span_is_named_for_the_route_template_with_the_stable_http_attributes(instrumented) -> None:
    t = instrumented()

    @t.app.get("/users/{user_id:int}")
    def user(request):
        return {"id": request.params["user_id"]}

    with TestClient(t.app, client=("10.1.2.3", 40000)) as client:
        response = client.get("/users/42?verbose=1", headers={"host": "api.example:8080", "user-agent": "probe/1.0"})
    assert response.status_code == 200
    span = t.span("GET /users/{user_id}")
    assert span.kind is SpanKind.SERVER
    assert dict(span.attributes) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/users/42",
        "url.query": "verbose=1",
        "http.route": "/users/{user_id}",
        "http.response.status_code": 200,
        "server.address": "api.example",
        "server.port": 8080,
        "client.address": "10.1.2.3",
        "user_agent.original": "probe/1.0",
        "network.protocol.version": "1.1",
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    assert span.resource.attributes["service.name"] == "conduit"


def test_colon_parameters_give_the_same_template(instrumented) -> None:
    t = instrumented()

    @t.app.get("/items/:item")
    def item(request):
        return {}

    with TestClient(t.app) as client:
        client.get("/items/7")
    assert t.span("GET /items/{item}").attributes["http.route"] == "/items/{item}"


def test_a_request_no_route_matched_is_named_by_its_method_and_is_not_an_error(instrumented) -> None:
    t = instrumented()
    with TestClient(t.app) as client:
        assert client.get("/nowhere").status_code == 404
    span = t.span("GET")
    assert "http.route" not in span.attributes
    assert span.attributes["http.response.status_code"] == 404
    assert "error.type" not in span.attributes
    assert span.status.status_code is StatusCode.UNSET


def test_an_unknown_method_is_recorded_as_other(instrumented) -> None:
    t = instrumented()
    with TestClient(t.app) as client:
        client.request("BREW", "/pot")
    span = t.span("HTTP")
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "BREW"


def test_a_5xx_without_an_exception_has_the_status_as_error_type(instrumented) -> None:
    t = instrumented()

    @t.app.get("/unavailable")
    def unavailable(request):
        return HTTPResponse(503).json({"busy": True})

    with TestClient(t.app) as client:
        assert client.get("/unavailable").status_code == 503
    assert t.span("GET /unavailable").attributes["error.type"] == "503"


def test_a_failing_handler_gives_status_error_and_error_type(instrumented) -> None:
    t = instrumented()

    @t.app.get("/boom")
    def boom(request):
        raise RuntimeError("disk on fire")

    with TestClient(t.app) as client:
        assert client.get("/boom").status_code == 500
    span = t.span("GET /boom")
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
    assert span.status.status_code is StatusCode.ERROR


def test_traceparent_continues_the_callers_trace_and_keeps_tracestate(instrumented) -> None:
    t = instrumented()

    @t.app.get("/hello")
    async def hello(request):
        return {"ok": True}

    with TestClient(t.app) as client:
        client.get("/hello", headers={"traceparent": TRACEPARENT, "tracestate": "vendor=abc"})
        client.get("/hello")
    continued, fresh = t.finished()
    assert f"{continued.context.trace_id:032x}" == TRACE_ID
    assert continued.parent is not None and continued.parent.is_remote
    assert f"{continued.parent.span_id:016x}" == PARENT_ID
    assert continued.context.trace_state.get("vendor") == "abc"
    assert f"{fresh.context.trace_id:032x}" != TRACE_ID and fresh.parent is None


def test_kernel_span_seam_opens_a_child_of_the_server_span(instrumented) -> None:
    t = instrumented()

    @t.app.post("/predict")
    def predict(request):
        # The default (process-wide) plugin manager, as kernel facades call it.
        with conduit.telemetry.span("inference", {"model": "tiny", "batch": 2, "shape": (1, 4)}):
            pass
        with pytest.raises(ValueError):
            with conduit.telemetry.span("vector.search", {"k": 3}, pm=request.app.plugin_manager):
                raise ValueError("bad query")
        return {"ok": True}

    with TestClient(t.app) as client:
        client.post("/predict", json={"x": 1})
    server = t.span("POST /predict")
    inference = t.span("inference")
    search = t.span("vector.search")
    for child in (inference, search):
        assert child.kind is SpanKind.INTERNAL
        assert child.parent.span_id == server.context.span_id
        assert child.context.trace_id == server.context.trace_id
    assert dict(inference.attributes) == {"model": "tiny", "batch": 2, "shape": (1, 4)}
    assert search.status.status_code is StatusCode.ERROR
    assert search.attributes["error.type"] == "ValueError"
    assert [e.name for e in search.events] == ["exception"]
    assert server.status.status_code is StatusCode.UNSET


def test_traced_decorator_wraps_sync_and_async_functions_in_child_spans(instrumented) -> None:
    t = instrumented()

    @conduit_otel.traced
    def tokenize(text: str) -> list[str]:
        return text.split()

    @conduit_otel.traced(name="llm.generate", attributes={"llm.vendor": "local"})
    async def generate(prompt: str) -> str:
        return prompt.upper()

    @conduit_otel.traced
    def explode() -> None:
        raise KeyError("missing")

    @t.app.get("/run")
    async def run(request):
        words = tokenize("a b c")
        text = await generate("hi")
        try:
            explode()
        except KeyError:
            pass
        return {"words": words, "text": text}

    assert tokenize("outside any app") == ["outside", "any", "app"]  # no runtime: straight through
    with TestClient(t.app) as client:
        assert client.get("/run").json() == {"words": ["a", "b", "c"], "text": "HI"}
    server = t.span("GET /run")
    tokenize_span = t.span(f"{__name__}.test_traced_decorator_wraps_sync_and_async_functions_in_child_spans.<locals>.tokenize")
    generate_span = t.span("llm.generate")
    failed = [s for s in t.finished() if s.name.endswith(".explode")]
    assert tokenize_span.parent.span_id == server.context.span_id
    assert generate_span.parent.span_id == server.context.span_id
    assert generate_span.attributes["llm.vendor"] == "local"
    assert failed[0].attributes["error.type"] == "KeyError" and failed[0].status.status_code is StatusCode.ERROR
    assert len(t.finished()) == 4


def test_traced_refuses_generators_with_advice() -> None:
    with pytest.raises(TypeError, match="conduit.telemetry.span"):

        @conduit_otel.traced
        def numbers():
            yield 1


def test_inject_puts_the_current_span_on_outgoing_headers(instrumented) -> None:
    t = instrumented()

    @t.app.get("/call")
    def call(request):
        return conduit_otel.inject({"accept": "application/json"})

    with TestClient(t.app) as client:
        sent = client.get("/call", headers={"traceparent": TRACEPARENT}).json()
    server = t.span("GET /call")
    assert sent["accept"] == "application/json"
    assert sent["traceparent"] == f"00-{TRACE_ID}-{server.context.span_id:016x}-01"
    assert conduit_otel.inject() == {}  # no current span, nothing to propagate


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_streamed_response_span_ends_after_its_last_chunk(instrumented, kind) -> None:
    t = instrumented()
    seen: list[int] = []
    parts = (b"alpha,", "beta,", b"gamma")

    def sync_body():
        for part in parts:
            seen.append(len(t.finished()))  # the server span is still open while sending
            yield part

    async def async_body():
        for part in sync_body():
            yield part

    @t.app.get("/stream")
    async def stream(request):
        return StreamingResponse(async_body() if kind == "async" else sync_body(), media_type="text/plain")

    with TestClient(t.app) as client:
        assert client.get("/stream").content == b"alpha,beta,gamma"
        sizes = t.points("http.server.response.body.size")
    assert seen == [0, 0, 0]
    assert t.span("GET /stream").attributes["http.response.status_code"] == 200
    assert sizes[0].sum == len(b"alpha,beta,gamma")



@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_streamed_response_that_fails_midway_ends_its_span_with_the_error(instrumented, kind) -> None:
    t = instrumented()

    def sync_body():
        yield b"alpha,"
        raise LookupError("gone")

    async def async_body():
        for part in sync_body():
            yield part

    @t.app.get("/stream")
    async def stream(request):
        return StreamingResponse(async_body() if kind == "async" else sync_body(), media_type="text/plain")

    with TestClient(t.app) as client, pytest.raises(LookupError):
        client.get("/stream")
    span = t.span("GET /stream")
    assert span.attributes["error.type"] == "LookupError"
    assert span.status.status_code.name == "ERROR"

def test_health_and_metrics_paths_are_left_alone_by_default(instrumented) -> None:
    t = instrumented()
    for path in ("/health", "/health/ready", "/metrics", "/v1/metrics"):
        t.app.get(path)(lambda request: HTTPResponse(200, "ok"))
    with TestClient(t.app) as client:
        for path in ("/health", "/health/ready", "/metrics", "/v1/metrics"):
            assert client.get(path).status_code == 200
        durations = t.points("http.server.request.duration")
    assert t.finished() == []
    assert durations == []


def test_excluded_paths_come_from_the_otel_excluded_paths_setting(instrumented) -> None:
    t = instrumented(otel_excluded_paths=["/internal/*"])

    @t.app.get("/internal/{name}")
    def internal(request):
        return {}

    @t.app.get("/health")
    def health(request):
        return {}

    with TestClient(t.app) as client:
        client.get("/internal/debug")
        client.get("/health")
    assert [s.name for s in t.finished()] == ["GET /health"]


def test_excluded_urls_follow_otel_python_excluded_urls(instrumented) -> None:
    t = instrumented({"OTEL_PYTHON_EXCLUDED_URLS": r"ping,/static/.*\.css"})
    for path in ("/ping", "/static/{name}", "/work"):
        t.app.get(path)(lambda request: {})
    with TestClient(t.app) as client:
        for path in ("/ping", "/static/a.css", "/static/a.js", "/work"):
            client.get(path)
    assert sorted(s.attributes["url.path"] for s in t.finished()) == ["/static/a.js", "/work"]


def test_a_sampled_out_request_has_no_span_but_is_still_measured(instrumented) -> None:
    t = instrumented({"OTEL_TRACES_SAMPLER": "always_off"})
    t.app.get("/")(lambda request: {})
    with TestClient(t.app) as client:
        client.get("/")
        (point,) = t.points("http.server.request.duration")
    assert t.finished() == []
    assert point.count == 1


def test_the_default_sampler_records_roots_and_follows_a_callers_not_sampled_flag(instrumented) -> None:
    t = instrumented()  # no OTEL_TRACES_SAMPLER: the specification's parentbased_always_on
    t.app.get("/")(lambda request: {})
    with TestClient(t.app) as client:
        client.get("/")
        client.get("/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
        (point,) = t.points("http.server.request.duration")
    (root,) = t.finished()
    assert root.parent is None
    assert point.count == 2


def test_parentbased_traceidratio_samples_roots_by_the_ratio_and_callers_by_their_flag(instrumented) -> None:
    never = instrumented({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"})
    always = instrumented({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"})
    for t in (never, always):
        t.app.get("/")(lambda request: {})
        with TestClient(t.app) as client:
            client.get("/")
            client.get("/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
            client.get("/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
            (point,) = t.points("http.server.request.duration")
        assert point.count == 3  # every request is measured, sampled or not
    (continued,) = never.finished()  # ratio 0: only the caller that sampled its trace
    assert f"{continued.context.trace_id:032x}" == TRACE_ID and continued.parent.is_remote
    root, continued = always.finished()  # ratio 1: every root, not the caller that did not sample
    assert root.parent is None and continued.parent is not None


def test_a_quarter_ratio_samples_about_a_quarter_of_the_roots(instrumented) -> None:
    t = instrumented({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    t.app.get("/")(lambda request: {})
    with TestClient(t.app) as client:
        for _ in range(400):
            client.get("/")
    # Binomial(400, 0.25): mean 100, standard deviation 8.7; 50..150 is beyond 5.7 of them.
    assert 50 <= len(t.finished()) <= 150


def test_a_sampled_out_request_still_propagates_its_trace_and_opens_no_child_spans(instrumented) -> None:
    t = instrumented({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"})

    @t.app.get("/call")
    def call(request):
        with conduit.telemetry.span("inference", {"model": "m"}, pm=request.app.plugin_manager):
            pass
        return conduit_otel.inject({})

    with TestClient(t.app) as client:
        sent = client.get("/call", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"}).json()
        (timed,) = t.points("conduit.operation.duration")
    assert t.finished() == []
    # The caller's trace and its not-sampled decision travel on, with a span id of this hop.
    version, trace_id, span_id, flags = sent["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "00") and span_id != PARENT_ID
    assert timed.count == 1


def test_requests_that_share_a_route_keep_their_own_host_and_status(instrumented, monkeypatch) -> None:
    from conduit_otel import middleware

    monkeypatch.setattr(middleware, "_MAX_SHAPES", 2)  # past the cache bound, attributes are computed per request
    t = instrumented()

    @t.app.get("/items/{item_id}")
    def item(request):
        return HTTPResponse(503 if request.params["item_id"] == "down" else 200).json({})

    hosts = ["a.example:8001", "b.example", "c.example:8003", "a.example:8001"]
    with TestClient(t.app) as client:
        for host in hosts:
            client.get("/items/1", headers={"host": host})
        client.get("/items/down", headers={"host": "a.example:8001"})
        points = t.points("http.server.request.duration")
    spans = t.finished()
    assert [(s.attributes["server.address"], s.attributes["server.port"]) for s in spans] == [
        ("a.example", 8001), ("b.example", 80), ("c.example", 8003), ("a.example", 8001), ("a.example", 8001),
    ]
    assert [s.attributes["http.response.status_code"] for s in spans] == [200, 200, 200, 200, 503]
    by_status = {p.attributes["http.response.status_code"]: (p.count, p.attributes.get("error.type")) for p in points}
    assert by_status == {200: (4, None), 503: (1, "503")}
