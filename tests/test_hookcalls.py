"""Hooks are called one way, through pluggy (its order, its wrappers), with the plugin named."""

from __future__ import annotations

import contextlib
import threading

import pytest

import conduit
from conduit import Conduit
from conduit.framework.errors import ConfigurationError, PluginError
from conduit.telemetry import span
from conduit.testing import TestClient


def named(name: str, cls: type) -> object:
    obj = cls()
    obj.__conduit_name__ = name
    return obj


def test_registration_hooks_run_in_pluggys_order_and_drive_wrappers() -> None:
    calls: list[str] = []

    class First:
        @conduit.hookimpl(tryfirst=True)
        def conduit_register_routes(self, register):
            calls.append("first")
            register("GET", "/first", lambda r: {})

    class Last:
        @conduit.hookimpl(trylast=True)
        def conduit_register_routes(self, register):
            calls.append("last")
            register("GET", "/last", lambda r: {})

    class Wrapper:
        @conduit.hookimpl(wrapper=True)
        def conduit_register_routes(self, register):
            calls.append("wrapper in")
            result = yield
            calls.append("wrapper out")
            return result

    # Registered last-first-wrapper, called wrapper(first, ..., last) as pluggy orders them.
    app = Conduit(extra_plugins=[named("last", Last), named("first", First), named("wrap", Wrapper)])
    app.prepare()
    assert calls == ["wrapper in", "first", "last", "wrapper out"]
    owners = {r.path: r.owner for r in app.routes}
    assert owners["/first"] == "first" and owners["/last"] == "last"


def test_a_register_handed_to_a_helper_is_still_tagged_with_the_plugin() -> None:
    def helper(register):
        register("GET", "/helped", lambda r: {})

    class P:
        @conduit.hookimpl
        def conduit_register_routes(self, register):
            helper(register)

    app = Conduit(extra_plugins=[named("helping", P)])
    app.prepare()
    assert {r.path: r.owner for r in app.routes}["/helped"] == "helping"


def test_a_register_kept_and_called_after_the_hook_is_refused() -> None:
    kept = []

    class P:
        @conduit.hookimpl
        def conduit_register_routes(self, register):
            kept.append(register)

    Conduit(extra_plugins=[named("keeper", P)]).prepare()
    with pytest.raises(ConfigurationError, match="after the hook returned"):
        kept[0]("GET", "/late", lambda r: {})


def test_a_failing_startup_coroutine_is_named_and_every_shutdown_runs() -> None:
    events: list[str] = []

    class Boom:
        @conduit.hookimpl
        async def conduit_startup(self, app):
            raise OSError("disk gone")

    with pytest.raises(PluginError, match="plugin 'boom' failed to start: OSError: disk gone"):
        with TestClient(Conduit(extra_plugins=[named("boom", Boom)])):
            pass

    class Raises:
        @conduit.hookimpl(tryfirst=True)
        def conduit_shutdown(self, app):
            raise RuntimeError("sync failure")

    class Fine:
        @conduit.hookimpl
        async def conduit_shutdown(self, app):
            events.append("fine shut down")

    class AlsoFine:
        @conduit.hookimpl(trylast=True)
        def conduit_shutdown(self, app):
            events.append("also fine shut down")

    app = Conduit(extra_plugins=[named("fine", Fine), named("also", AlsoFine), named("raises", Raises)])
    with TestClient(app):
        pass
    assert events == ["fine shut down", "also fine shut down"]


class Tracer:
    """A tracing plugin: records the span names opened while the app runs."""

    __conduit_name__ = "tracer"

    def __init__(self) -> None:
        self.spans: list[tuple[str, str]] = []

    @conduit.hookimpl
    def conduit_span(self, name, attributes):
        @contextlib.contextmanager
        def record():
            self.spans.append((name, threading.current_thread().name))
            yield

        return record()


def test_span_reaches_the_running_apps_plugins_from_async_and_sync_handlers() -> None:
    tracer = Tracer()
    app = Conduit(extra_plugins=[tracer])

    @app.get("/async")
    async def in_loop(request):
        with span("async work"):
            return {"ok": True}

    @app.get("/sync")
    def in_thread(request):
        with span("sync work"):
            return {"ok": True}

    other = Conduit()  # an app without the tracer: its spans reach nobody

    @other.get("/other")
    def other_work(request):
        with span("other work"):
            return {}

    with TestClient(app) as c, TestClient(other) as o:
        assert c.get("/async").status_code == c.get("/sync").status_code == 200
        assert o.get("/other").status_code == 200
    names = [name for name, _ in tracer.spans]
    assert names == ["async work", "sync work"]
    assert tracer.spans[1][1] != tracer.spans[0][1]  # the sync one ran in a worker thread
    with span("outside any app"):  # no app runs here: nothing is opened, nothing fails
        pass
    assert len(tracer.spans) == 2


def test_span_reaches_the_app_on_the_live_server() -> None:
    import httpx

    from conduit.testing import LiveServer

    tracer = Tracer()
    app = Conduit(extra_plugins=[tracer])

    @app.get("/work")
    def work(request):
        with span("served"):
            return {}

    with LiveServer(app) as server:
        assert httpx.get(f"{server.url}/work").status_code == 200
    assert [name for name, _ in tracer.spans] == ["served"]


def test_a_plugin_installed_but_not_enabled_opens_no_span(monkeypatch) -> None:
    tracer = Tracer()
    app = Conduit()
    app.plugin_manager.register(tracer, name="tracer")  # loaded (as an installed plugin would be), not enabled

    @app.get("/work")
    async def work(request):
        with span("work"):
            return {}

    with TestClient(app) as c:
        c.get("/work")
    assert tracer.spans == []
