"""HTTP server metrics, operation durations, the router's instruments and the kernel bridge."""

from __future__ import annotations

import conduit_otel
from conduit_otel.instruments import router_metrics

import conduit.telemetry
from conduit.testing import TestClient

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


def test_request_duration_is_a_histogram_in_seconds_with_the_conventions_buckets(instrumented) -> None:
    t = instrumented()

    @t.app.get("/items/{item_id}")
    def item(request):
        return {"id": request.params["item_id"]}

    with TestClient(t.app) as client:
        client.get("/items/1")
        client.get("/items/2")
        client.get("/missing")
        metric = t.metrics()["http.server.request.duration"]
    assert metric.unit == "s"
    by_route = {p.attributes.get("http.route"): p for p in metric.data.data_points}
    point = by_route["/items/{item_id}"]
    assert tuple(point.explicit_bounds) == BUCKETS
    assert point.count == 2 and sum(point.bucket_counts) == 2
    assert 0 < point.sum < 10
    assert dict(point.attributes) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
    }
    assert dict(by_route[None].attributes) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "http.response.status_code": 404,
    }


def test_server_errors_carry_error_type_on_the_duration(instrumented) -> None:
    t = instrumented()

    @t.app.get("/fail")
    def fail(request):
        raise RuntimeError("no")

    with TestClient(t.app) as client:
        client.get("/fail")
        (point,) = t.points("http.server.request.duration")
    assert point.attributes["error.type"] == "RuntimeError"  # the exception's class, as the convention asks
    assert point.attributes["http.response.status_code"] == 500


def test_active_requests_counts_the_request_in_flight_and_returns_to_zero(instrumented) -> None:
    t = instrumented()
    during: list[int] = []

    @t.app.get("/slow")
    def slow(request):
        during.extend(p.value for p in t.points("http.server.active_requests"))
        return {}

    with TestClient(t.app) as client:
        client.get("/slow")
        after = t.points("http.server.active_requests")
    assert during == [1]
    assert [p.value for p in after] == [0]
    assert dict(after[0].attributes) == {"http.request.method": "GET", "url.scheme": "http"}
    assert t.metrics()["http.server.active_requests"].unit == "{request}"


def test_request_and_response_body_sizes_are_recorded_in_bytes(instrumented) -> None:
    t = instrumented()

    @t.app.post("/echo")
    def echo(request):
        return request.body

    with TestClient(t.app) as client:
        response = client.post("/echo", content=b"hello world")
        metrics = t.metrics()
    request_size = metrics["http.server.request.body.size"]
    response_size = metrics["http.server.response.body.size"]
    assert request_size.unit == response_size.unit == "By"
    assert request_size.data.data_points[0].sum == 11
    assert response_size.data.data_points[0].sum == len(response.content)


def test_kernel_span_blocks_are_timed_into_operation_duration(instrumented) -> None:
    t = instrumented()

    @t.app.get("/infer")
    def infer(request):
        with conduit.telemetry.span("inference", {"model": "m"}, pm=request.app.plugin_manager):
            pass
        return {}

    with TestClient(t.app) as client:
        client.get("/infer")
        client.get("/infer")
        (point,) = t.points("conduit.operation.duration")
    assert dict(point.attributes) == {"conduit.operation.name": "inference"}
    assert point.count == 2


def test_router_metrics_record_the_seed_instruments(instrumented) -> None:
    t = instrumented()
    with TestClient(t.app):
        router = router_metrics(t.app)
        assert router is conduit_otel.router_metrics()  # the last started app answers outside requests
        router.record_decision("gpt-4o-mini", "code", cost_usd=0.0004, latency_ms=812.0, confidence=0.91)
        router.record_decision("claude-haiku", "math", confidence=0.55)
        router.record_cache_hit()
        router.record_cache_miss(count=2)
        router.record_feedback("thumbs_up", source="explicit")
        metrics = t.metrics()
    decisions = {p.attributes["conduit.model"]: p.value for p in metrics["conduit.routing.decisions"].data.data_points}
    assert decisions == {"gpt-4o-mini": 1, "claude-haiku": 1}
    (cost,) = metrics["conduit.routing.cost"].data.data_points
    assert cost.sum == 0.0004 and metrics["conduit.routing.cost"].unit == "USD"
    assert dict(cost.attributes) == {"conduit.model": "gpt-4o-mini", "conduit.domain": "code"}
    assert metrics["conduit.routing.latency"].data.data_points[0].sum == 812.0
    assert sorted(p.sum for p in metrics["conduit.routing.confidence"].data.data_points) == [0.55, 0.91]
    assert metrics["conduit.cache.hits"].data.data_points[0].value == 1
    assert metrics["conduit.cache.misses"].data.data_points[0].value == 2
    (feedback,) = metrics["conduit.feedback.submissions"].data.data_points
    assert dict(feedback.attributes) == {"conduit.feedback.type": "thumbs_up", "conduit.feedback.source": "explicit"}


def test_router_metrics_without_an_enabled_app_drop_records_silently() -> None:
    recorder = router_metrics()
    recorder.record_decision("m", cost_usd=1.0, latency_ms=1.0, confidence=0.5)
    recorder.record_cache_hit()
    assert recorder is router_metrics()


def test_the_kernel_metrics_registry_is_bridged_through_observable_instruments(instrumented) -> None:
    t = instrumented()
    registry = t.kernel_metrics
    registry.increment_counter("predictions", 3, labels={"model": "a"})
    registry.set_gauge("queue_depth", 7)
    registry.observe_histogram("batch_seconds", 0.2)
    registry.record_cache_hit(4)
    registry.record_request(0.01, method="GET", route="/", status=200)  # what the kernel's own middleware records

    @t.app.get("/")
    def index(request):
        return {}

    with TestClient(t.app) as client:
        client.get("/")
        registry.increment_counter("late_total", 5)  # appears after start-up
        conduit_otel.telemetry(t.app).bridge.sync()
        metrics = t.metrics()
    point = metrics["conduit.kernel.predictions"].data.data_points[0]
    assert point.value == 3 and dict(point.attributes) == {"model": "a"}
    assert metrics["conduit.kernel.queue_depth"].data.data_points[0].value == 7
    assert metrics["conduit.kernel.batch_seconds.count"].data.data_points[0].value == 1
    assert metrics["conduit.kernel.batch_seconds.sum"].data.data_points[0].value == 0.2
    assert metrics["conduit.kernel.cache_hits"].data.data_points[0].value == 4
    assert metrics["conduit.kernel.late"].data.data_points[0].value == 5
    assert metrics["conduit.kernel.uptime"].data.data_points[0].value > 0
    # The registry's per-request families are measured natively, not bridged twice.
    assert not [name for name in metrics if name.startswith("conduit.kernel.http_")]


def test_body_size_metrics_can_be_turned_off_for_hot_endpoints(instrumented) -> None:
    t = instrumented(otel_body_size_metrics=False)

    @t.app.post("/echo")
    def echo(request):
        return request.body

    with TestClient(t.app) as client:
        client.post("/echo", content=b"hello")
        metrics = t.metrics()
    assert "http.server.request.duration" in metrics
    assert not {"http.server.request.body.size", "http.server.response.body.size"} & set(metrics)
