"""The monitoring endpoints and middleware, served by a real app."""

from __future__ import annotations

import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conduit import hookimpl
from conduit.app import Conduit
from conduit.framework.monitoring import (
    HealthCheck,
    Metrics,
    _health_check,
    add_health_routes,
    add_metrics_routes,
    create_health_endpoint,
    logging_middleware,
    request_metrics_middleware,
)
from conduit.storage.redis import RedisStateStore
from conduit.testing import LiveServer, TestClient


def make_app(metrics: Metrics, health: HealthCheck, *plugins: object) -> Conduit:
    app = Conduit(plugins=[], extra_plugins=plugins)
    app.use(request_metrics_middleware(metrics))
    add_health_routes(app, health=health)
    add_metrics_routes(app, metrics=metrics)

    @app.get("/users/{id:int}")
    def user(request):
        return {"id": request.params["id"]}

    return app


def test_probes_live_ready_startup_and_503_naming_the_failing_check() -> None:
    health = HealthCheck()
    health.register_check("model", lambda: (True, "model loaded"), startup=True)
    health.register_check("db", lambda: (False, "database unreachable"))
    with TestClient(make_app(Metrics(), health)) as client:
        live = client.get("/health/live")
        ready = client.get("/health/ready")
        startup = client.get("/health/startup")
        overall = client.get("/health")
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["db"]
    assert ready.json()["checks"]["db"]["message"] == "database unreachable"
    assert ready.headers["cache-control"] == "no-store"
    assert startup.status_code == 200 and list(startup.json()["checks"]) == ["model"]
    assert overall.status_code == 503


def test_plugin_health_checks_run_on_the_readiness_probe() -> None:
    class Plugin:
        __conduit_name__ = "checks-plugin"

        @hookimpl
        def conduit_register_health_checks(self, register):
            register("vector-store", lambda: (False, "collection missing"))

    with TestClient(make_app(Metrics(), HealthCheck(), Plugin())) as client:
        ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["vector-store"]


def test_async_check_runs_on_the_apps_loop_with_a_real_redis(redis_url: str) -> None:
    health = HealthCheck()
    app = make_app(Metrics(), health)
    stores: list[RedisStateStore] = []

    @app.on_startup
    async def open_store() -> None:
        stores.append(RedisStateStore.from_url(redis_url))  # bound to the app's loop

    @app.on_shutdown
    async def close_store() -> None:
        await stores[0].close()

    async def redis_check() -> tuple[bool, str]:
        return await stores[0].ping(), "redis answers"

    health.register_check("redis", redis_check)
    with TestClient(app) as client:
        first = client.get("/health/ready")
        second = client.get("/health/ready")
    assert first.status_code == second.status_code == 200
    assert first.json()["checks"]["redis"]["message"] == "redis answers"


def test_seed_style_health_handler_uses_the_global_registry() -> None:
    app = Conduit(plugins=[])

    @app.get("/health")
    def health(req, res):
        return create_health_endpoint()(req, res)

    _health_check.register_check("seed-test-model", lambda: (True, "Model loaded"))
    try:
        with TestClient(app) as client:
            response = client.get("/health")
    finally:
        _health_check.unregister_check("seed-test-model")
    assert response.status_code == 200
    assert response.json()["checks"]["seed-test-model"]["message"] == "Model loaded"


def test_metrics_json_by_default_and_prometheus_by_query_or_accept() -> None:
    metrics = Metrics()
    with TestClient(make_app(metrics, HealthCheck())) as client:
        for i in range(3):
            assert client.get(f"/users/{i}").status_code == 200
        assert client.get("/nope").status_code == 404
        as_json = client.get("/v1/metrics")
        by_query = client.get("/metrics", params={"format": "prometheus"})
        by_accept = client.get("/metrics", headers={"Accept": "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"})
        json_accept = client.get("/metrics", headers={"Accept": "application/json"})
        bad = client.get("/metrics?format=xml")
    doc = as_json.json()
    assert doc["throughput"]["total_requests"] == 4
    assert doc["latency"]["samples"] == 4 and doc["latency"]["p99_ms"] > 0
    assert by_query.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert by_accept.headers["content-type"].startswith("text/plain")
    assert json_accept.headers["content-type"] == "application/json"
    assert bad.status_code == 400 and bad.json()["code"] == "bad_metrics_format"
    families = {f.name: f for f in text_string_to_metric_families(by_query.text)}
    counts = {
        (s.labels["route"], s.labels["status"]): s.value for s in families["conduit_http_requests"].samples
    }
    assert counts[("/users/{id:int}", "200")] == 3  # the route pattern, not the raw path
    assert counts[("<unmatched>", "404")] == 1


