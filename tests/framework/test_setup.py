"""Seed 001's setup_middleware(app) and setup_telemetry(app) (conduit/framework/setup.py)."""

from __future__ import annotations

import pytest

from conduit import Conduit
from conduit.errors import MissingPluginError
from conduit.framework.setup import setup_middleware, setup_telemetry
from conduit.testing import TestClient


def _app(**settings: object) -> Conduit:
    app = Conduit(**settings)

    @app.post("/echo")
    async def echo(request):
        return {"bytes": len(request.content)}

    @app.get("/items")
    async def items(request):
        return {"items": []}

    return app


def test_the_seeds_defaults_limit_size_and_rate_and_exempt_the_probes() -> None:
    app = _app()
    setup_middleware(app)
    with TestClient(app) as client:
        assert client.post("/echo", content=b"x" * 10_000).status_code == 200
        too_big = client.post("/echo", content=b"x" * 10_001)
        assert too_big.status_code == 413
        answers = [client.get("/items").status_code for _ in range(101)]
        probes = {client.get("/health/live").status_code for _ in range(5)}
    assert answers.count(200) == 99 and answers[-1] == 429  # 100 a minute: the first POST counted too
    assert probes == {200}


def test_the_rate_answers_carry_the_seeds_headers() -> None:
    app = _app()
    setup_middleware(app, requests_per_minute=5)
    with TestClient(app) as client:
        first = client.get("/items")
    assert first.headers["x-ratelimit-limit"] == "5" and first.headers["x-ratelimit-remaining"] == "4"


def test_cors_is_only_for_the_origins_given() -> None:
    closed, opened = _app(), _app()
    setup_middleware(closed)
    setup_middleware(opened, cors_origins=["https://app.example.com"])
    origin = {"Origin": "https://app.example.com"}
    with TestClient(closed) as a, TestClient(opened) as b:
        assert "access-control-allow-origin" not in a.get("/items", headers=origin).headers
        assert b.get("/items", headers=origin).headers["access-control-allow-origin"] == "https://app.example.com"


def test_the_size_comes_from_the_seeds_variable_and_zero_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_MAX_REQUEST_SIZE", "2000")
    app = _app()
    setup_middleware(app, requests_per_minute=0)
    with TestClient(app) as client:
        assert client.post("/echo", content=b"x" * 2001).status_code == 413
    unlimited = _app()
    setup_middleware(unlimited, max_request_size=0, requests_per_minute=0)
    with TestClient(unlimited) as client:
        assert client.post("/echo", content=b"x" * 50_000).status_code == 200


def test_setup_telemetry_names_the_plugin_to_install_when_it_is_missing() -> None:
    """The kernel's tests see no installed plugin (tests/conftest.py disables them all)."""
    with pytest.raises(MissingPluginError, match="conduit-otel"):
        setup_telemetry(Conduit())
