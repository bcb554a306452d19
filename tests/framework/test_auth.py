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


# --- keys from configuration: the kernel adds the middleware itself -----------------------------


class RiskyPlugin:
    __conduit_name__ = "risky-plugin"

    @hookimpl
    def conduit_register_routes(self, register):
        register("POST", "/v1/spend", lambda request: {"spent": True}, risk="spends money at the providers")
        register("GET", "/v1/open", lambda request: {"open": True}, public=True)


def keyed_app(**settings) -> Conduit:
    app = Conduit(plugins=[], extra_plugins=[RiskyPlugin()], **settings)

    @app.get("/mine")
    def mine(request):
        return {"client": request.state.client_id}

    @app.get("/landing", public=True)
    def landing(request):
        return {"public": True}

    return app


def test_configured_keys_protect_every_route_without_the_app_adding_middleware() -> None:
    with TestClient(keyed_app(api_keys=["k-one", "k-two"])) as client:
        for method, path in [("GET", "/mine"), ("POST", "/v1/spend"), ("GET", "/metrics"), ("GET", "/-/plugins.json"),
                             ("GET", "/no-such-route")]:
            refused = client.request(method, path)
            assert refused.status_code == 401 and refused.json()["code"] == "missing_api_key", path
            assert client.request(method, path, headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/mine", headers={"X-API-Key": "k-two"}).json() == {"client": "client-2"}
        assert client.post("/v1/spend", headers={"Authorization": "Bearer k-one"}).json() == {"spent": True}
        # health probes and routes marked public stay open
        for path in ("/health", "/health/live", "/health/ready", "/v1/open", "/landing"):
            assert client.get(path).status_code == 200, path


def test_keys_from_the_environment_and_a_custom_header(monkeypatch) -> None:
    monkeypatch.setenv("CONDUIT_API_KEYS", "env-key")
    monkeypatch.setenv("CONDUIT_API_KEY_HEADER", "X-Token")
    with TestClient(keyed_app()) as client:
        assert client.get("/mine").status_code == 401
        assert client.get("/mine", headers={"X-Token": "env-key"}).status_code == 200


def test_an_installed_plugin_enabled_in_configuration_is_keyed_too(monkeypatch) -> None:
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    monkeypatch.setenv("CONDUIT_PLUGINS", "hello")
    monkeypatch.setenv("CONDUIT_API_KEYS", "k")
    with TestClient(Conduit()) as client:
        assert client.get("/hello-plugin/ann").status_code == 401
        assert client.get("/hello-plugin/ann", headers={"X-API-Key": "k"}).json() == {"message": "Hello, ann!"}


@pytest.mark.parametrize(
    ("env", "keyed"),
    [({"API_KEY": "seed-key", "API_REQUIRE_AUTH": "true"}, True),
     ({"API_KEY": "seed-key", "API_REQUIRE_AUTH": "false"}, False),
     ({"API_KEY": "seed-key"}, False)],  # the seed's default: API_REQUIRE_AUTH=false
)
def test_seed_001_api_key_and_api_require_auth(monkeypatch, env, keyed) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with TestClient(keyed_app()) as client:
        assert client.post("/v1/spend").status_code == (401 if keyed else 200)
        assert client.post("/v1/spend", headers={"Authorization": "Bearer seed-key"}).status_code == 200


def test_api_require_auth_without_any_key_stops_start_up(monkeypatch) -> None:
    monkeypatch.setenv("API_REQUIRE_AUTH", "true")
    monkeypatch.delenv("API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="API_REQUIRE_AUTH is true but no API key is configured; set API_KEY"):
        keyed_app().prepare()


def test_an_open_server_on_a_public_address_names_the_routes_that_spend_or_write() -> None:
    from conduit.framework.auth import exposure_warnings

    app = keyed_app()
    app.prepare()
    (warning,) = exposure_warnings(app, "0.0.0.0")
    assert "POST /v1/spend (spends money at the providers, from risky-plugin)" in warning
    assert "CONDUIT_API_KEYS" in warning and "/landing" not in warning
    assert exposure_warnings(app, "127.0.0.1") == exposure_warnings(app, "::1") == exposure_warnings(app, "localhost") == []
    keyed = keyed_app(api_keys=["k"])
    keyed.prepare()
    assert exposure_warnings(keyed, "0.0.0.0") == []


def test_with_every_installed_plugin_enabled_every_route_but_the_probes_needs_the_key(monkeypatch) -> None:
    """Walk every route the app serves (kernel, built-ins, all installed plugins, a mounted
    MCP server): without the key each answers 401, whatever its method or parameters."""
    import re

    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    monkeypatch.setenv("CONDUIT_API_KEYS", "the-key")
    app = Conduit(plugins=["*"], router_history="none", router_embedder="hash")
    from conduit.mcp import MCPServer

    app.mount_mcp("/mcp", MCPServer("keyed"))
    app.enable_docs()
    other = Conduit(api_keys=["k"])
    other.enable_docs(public=True)  # an app may open its docs: the page and the document, not the API
    with TestClient(other) as client:
        assert client.get("/openapi.json").status_code == client.get("/docs").status_code == 200
    with TestClient(app) as client:
        served = [(method, re.sub(r"\{[^}]+\}|:[a-z_]+", "x", route.path), route)
                  for route in app.routes for method in sorted(route.methods)]
        assert {"/v1/chat/completions", "/hello-plugin/x", "/mcp", "/metrics", "/docs"} <= {p for _, p, _ in served}
        for method, path, route in served:
            answer = client.request(method, path)
            if route.public:
                assert path.startswith("/health"), path
                assert answer.status_code != 401, path
            else:
                assert answer.status_code == 401 and answer.json()["code"] == "missing_api_key", (method, path)
        assert client.get("/v1/models", headers={"X-API-Key": "the-key"}).status_code == 200
        assert client.get("/hello-plugin/ann", headers={"Authorization": "Bearer the-key"}).status_code == 200


def test_no_exposure_warning_for_routes_the_apps_own_auth_middleware_covers() -> None:
    from conduit.framework.auth import exposure_warnings

    app = keyed_app()
    app.use(AuthMiddleware({"k": "me"}, protected_prefixes=("/v1",)))
    app.prepare()
    assert exposure_warnings(app, "0.0.0.0") == []
    partly = keyed_app()
    partly.use(AuthMiddleware({"k": "me"}, protected_prefixes=("/admin",)))
    partly.prepare()
    assert "POST /v1/spend" in exposure_warnings(partly, "0.0.0.0")[0]
