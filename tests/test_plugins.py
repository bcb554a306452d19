"""Plugin discovery through real entry points, enabling/disabling, failures named."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import types
from pathlib import Path

import pytest

import conduit
from conduit import Conduit
from conduit.config import load_settings
from conduit.framework.errors import ConfigurationError, PluginError
from conduit.plugins import create_plugin_manager, list_plugins
from conduit.testing import TestClient

REPO = Path(__file__).resolve().parents[1]


def test_the_example_plugin_is_found_through_its_installed_entry_point(monkeypatch) -> None:
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    monkeypatch.setenv("CONDUIT_PLUGINS", "hello")
    app = Conduit()
    with TestClient(app) as c:
        r = c.get("/hello-plugin/ann")
    assert r.json() == {"message": "Hello, ann!"} and r.headers["x-hello-plugin"] == "1"
    info = {p.name: p for p in list_plugins(app.plugin_manager)}["hello"]
    assert info.enabled and info.distribution == "conduit-hello-plugin"
    assert info.hooks == ("conduit_config_schema", "conduit_register_middleware", "conduit_register_routes")


def test_disabling_the_plugin_in_config_removes_its_route_and_middleware(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    monkeypatch.delenv("CONDUIT_PLUGINS")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.conduit]\ndisabled_plugins = ["hello"]\nplugins = ["hello"]\n')
    app = Conduit()

    @app.get("/")
    def index(r):
        return {}

    with TestClient(app) as c:
        assert c.get("/hello-plugin/ann").status_code == 404
        assert "x-hello-plugin" not in c.get("/").headers
    assert app.plugin_manager.is_blocked("hello")


def test_plugin_settings_come_from_conduit_toml(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    monkeypatch.setenv("CONDUIT_PLUGINS", "hello")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conduit.toml").write_text('hello_greeting = "Howdy"\n')
    with TestClient(Conduit()) as c:
        assert c.get("/hello-plugin/bo").json() == {"message": "Howdy, bo!"}


INSTALLED = {ep.name for ep in importlib.metadata.entry_points(group="conduit")}


def test_disabled_star_loads_no_installed_plugin(monkeypatch) -> None:
    monkeypatch.setenv("CONDUIT_DISABLED_PLUGINS", "*")
    pm = create_plugin_manager(load_settings())
    names = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    assert not names & INSTALLED
    assert "conduit._builtins.routes" in names and pm.disabled == INSTALLED


def test_installing_a_plugin_changes_no_app_until_configuration_enables_it(monkeypatch) -> None:
    """The dev venv has every plugin installed; a plain app serves only its own routes."""
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    monkeypatch.delenv("CONDUIT_PLUGINS")

    def plain() -> Conduit:
        app = Conduit()

        @app.get("/")
        def index(request):
            return {"ok": True}

        return app

    bare = Conduit(disabled_plugins=["*"])
    bare.prepare()
    app = plain()
    with TestClient(app) as c:
        assert c.get("/hello-plugin/ann").status_code == 404
        assert c.post("/v1/chat/completions", json={}).status_code == 404
        assert "x-hello-plugin" not in c.get("/").headers
    assert {r.path for r in app.routes} == {r.path for r in bare.routes} | {"/"}
    assert {name for name, plugin in app.plugin_manager.list_name_plugin() if plugin} >= {"hello", "router", "vector"}

    monkeypatch.setenv("CONDUIT_PLUGINS", "hello")
    with TestClient(plain()) as c:
        assert c.get("/hello-plugin/ann").json() == {"message": "Hello, ann!"}
        assert c.get("/").headers["x-hello-plugin"] == "1"
        assert c.post("/v1/chat/completions", json={}).status_code == 404

    monkeypatch.setenv("CONDUIT_PLUGINS", "*")
    everything = plain()
    everything.prepare()
    assert {"/hello-plugin/{name}", "/v1/chat/completions"} <= {r.path for r in everything.routes}


def test_enabling_a_name_no_installed_plugin_has_stops_start_up(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONDUIT_PLUGINS")
    (tmp_path / "conduit.toml").write_text('plugins = ["helo"]\n')
    with pytest.raises(PluginError, match=r"plugins \(from conduit.toml\) enables 'helo', which no installed plugin "
                                          r"provides; installed: hello, mcp, onnx, otel, router, vector"):
        Conduit().prepare()


def test_a_plugin_that_is_not_enabled_and_fails_to_import_does_not_stop_the_app(broken_plugin, caplog) -> None:
    pm = create_plugin_manager(load_settings({"plugins": ["hello"]}, environ={}, files=[]))
    assert "boom at import" in pm.failed["broken"] and pm.get_plugin("hello") is not None
    assert "plugin 'broken'" in caplog.text
    info = {i.name: i for i in list_plugins(pm)}["broken"]
    assert info.installed and not info.loaded and "boom at import" in (info.error or "")


def test_builtins_register_through_the_same_hooks(monkeypatch) -> None:
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    with TestClient(Conduit()) as c:
        listing = c.get("/-/plugins.json").json()
    builtin = {p["name"]: p for p in listing if p["builtin"]}
    assert builtin["conduit._builtins.routes"]["hooks"] == ["conduit_register_routes"]
    hello = next(p for p in listing if p["name"] == "hello")
    assert hello["enabled"] is False and hello["installed"] is True and "conduit_register_routes" in hello["hooks"]
    assert all("error" not in p for p in listing)  # errors may carry paths: the CLI shows them, not HTTP


def test_a_plugin_failing_at_import_is_reported_by_name(broken_plugin) -> None:
    with pytest.raises(PluginError, match=r"plugin 'broken' .*broken-plugin 1.0.*boom at import.*CONDUIT_DISABLED_PLUGINS=broken"):
        create_plugin_manager(load_settings({"plugins": ["broken"]}, environ={}, files=[]))
    # disabled, it is never imported
    pm = create_plugin_manager(load_settings({"disabled_plugins": ["broken"]}, environ={}, files=[]))
    assert pm.is_blocked("broken")


def test_a_hookimpl_with_a_typo_is_caught_at_startup() -> None:
    plugin = types.ModuleType("typo_plugin")

    @conduit.hookimpl
    def conduit_register_rutes(register):  # noqa: ANN001 - the typo is the point
        pass

    plugin.conduit_register_rutes = conduit_register_rutes
    with pytest.raises(PluginError, match="conduit_register_rutes"):
        Conduit(extra_plugins=[plugin]).prepare()


def test_a_plugin_failing_in_a_hook_is_named() -> None:
    class Bad:
        __conduit_name__ = "bad-plugin"

        @conduit.hookimpl
        def conduit_register_routes(self, register):
            raise KeyError("missing thing")

    with pytest.raises(PluginError, match="'bad-plugin' failed in conduit_register_routes"):
        Conduit(extra_plugins=[Bad()]).prepare()


def test_an_async_configure_hook_is_refused_with_a_clear_error() -> None:
    class P:
        __conduit_name__ = "async-config"

        @conduit.hookimpl
        async def conduit_configure(self, app, settings):
            pass

    with pytest.raises(PluginError, match="'async-config': conduit_configure must be synchronous"):
        Conduit(extra_plugins=[P()]).prepare()


def test_app_middleware_lists_each_layer_with_its_owner() -> None:
    class P:
        __conduit_name__ = "owner-plugin"

        @conduit.hookimpl
        def conduit_register_middleware(self, register):
            async def from_plugin(request, call_next):
                return await call_next(request)

            register(from_plugin)

    async def from_app(request, call_next):
        return await call_next(request)

    app = Conduit(extra_plugins=[P()], monitoring=False)
    app.use(from_app)
    app.prepare()
    assert [owner for _, owner in app.middleware] == ["owner-plugin", "app"]


def test_two_plugins_registering_one_route_is_an_error_naming_both() -> None:
    def make(name: str):
        class P:
            __conduit_name__ = name

            @conduit.hookimpl
            def conduit_register_routes(self, register):
                register("GET", "/same", lambda r: {})

        return P()

    with pytest.raises(ConfigurationError, match="by second.*and by first"):  # pluggy calls the later one first
        Conduit(extra_plugins=[make("first"), make("second")]).prepare()


def test_lifecycle_hooks_sync_and_async_run_in_order() -> None:
    events: list[str] = []

    class P:
        __conduit_name__ = "life"

        @conduit.hookimpl
        def conduit_configure(self, app, settings):
            events.append(f"configure port={settings.port}")

        @conduit.hookimpl
        async def conduit_startup(self, app):
            events.append("startup")

        @conduit.hookimpl
        def conduit_shutdown(self, app):
            async def later():
                events.append("shutdown")

            return later()

    app = Conduit(port=9999, extra_plugins=[P()])
    app.on_startup(lambda: events.append("app startup"))
    app.on_shutdown(lambda: events.append("app shutdown"))
    with TestClient(app):
        pass
    assert events == ["configure port=9999", "startup", "app startup", "app shutdown", "shutdown"]


def test_installed_plugin_distributions_come_from_this_repository() -> None:
    for dist_name, folder in [
        ("conduit", REPO),
        ("conduit-hello-plugin", REPO / "examples" / "conduit-hello-plugin"),
        *[(f"conduit-{x}", REPO / "plugins" / f"conduit-{x}") for x in ("onnx", "vector", "mcp", "router", "otel")],
    ]:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{dist_name} is not installed; install it from {folder.relative_to(REPO) or '.'}")
        direct = dist.read_text("direct_url.json") or ""
        assert folder.as_uri() in direct, f"{dist_name} was not installed from {folder}: {direct}"


@pytest.mark.slow
def test_the_example_plugin_installs_from_a_built_wheel(tmp_path) -> None:
    """Build the example plugin, install it into a fresh target, discover it there."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO / "examples" / "conduit-hello-plugin")],
        check=True,
    )
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), *map(str, wheels.glob("*.whl"))], check=True)
    code = (
        "import importlib.metadata as m, conduit_hello_plugin as p;"
        "eps=[e for e in m.entry_points(group='conduit') if e.name=='hello'];"
        "print(eps[0].dist.name, p.__file__)"
    )
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(target), "PATH": ""}, capture_output=True, text=True, check=True)
    assert out.stdout.startswith("conduit-hello-plugin " + str(target))


def test_resolve_sync_awaits_from_a_worker_thread_or_a_fresh_loop_and_refuses_on_the_loop() -> None:
    import anyio

    from conduit.plugins import resolve_sync

    async def answer() -> int:
        return 42

    assert resolve_sync(7) == 7
    assert resolve_sync(answer()) == 42  # no loop in this thread: a fresh one

    async def on_loop() -> None:
        assert await anyio.to_thread.run_sync(lambda: resolve_sync(answer())) == 42  # worker thread
        with pytest.raises(RuntimeError, match="await it instead"):
            resolve_sync(answer())

    anyio.run(on_loop)
