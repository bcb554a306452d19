"""rate_limit: sliding window per client, headers, 429, per-route, Redis shared and Redis down."""

from __future__ import annotations

import logging

import pytest

from conduit.app import Conduit
from conduit.framework.security import rate_limit
from conduit.storage import MemoryStateStore
from conduit.storage.testing import RedisProcess, unique_prefix
from conduit.testing import TestClient


def app_with(limiter, **settings) -> Conduit:
    app = Conduit(plugins=[], **settings)
    app.use(limiter)

    @app.get("/items")
    def items(request):
        return ["a"]

    @app.get("/health/ready")
    def ready(request):
        return {"status": "ok"}

    return app


def test_rate_limit_returns_429_with_retry_after_and_headers_on_every_response() -> None:
    frozen = MemoryStateStore(clock=lambda: 1000.0)  # no time passes, so every reset is 60
    with TestClient(app_with(rate_limit(3, 60, store=frozen))) as client:
        responses = [client.get("/items") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    for r in responses:
        assert r.headers["X-RateLimit-Limit"] == "3"
        assert r.headers["X-RateLimit-Reset"] == "60"
        assert r.headers["RateLimit-Policy"] == '"default";q=3;w=60'
    assert responses[1].headers["RateLimit"] == '"default";r=1;t=60'
    refused = responses[3]
    assert refused.headers["Retry-After"] == "60"
    assert refused.json()["code"] == "rate_limited" and refused.json()["status"] == 429


def test_rate_limit_object_is_accepted_by_app_use() -> None:
    app = Conduit(plugins=[])
    app.use(rate_limit(1, 60, store=MemoryStateStore()))

    @app.get("/")
    def index(r):
        return {}

    with TestClient(app) as c:
        assert c.get("/").status_code == 200
        assert c.get("/").status_code == 429


def test_seed_route_decorator_limits_only_that_route() -> None:
    app = Conduit(plugins=[])
    shared = rate_limit(max_requests=1, window_seconds=60, store=MemoryStateStore())

    @app.post("/api/data")
    @rate_limit(max_requests=2, window_seconds=60, store=MemoryStateStore())
    def process_data(req, res):
        res.json({"ok": True})

    @app.get("/a")
    @shared
    def a(request):
        return "a"

    @app.get("/b")
    @shared
    def b(request):
        return "b"

    @app.get("/free")
    def free(request):
        return "free"

    with TestClient(app) as client:
        data = [client.post("/api/data", json={}).status_code for _ in range(3)]
        other = [client.get(p).status_code for p in ("/a", "/a", "/b", "/free", "/free")]
        free_headers = client.get("/free").headers
    assert data == [200, 200, 429]
    assert other == [200, 429, 200, 200, 200]  # one limiter object, one window per route
    assert "X-RateLimit-Limit" not in free_headers


def test_clients_are_told_apart_by_api_key_then_by_address() -> None:
    app = app_with(rate_limit(1, 60, store=MemoryStateStore()))
    with TestClient(app) as alice, TestClient(app, client=("10.0.0.2", 4000)) as other_host:
        first = alice.get("/items", headers={"X-API-Key": "alice"}).status_code
        bearer_same_key = alice.get("/items", headers={"Authorization": "Bearer alice"}).status_code
        bob = alice.get("/items", headers={"X-API-Key": "bob"}).status_code
        anonymous = alice.get("/items").status_code
        anonymous_again = alice.get("/items").status_code
        spoofed = alice.get("/items", headers={"X-Forwarded-For": "1.2.3.4"}).status_code
        elsewhere = other_host.get("/items").status_code
    assert (first, bearer_same_key, bob) == (200, 429, 200)
    assert (anonymous, anonymous_again, spoofed, elsewhere) == (200, 429, 429, 200)


def test_trusted_proxy_header_uses_the_address_our_proxy_appended() -> None:
    limiter = rate_limit(1, 60, store=MemoryStateStore(), trusted_proxy_header="X-Forwarded-For")
    with TestClient(app_with(limiter)) as client:
        a = client.get("/items", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}).status_code
        forged = client.get("/items", headers={"X-Forwarded-For": "7.7.7.7, 203.0.113.7"}).status_code
        b = client.get("/items", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.8"}).status_code
    assert (a, forged, b) == (200, 429, 200)


def test_health_probes_are_never_limited() -> None:
    with TestClient(app_with(rate_limit(1, 60, store=MemoryStateStore()))) as client:
        codes = [client.get("/health/ready").status_code for _ in range(5)]
    assert codes == [200] * 5


def test_two_apps_sharing_redis_admit_exactly_the_limit(redis_url: str) -> None:
    prefix = unique_prefix("rl")
    apps = [app_with(rate_limit(5, 60, prefix=prefix), redis_url=redis_url) for _ in range(2)]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        codes = [c.get("/items").status_code for _ in range(6) for c in (one, two)]
    assert codes.count(200) == 5 and codes.count(429) == 7


def test_redis_down_fails_open_with_one_warning_then_limits_resume(
    private_redis: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    server = private_redis
    app = app_with(rate_limit(2, 60), redis_url=server.url)
    with caplog.at_level(logging.WARNING, logger="conduit.ratelimit"), TestClient(app) as client:
        before = client.get("/items")
        server.stop()
        during = [client.get("/items") for _ in range(4)]
        server.start()
        after = [client.get("/items") for _ in range(3)]
    assert before.headers["X-RateLimit-Remaining"] == "1"
    assert [r.status_code for r in during] == [200] * 4  # open: no 5xx, no 429
    assert all("X-RateLimit-Limit" not in r.headers for r in during)
    assert [r.status_code for r in after] == [200, 200, 429]  # the restarted Redis is empty
    messages = [r.getMessage() for r in caplog.records if r.name == "conduit.ratelimit"]
    assert len([m for m in messages if "failing open" in m]) == 1
    assert len([m for m in messages if "recovered" in m]) == 1


def test_redis_down_fails_closed_when_configured(private_redis: RedisProcess) -> None:
    app = app_with(rate_limit(2, 60, fail_open=False), redis_url=private_redis.url)
    with TestClient(app) as client:
        assert client.get("/items").status_code == 200
        private_redis.stop()
        refused = client.get("/items")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["code"] == "rate_limiter_unavailable"


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        rate_limit(0, 60)
    with pytest.raises(ValueError):
        rate_limit(5, 0)


def test_an_app_started_again_gets_a_fresh_shared_store() -> None:
    app = Conduit(plugins=[])
    app.use(rate_limit(5, 60))

    @app.get("/")
    def index(r):
        return {}

    for _ in range(2):  # the first client's shutdown closed the store; the second gets a new one
        with TestClient(app) as c:
            assert c.get("/").status_code == 200
