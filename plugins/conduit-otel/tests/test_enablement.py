"""Disabled costs nothing (no middleware at all); enabled, the plugin's layer is outermost."""

from __future__ import annotations

import subprocess
import sys

import conduit_otel
import pytest
from opentelemetry import trace

import conduit.telemetry
from conduit import Conduit
from conduit.framework.errors import ConfigurationError, PluginError
from conduit.testing import TestClient


def middleware_owners(app: Conduit) -> list[str]:
    app.prepare()
    return [owner for _, owner in app.middleware]


def app_with_a_route(**settings) -> Conduit:
    app = Conduit(**settings)
    app.get("/")(lambda request: {"ok": True})
    app.use(_AppMiddleware())
    return app


class _AppMiddleware:
    async def __call__(self, request, call_next):
        return await call_next(request)


def test_installed_but_not_enabled_registers_no_middleware_and_no_runtime(otel_env) -> None:
    app = app_with_a_route(plugins=["otel"])
    assert app.plugin_manager.get_plugin("otel") is not None
    assert "otel" not in middleware_owners(app)
    assert conduit_otel.telemetry(app) is None
    with TestClient(app) as client:
        assert client.get("/").json() == {"ok": True}


def test_otel_sdk_disabled_beats_an_explicit_instrument_call(otel_env) -> None:
    otel_env.setenv("OTEL_SDK_DISABLED", "true")
    app = app_with_a_route(plugins=[])
    conduit_otel.instrument(app)
    assert "otel" not in middleware_owners(app)
    assert conduit_otel.telemetry(app) is None


def test_otel_enabled_from_the_environment_puts_the_plugin_outermost(otel_env) -> None:
    otel_env.setenv("OTEL_ENABLED", "true")
    otel_env.setenv("OTEL_TRACES_EXPORTER", "none")
    otel_env.setenv("OTEL_METRICS_EXPORTER", "none")
    app = app_with_a_route(plugins=["otel"], otel_set_global_providers=False)
    owners = middleware_owners(app)
    assert owners[0] == "otel" and owners.count("otel") == 1 and owners[-1] == "app"
    with TestClient(app) as client:
        runtime = conduit_otel.telemetry(app)
        assert runtime.started and runtime.tracer is not None
        assert client.get("/").status_code == 200
    assert runtime.started is False and runtime.tracer_provider is None  # shut down with the app


def test_the_setting_enables_it_too(otel_env) -> None:
    otel_env.setenv("CONDUIT_OTEL_ENABLED", "true")
    otel_env.setenv("OTEL_TRACES_EXPORTER", "none")
    otel_env.setenv("OTEL_METRICS_EXPORTER", "none")
    app = app_with_a_route(plugins=["otel"], otel_set_global_providers=False)
    assert middleware_owners(app)[0] == "otel"


def test_a_bad_variable_stops_start_up_naming_it(otel_env) -> None:
    otel_env.setenv("OTEL_ENABLED", "maybe")
    app = app_with_a_route(plugins=["otel"])
    with pytest.raises((ConfigurationError, PluginError), match=r"\$OTEL_ENABLED must be true or false"):
        app.prepare()


def test_instrument_refuses_an_app_that_disabled_the_plugin(otel_env) -> None:
    app = Conduit(disabled_plugins=["otel"])
    with pytest.raises(ConfigurationError, match="disabled_plugins"):
        conduit_otel.instrument(app)


def test_instrument_refuses_an_app_already_serving(instrumented) -> None:
    t = instrumented()
    t.app.prepare()
    with pytest.raises(ConfigurationError, match="before the app starts serving"):
        conduit_otel.instrument(t.app)


def test_span_seam_does_nothing_without_an_enabled_app(otel_env) -> None:
    with conduit.telemetry.span("inference", {"model": "m"}):
        current = trace.get_current_span()
    assert current.get_span_context().is_valid is False


def test_providers_belong_to_the_app_not_the_process(instrumented) -> None:
    first, second = instrumented(), instrumented()
    for t in (first, second):
        t.app.get("/")(lambda request: {})
    with TestClient(first.app) as a, TestClient(second.app) as b:
        a.get("/")
        b.get("/")
        b.get("/")
        assert conduit_otel.telemetry(first.app).tracer_provider is not conduit_otel.telemetry(second.app).tracer_provider
        assert trace.get_tracer_provider() is not conduit_otel.telemetry(first.app).tracer_provider
    assert (len(first.finished()), len(second.finished())) == (1, 2)


def test_the_first_app_installs_its_providers_as_the_global_ones() -> None:
    # A fresh interpreter: OpenTelemetry's global slot can be taken once per process.
    code = """
import conduit_otel
from opentelemetry import metrics, trace
from conduit import Conduit
from conduit.testing import TestClient
env = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
apps = [Conduit(plugins=[]), Conduit(plugins=[])]
for app in apps:
    conduit_otel.instrument(app, environ=env)
with TestClient(apps[0]), TestClient(apps[1]):
    first, second = (conduit_otel.telemetry(a) for a in apps)
    assert trace.get_tracer_provider() is first.tracer_provider
    assert metrics.get_meter_provider() is first.meter_provider
    assert second.tracer_provider is not first.tracer_provider
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
