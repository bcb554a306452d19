"""Each kernel-side hook does what docs/hooks.md says."""

from __future__ import annotations

import contextlib

import pytest

import conduit
from conduit.framework.errors import ConfigurationError
from conduit.telemetry import plugin_metrics, span
from conduit.testing import TestClient


def test_request_started_and_finished_see_every_request_with_its_route() -> None:
    seen: list[tuple] = []

    class Recorder:
        __conduit_name__ = "recorder"

        @conduit.hookimpl
        def conduit_request_started(self, request):
            seen.append(("started", request.method, request.route.path if request.route else None))

        @conduit.hookimpl
        def conduit_request_finished(self, request, response, duration):
            seen.append(("finished", response.status_code, duration >= 0))

    app = conduit.Conduit(extra_plugins=[Recorder()])

    @app.get("/items/{id:int}")
    def item(r, id: int):
        return {"id": id}

    with TestClient(app) as c:
        c.get("/items/3")
        c.get("/missing")
    assert seen == [
        ("started", "GET", "/items/{id:int}"),
        ("finished", 200, True),
        ("started", "GET", None),
        ("finished", 404, True),
    ]


def test_span_enters_every_context_manager_plugins_return() -> None:
    log: list[str] = []

    class Tracer:
        __conduit_name__ = "tracer"

        @conduit.hookimpl
        def conduit_span(self, name, attributes):
            @contextlib.contextmanager
            def cm():
                log.append(f"open {name} {attributes}")
                yield
                log.append(f"close {name}")

            return cm()

    pm = conduit.Conduit(extra_plugins=[Tracer()]).plugin_manager
    with span("inference", {"model": "m"}, pm=pm):
        log.append("work")
    assert log == ["open inference {'model': 'm'}", "work", "close inference"]


def test_plugin_metrics_are_collected_and_validated() -> None:
    class Metrics:
        __conduit_name__ = "metrics"

        @conduit.hookimpl
        def conduit_metrics(self, app):
            return [("jobs_done_total", "counter", {"queue": "a"}, 3)]

    app = conduit.Conduit(extra_plugins=[Metrics()])
    assert plugin_metrics(app) == [("jobs_done_total", "counter", {"queue": "a"}, 3.0)]

    class Bad:
        __conduit_name__ = "bad-metrics"

        @conduit.hookimpl
        def conduit_metrics(self, app):
            return [("x", "histogram", {}, 1)]

    with pytest.raises(ValueError, match="must be 'counter' or 'gauge'"):
        plugin_metrics(conduit.Conduit(extra_plugins=[Bad()]))


def test_health_checks_are_collected_and_duplicates_refused() -> None:
    def plugin(name: str):
        class P:
            __conduit_name__ = name

            @conduit.hookimpl
            def conduit_register_health_checks(self, register):
                register("database", lambda: (True, "ok"))

        return P()

    app = conduit.Conduit(extra_plugins=[plugin("db")])
    app.prepare()
    assert app.health_checks["database"]() == (True, "ok")
    with pytest.raises(ConfigurationError, match="health check 'database' registered twice"):
        conduit.Conduit(extra_plugins=[plugin("a"), plugin("b")]).prepare()


def test_plugin_middleware_wraps_app_middleware_in_order() -> None:
    log: list[str] = []

    def mw(name):
        async def m(request, call_next):
            log.append(name)
            return await call_next(request)

        return m

    class P:
        __conduit_name__ = "mw-plugin"

        @conduit.hookimpl
        def conduit_register_middleware(self, register):
            register(mw("plugin-inner"), order=10)
            register(mw("plugin-outer"), order=-10)

    app = conduit.Conduit(extra_plugins=[P()])
    app.use(mw("app"))

    @app.get("/")
    def index(r):
        return {}

    with TestClient(app) as c:
        c.get("/")
    assert log == ["plugin-outer", "plugin-inner", "app"]


def test_commands_registered_twice_are_refused(monkeypatch) -> None:
    from conduit import cli
    from conduit.plugins import create_plugin_manager, reset_default_plugin_manager

    class P:
        __conduit_name__ = "dup-cli"

        @conduit.hookimpl
        def conduit_register_commands(self, register):
            register("routes", lambda ns: 0)

    reset_default_plugin_manager(create_plugin_manager(extra_plugins=[P()]))
    try:
        with pytest.raises(ConfigurationError, match="'routes' is registered twice: by dup-cli and by conduit._builtins.commands"):
            cli.build_parser()
    finally:
        reset_default_plugin_manager()


def test_builtin_state_stores_are_registered_through_the_stores_hook() -> None:
    from conduit.ml.vector import store_factories
    from conduit.storage import MemoryStateStore, RedisStateStore

    factories = store_factories("state", conduit.Conduit().plugin_manager)
    assert factories["memory"][0] == "conduit._builtins.stores"
    assert isinstance(factories["memory"][1](), MemoryStateStore)
    assert isinstance(factories["redis"][1]("redis://127.0.0.1:6379/0"), RedisStateStore)
