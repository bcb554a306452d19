"""AuthMiddleware: every route, plugin routes included, refuses a missing or wrong key."""

from __future__ import annotations

import pytest

from conduit import hookimpl
from conduit.app import Conduit
from conduit.framework.errors import ConfigurationError
from conduit.framework.security import AuthMiddleware
from conduit.testing import TestClient


class RoutesPlugin:
    __conduit_name__ = "routes-plugin"

    @hookimpl
    def conduit_register_routes(self, register):
        register("GET", "/v1/plugin-thing", lambda request: {"plugin": True})


def make_app(**options) -> Conduit:
    app = Conduit(plugins=[], extra_plugins=[RoutesPlugin()])
    app.use(AuthMiddleware({"key-alice": "alice", "key-bob": "bob"}, **options))

    @app.get("/v1/whoami")
    def whoami(request):
        return {"client": request.state.client_id}

    @app.post("/v1/predict")
    async def predict(request):
        return {"ok": True}

    @app.get("/health/live")
    def live(request):
        return {"status": "alive"}

    return app


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/whoami"), ("POST", "/v1/predict"), ("GET", "/v1/plugin-thing"), ("GET", "/nope")]
)
def test_every_route_refuses_a_missing_or_wrong_key(method: str, path: str) -> None:
    with TestClient(make_app()) as client:
        missing = client.request(method, path)
        wrong = client.request(method, path, headers={"X-API-Key": "key-mallory"})
        wrong_bearer = client.request(method, path, headers={"Authorization": "Bearer key-mallory"})
        malformed = client.request(method, path, headers={"Authorization": "Basic a2V5LWFsaWNl"})
    assert missing.status_code == 401 and missing.json()["code"] == "missing_api_key"
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="conduit"'
    assert wrong.status_code == wrong_bearer.status_code == 401
    assert wrong.json()["code"] == "invalid_api_key"
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="conduit", error="invalid_token"'
    assert malformed.status_code == 401 and malformed.json()["code"] == "invalid_authorization_header"


def test_valid_key_in_header_or_bearer_identifies_the_client() -> None:
    with TestClient(make_app()) as client:
        by_header = client.get("/v1/whoami", headers={"X-API-Key": "key-alice"})
        by_bearer = client.get("/v1/whoami", headers={"Authorization": "Bearer key-bob"})
        plugin = client.get("/v1/plugin-thing", headers={"X-API-Key": "key-bob"})
    assert by_header.json() == {"client": "alice"}
    assert by_bearer.json() == {"client": "bob"}
    assert plugin.status_code == 200 and plugin.json() == {"plugin": True}


def test_health_probes_and_cors_preflights_are_exempt() -> None:
    with TestClient(make_app()) as client:
        live = client.get("/health/live")
        preflight = client.options("/v1/predict", headers={"Origin": "https://x", "Access-Control-Request-Method": "POST"})
    assert live.status_code == 200
    assert preflight.status_code != 401


def test_protected_prefixes_limit_what_needs_a_key() -> None:
    with TestClient(make_app(protected_prefixes=("/v1/predict",))) as client:
        assert client.post("/v1/predict").status_code == 401
        assert client.get("/v1/plugin-thing").status_code == 200


def test_disabled_auth_lets_everything_through_and_empty_config_is_refused(monkeypatch) -> None:
    app = Conduit(plugins=[])
    app.use(AuthMiddleware([], enabled=False))
    app.get("/x")(lambda request: {"ok": True})
    with TestClient(app) as client:
        assert client.get("/x").status_code == 200
    monkeypatch.delenv("CONDUIT_API_KEYS", raising=False)
    with pytest.raises(ConfigurationError, match="CONDUIT_API_KEYS"):
        AuthMiddleware()
    monkeypatch.setenv("CONDUIT_API_KEYS", "k1, k2")
    auth = AuthMiddleware()
    assert auth.identify("k2") == "client-2" and auth.identify("k3") is None