def test_plugin_metrics_appear_in_the_prometheus_output() -> None:
    class Plugin:
        __conduit_name__ = "metrics-plugin"

        @hookimpl
        def conduit_metrics(self, app):
            return [("router_decisions", "counter", {"model": "small"}, 12)]

    class AsyncPlugin:
        __conduit_name__ = "async-metrics-plugin"

        @hookimpl
        def conduit_metrics(self, app):
            async def collect():
                return [("queue_depth", "gauge", {}, 3)]

            return collect()

    with TestClient(make_app(Metrics(), HealthCheck(), Plugin(), AsyncPlugin())) as client:
        text = client.get("/metrics?format=prometheus").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["conduit_router_decisions"].samples[0].value == 12
    assert families["conduit_queue_depth"].samples[0].value == 3


def test_logging_middleware_logs_method_path_status_time_and_request_id(caplog: pytest.LogCaptureFixture) -> None:
    app = Conduit(plugins=[])
    app.use(logging_middleware())

    @app.get("/items")
    def items(request):
        return []

    with caplog.at_level(logging.INFO, logger="conduit.access"), TestClient(app) as client:
        client.get("/items?token=hunter2", headers={"X-Request-ID": "req-42"})
    (record,) = [r for r in caplog.records if r.name == "conduit.access"]
    message = record.getMessage()
    assert message.startswith("GET /items -> 200 in ")
    assert message.endswith("ms [request_id=req-42]")
    assert "hunter2" not in message
    assert record.http_status == 200 and record.duration_ms > 0


@pytest.mark.slow
def test_prometheus_scrape_over_a_real_socket() -> None:
    metrics = Metrics()
    app = make_app(metrics, HealthCheck())
    with LiveServer(app) as server:
        for i in range(5):
            httpx.get(f"{server.url}/users/{i}")
        scrape = httpx.get(
            f"{server.url}/metrics",
            headers={"Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"},
        )
    assert scrape.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
    hist = families["conduit_http_request_duration_seconds"]
    count = next(s for s in hist.samples if s.name.endswith("_count") and s.labels["route"] == "/users/{id:int}")
    assert count.value == 5


def _counted(metrics: Metrics, route: str, status: int, method: str = "GET") -> float:
    return metrics.get_counter("http_requests_total", {"method": method, "route": route, "status": str(status)})


def test_the_app_counts_every_request_into_its_request_metrics_outside_all_middleware() -> None:
    """With request_metrics set, the app counts each request itself: a middleware's own
    answer, an error, and a request no route matched are all counted once."""
    metrics = Metrics()
    app = Conduit(plugins=[], monitoring=False)
    app.request_metrics = metrics

    @app.use
    async def refuse_without_key(request, call_next):
        if request.headers.get("x-key") != "k":
            from conduit.http.response import HTTPResponse

            return HTTPResponse().json({"error": "no key"}, status_code=401)
        return await call_next(request)

    @app.get("/items/{id:int}")
    def item(request):
        if request.params["id"] == 0:
            raise RuntimeError("boom")
        return {"id": request.params["id"]}

    with TestClient(app) as client:
        statuses = [client.get(path, headers=headers).status_code for path, headers in [
            ("/items/1", {"x-key": "k"}), ("/items/2", {"x-key": "k"}), ("/items/0", {"x-key": "k"}),
            ("/items/1", {}), ("/nowhere", {"x-key": "k"})]]
    assert statuses == [200, 200, 500, 401, 404]
    assert [_counted(metrics, "/items/{id:int}", 200), _counted(metrics, "/items/{id:int}", 500),
            _counted(metrics, "/items/{id:int}", 401), _counted(metrics, "<unmatched>", 404)] == [2, 1, 1, 1]


def test_monitoring_on_counts_into_the_process_registry_and_off_counts_nothing() -> None:
    from conduit.framework.monitoring import kernel_metrics

    on, off = Conduit(plugins=[]), Conduit(plugins=[], monitoring=False)
    for app in (on, off):
        app.get("/ping")(lambda request: {"ok": True})
    before = _counted(kernel_metrics(), "/ping", 200)
    with TestClient(on) as client:
        client.get("/ping")
    with TestClient(off) as client:
        client.get("/ping")
    assert (on.request_metrics, off.request_metrics) == (kernel_metrics(), None)
    assert _counted(kernel_metrics(), "/ping", 200) - before == 1


def test_a_registry_set_before_start_replaces_the_process_one() -> None:
    mine = Metrics()
    app = Conduit(plugins=[])
    app.request_metrics = mine
    app.get("/ping")(lambda request: {"ok": True})
    with TestClient(app) as client:
        client.get("/ping")
    assert _counted(mine, "/ping", 200) == 1
