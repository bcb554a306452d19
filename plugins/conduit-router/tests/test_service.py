"""The /v1 service added by the plugin's route hook: every endpoint, bad input to each, the
official `openai` client against /v1/chat/completions (plain and streamed), /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conduit_router.standin import Fault, StandIn

from conduit import Conduit
from conduit.framework.errors import ConfigurationError
from conduit.testing import LiveServer, TestClient


@pytest.fixture
def app(standin: StandIn, tmp_path: Path) -> Conduit:
    standin.reset()
    return Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url,
                   router_max_retries=0, router_history=f"sqlite:///{tmp_path / 'history.db'}")


@pytest.fixture
def client(app: Conduit) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def test_route_feedback_stats_and_models(client: TestClient) -> None:
    r = client.post("/v1/route", json={"text": "Write a Python function that parses a CSV file", "user_id": "ada",
                                       "constraints": {"allowed_models": ["gpt-4o-mini", "gpt-4o"]}})
    assert r.status_code == 200, r.text
    decision = r.json()
    assert decision["selected_model"] in ("gpt-4o-mini", "gpt-4o")
    assert decision["features"]["domain"] == "code" and 0 <= decision["confidence"] <= 1
    assert set(decision["excluded"]) == {"claude-3-5-haiku-latest", "claude-sonnet-4-0", "gemini-2.0-flash",
                                         "llama-3.1-8b-instant"}
    r = client.post("/v1/feedback", json={"query_id": decision["query_id"], "thumbs": "up", "latency_ms": 800})
    assert r.status_code == 200 and r.json()["reward"] == 1.0 and r.json()["accepted"] is True
    r = client.post("/v1/feedback", json={"query_id": decision["query_id"], "rating": 3})
    assert r.status_code == 409 and "already recorded" in r.json()["detail"]
    stats = client.get("/v1/stats").json()
    assert stats["decisions"] == 1 and stats["models"][decision["selected_model"]]["observations"] == 1
    models = client.get("/v1/models").json()
    ids = [m["id"] for m in models["data"]]
    assert ids[0] == "auto" and "gpt-4o" in ids and models["object"] == "list"


def test_complete_answers_through_the_standin_and_falls_back(client: TestClient, standin: StandIn) -> None:
    standin.set_default("gpt-4o-mini", Fault.server_error(500))
    r = client.post("/v1/complete", json={"text": "hello", "max_tokens": 50,
                                          "constraints": {"allowed_models": ["gpt-4o-mini"]}})
    assert r.status_code == 503 and r.json()["code"] == "all_models_failed" and "gpt-4o-mini" in r.json()["detail"]
    r = client.post("/v1/complete", json={"text": "hello", "constraints": {"allowed_models": ["gpt-4o-mini", "gpt-4o"]}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "gpt-4o" and body["text"].startswith("[gpt-4o] ")
    assert body["usage"]["total_tokens"] > 0 and body["cost"] > 0


def test_feedback_with_the_answers_length_teaches_the_answer_length(client: TestClient) -> None:
    decision = client.post("/v1/route", json={"text": "Write a Python function that parses a CSV file"}).json()
    r = client.post("/v1/feedback", json={"query_id": decision["query_id"], "output_tokens": 900})
    assert r.status_code == 200, r.text
    lengths = client.get("/v1/stats").json()["answer_lengths"]
    assert lengths[decision["selected_model"]]["answers"] == 1


BAD = [
    ("/v1/route", [1, 2], 400, "JSON object"),
    ("/v1/route", {}, 400, "text"),
    ("/v1/route", {"text": ""}, 400, "empty"),
    ("/v1/route", {"text": 42}, 400, "text"),
    ("/v1/route", {"text": "hi", "constraints": {"max_cost": -1}}, 400, "max_cost"),
    ("/v1/route", {"text": "hi", "constraints": {"allowed_models": ["gpt-9"]}}, 404, "gpt-9"),
    ("/v1/route", {"text": "hi", "constraints": {"max_cost": 1e-12}}, 422, "max_cost"),
    ("/v1/route", {"text": "hi", "colour": "blue"}, 400, "colour"),
    ("/v1/complete", {"text": "hi", "temperature": 3}, 400, "temperature"),
    ("/v1/complete", {"text": "hi", "max_tokens": 0}, 400, "max_tokens"),
    ("/v1/complete", {"text": "hi", "messages": "hi"}, 400, "messages"),
    ("/v1/complete", {"text": "hi", "messages": [{"role": "bot", "content": "x"}]}, 400, "role"),
    ("/v1/feedback", {}, 400, "query_id"),
    ("/v1/feedback", {"query_id": "nope", "quality": 1}, 404, "nope"),
    ("/v1/feedback", {"query_id": "nope", "quality": 7}, 400, "quality"),
    ("/v1/feedback", {"query_id": "nope", "thumbs": "sideways"}, 400, "thumbs"),
    ("/v1/feedback", {"query_id": "nope", "rating": 9}, 400, "rating"),
    ("/v1/feedback", {"query_id": "nope", "output_tokens": -3}, 400, "output_tokens"),
    ("/v1/feedback", {"query_id": "nope", "output_tokens": "many"}, 400, "output_tokens"),
    ("/v1/route", {"text": "hi", "constraints": {"min_relative_quality": 0}}, 400, "min_relative_quality"),
    ("/v1/route", {"text": "hi", "constraints": {"min_relative_quality": 1.5}}, 400, "must be a number in (0, 1]"),
    ("/v1/route", {"text": "hi", "constraints": {"min_relative_quality": "high"}}, 400, "min_relative_quality"),
    ("/v1/route", {"text": "hi", "constraints": {"min_relative_quality": True}}, 400, "min_relative_quality"),
    ("/v1/complete", {"text": "hi", "constraints": {"min_relative_quality": -1}}, 400, "min_relative_quality"),
]


@pytest.mark.parametrize("path, body, status, reason", BAD)
def test_bad_input_gets_a_4xx_naming_the_problem(client: TestClient, path: str, body: object, status: int,
                                                 reason: str) -> None:
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert reason in r.text
    assert "Traceback" not in r.text and "/work/" not in r.text


def test_feedback_without_a_signal_and_invalid_json_are_400(client: TestClient) -> None:
    decision = client.post("/v1/route", json={"text": "hi"}).json()
    r = client.post("/v1/feedback", json={"query_id": decision["query_id"]})
    assert r.status_code == 400 and "at least one of" in r.json()["detail"]
    r = client.post("/v1/route", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert client.get("/v1/route").status_code == 405


@pytest.mark.parametrize("body, status, reason", [
    ({"model": "auto", "messages": []}, 400, "messages"),
    ({"model": "auto", "messages": [{"role": "system", "content": "x"}]}, 400, "user message"),
    ({"model": "auto", "messages": [{"role": "user", "content": "hi"}], "temperature": 9}, 400, "temperature"),
    ({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}, 404, "gpt-9"),
    ({"model": "auto", "messages": [{"role": "user", "content": "hi"}], "constraints": {"min_quality": 3}}, 400,
     "min_quality"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
      "constraints": {"min_relative_quality": 2}}, 400, "min_relative_quality"),
    ("not an object", 400, "JSON object"),
])
def test_chat_completions_rejects_bad_input_in_openai_error_format(client: TestClient, body: object, status: int,
                                                                   reason: str) -> None:
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert reason in error["message"] and error["type"]


def test_route_accepts_a_relative_quality_target_and_stats_count_it(client: TestClient) -> None:
    r = client.post("/v1/route", json={"text": "Write a Python function that parses a CSV file",
                                       "constraints": {"min_relative_quality": 0.95}})
    assert r.status_code == 200, r.text
    assert "within 95% of the best sampled quality" in r.json()["reasoning"]
    stats = client.get("/v1/stats").json()
    assert stats["rule"] == "weighted" and stats["decisions_with_quality_target"] == 1


def test_the_quality_target_objective_comes_from_settings(standin: StandIn) -> None:
    app = Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url,
                  router_objective="value", router_history="none")
    with TestClient(app) as c:
        assert "within 95%" in c.post("/v1/route", json={"text": "What is 2+2?"}).json()["reasoning"]
        assert c.get("/v1/stats").json()["objective"]["quality_target"] == 0.95
    bad = Conduit(plugins=["router"], router_embedder="hash", router_objective="quality_target=2", router_history="none")
    with pytest.raises(ConfigurationError, match=r"router_objective.*quality_target must be a number in \(0, 1\]"):
        bad.prepare()


def test_routing_metrics_reach_the_metrics_endpoint(client: TestClient) -> None:
    client.post("/v1/route", json={"text": "hi", "constraints": {"allowed_models": ["gpt-4o"]}})
    text = client.get("/metrics?format=prometheus").text
    assert 'conduit_router_decisions_total{model="gpt-4o",provider="openai"} 1' in text


def test_the_service_can_be_turned_off_or_moved(standin: StandIn) -> None:
    with TestClient(Conduit(plugins=["router"], router_service=False)) as off:
        assert off.post("/v1/route", json={"text": "hi"}).status_code == 404
    with TestClient(Conduit(plugins=["router"], router_prefix="/llm", router_embedder="hash",
                            router_history="none")) as moved:
        assert moved.post("/llm/route", json={"text": "hi"}).status_code == 200


@pytest.mark.slow
def test_the_official_openai_client_uses_the_router_unchanged(app: Conduit, standin: StandIn) -> None:
    import openai

    with LiveServer(app) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "What is 2+2?"}],
                                               max_tokens=50, temperature=0.2)
        assert reply.choices[0].message.content.startswith(f"[{reply.model}] ")
        assert reply.usage is not None and reply.usage.total_tokens > 0
        query_id = reply.id.removeprefix("chatcmpl-")
        r = httpx.post(server.url + "/v1/feedback", json={"query_id": query_id, "rating": 5})
        assert r.status_code == 200 and r.json()["model"] == reply.model

        pinned = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert pinned.model == "gpt-4o"

        stream = client.chat.completions.create(model="auto", stream=True, stream_options={"include_usage": True},
                                                messages=[{"role": "user", "content": "Tell me a short story"}])
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.startswith(f"[{chunks[0].model}] This is the stand-in's answer")
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
        assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 5

        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.BadRequestError, match="temperature"):
            client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], temperature=7)


def test_graded_quality_over_http_lowers_the_feedback_noise_in_stats(app: Conduit) -> None:
    # A judge's scores (0..1, varying little around each model's level) sent to /v1/feedback
    # over a socket: /v1/stats reports the noise the router learned from them, under the 0.3
    # it starts from. Thumbs would leave it at 0.3 (test_noise.py).
    texts = ["Write a Python function that parses a CSV file", "What is the capital of Peru?",
             "Solve for x: 3x + 3 = 12", "Explain why the sky is blue"]
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/v1/stats").json()["feedback_noise"] == 0.3
        for i in range(160):
            decision = http.post("/v1/route", json={"text": texts[i % 4]}).json()
            score = 0.6 + 0.05 * ((i * 7) % 5 - 2) / 2  # 0.55..0.65
            r = http.post("/v1/feedback", json={"query_id": decision["query_id"], "quality": score})
            assert r.status_code == 200, r.text
        noise = http.get("/v1/stats").json()["feedback_noise"]
    assert 0.01 <= noise < 0.2


V1_ROUTES = [("POST", "/v1/route"), ("POST", "/v1/complete"), ("POST", "/v1/feedback"), ("GET", "/v1/stats"),
             ("GET", "/v1/models"), ("POST", "/v1/chat/completions")]


def test_with_auth_on_every_v1_route_refuses_a_missing_or_wrong_key(standin: StandIn) -> None:
    from conduit.framework.auth import AuthMiddleware

    app = Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url, router_history="none")
    app.use(AuthMiddleware({"sk-right": "tests"}))
    app.prepare()  # the plugins' routes are registered here
    registered = {(m, r.path) for r in app.router.routes for m in r.methods if r.path.startswith("/v1/")}
    assert set(V1_ROUTES) <= registered
    body = {"text": "hi", "messages": [{"role": "user", "content": "hi"}]}
    with LiveServer(app) as server:
        for method, path in V1_ROUTES:
            for headers in ({}, {"X-API-Key": "sk-wrong"}, {"Authorization": "Bearer sk-wrong"}):
                r = httpx.request(method, server.url + path, headers=headers, json=body if method == "POST" else None)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.headers["www-authenticate"] and r.json()["status"] == 401
        assert httpx.get(server.url + "/v1/models", headers={"X-API-Key": "sk-right"}).status_code == 200


def test_with_a_rate_limit_v1_routes_answer_429_with_retry_after(standin: StandIn) -> None:
    from conduit.framework.security import rate_limit

    app = Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url, router_history="none")
    app.use(rate_limit(3, 60.0))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        first = [http.post("/v1/route", json={"text": "hi"}) for _ in range(3)]
        assert [r.status_code for r in first] == [200, 200, 200]
        for method, path in V1_ROUTES:
            r = http.request(method, path, json={"text": "hi"} if method == "POST" else None)
            assert r.status_code == 429, (path, r.text)
            assert 0 < int(r.headers["retry-after"]) <= 60 and r.headers["x-ratelimit-remaining"] == "0"
            assert r.json()["status"] == 429


def test_the_response_cache_counts_on_metrics_and_in_opentelemetry(app: Conduit) -> None:
    """Issue 23: /v1/metrics showed cache 0/0 after the router's cache served hits, and the
    conduit.cache.* instruments never recorded."""
    conduit_otel = pytest.importorskip("conduit_otel")
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    conduit_otel.instrument(app, metric_readers=[reader],
                            environ={"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"})
    ask = {"text": "What is the capital of Kenya?", "temperature": 0.0,
           "constraints": {"allowed_models": ["gpt-4o-mini"]}}
    with TestClient(app) as client:
        before = client.get("/v1/metrics").json()["cache"]
        prometheus_before = client.get("/metrics?format=prometheus").text
        first = client.post("/v1/complete", json=ask).json()
        second = client.post("/v1/complete", json=ask).json()
        after = client.get("/v1/metrics").json()["cache"]
        prometheus = client.get("/metrics?format=prometheus").text
        data = reader.get_metrics_data()
    assert not first["cached"] and second["cached"]
    assert after["hits"] - before["hits"] >= 1 and after["misses"] - before["misses"] >= 1

    def lookups(text: str, labels: str) -> float:  # the kernel's metrics are process-wide: compare deltas
        prefix = f"conduit_cache_lookups_total{{{labels}}} "
        return next((float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix)), 0.0)

    # Which cache is which, on Prometheus too.
    for labels in ('cache="response",result="hit"', 'cache="response",result="miss"'):
        assert lookups(prometheus, labels) - lookups(prometheus_before, labels) == 1, labels
    assert 'conduit_cache_lookups_total{cache="features",result="miss"}' in prometheus
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    hits = {dict(p.attributes)["conduit.cache"]: p.value for p in metrics["conduit.cache.hits"].data.data_points}
    misses = {dict(p.attributes)["conduit.cache"]: p.value for p in metrics["conduit.cache.misses"].data.data_points}
    assert hits["response"] == 1 and misses["response"] == 1
    assert hits.get("features", 0) + misses.get("features", 0) >= 2  # the query's features: computed, then cached


def test_seed_002s_variables_configure_the_provider_clients(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Issue 23: MAX_RETRIES, INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, CACHE_ENABLED, CACHE_TTL,
    CACHE_MAX_SIZE and DEFAULT_RATE_LIMIT were ignored."""
    from conduit_router.service import build_router

    for name, value in {"MAX_RETRIES": "1", "INITIAL_RETRY_DELAY": "0.25", "MAX_RETRY_DELAY": "4",
                        "CACHE_TTL": "60", "CACHE_MAX_SIZE": "5", "DEFAULT_RATE_LIMIT": "2.5"}.items():
        monkeypatch.setenv(name, value)
    app = Conduit(plugins=["router"], router_embedder="hash", router_history="none")
    app.prepare()
    assert app.settings.sources["router_max_retries"] == "$MAX_RETRIES"
    router = build_router(app.settings)
    client = router.provider("openai")
    assert (client.max_retries, client.backoff_base, client.backoff_max) == (1, 0.25, 4.0)
    assert (client.cache.ttl, client.cache.max_entries) == (60.0, 5)
    assert client.limits.provider_bucket is not None and client.limits.provider_bucket.rate == 2.5
    monkeypatch.setenv("CACHE_ENABLED", "false")
    off = Conduit(plugins=["router"], router_embedder="hash", router_history="none")
    off.prepare()
    assert build_router(off.settings).provider("openai").cache is None
    monkeypatch.setenv("CONDUIT_ROUTER_MAX_RETRIES", "2")  # Conduit's own name wins
    own = Conduit(plugins=["router"], router_embedder="hash", router_history="none")
    own.prepare()
    assert build_router(own.settings).provider("openai").max_retries == 2
