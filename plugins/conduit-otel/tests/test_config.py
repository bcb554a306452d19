"""OTEL_* variables and Conduit settings decide what the plugin does; bad values are named."""

from __future__ import annotations

import pytest
from conduit_otel.config import SETTINGS_SCHEMA, OtelConfig
from conduit_otel.exporters import build_metric_readers, build_span_processors
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from conduit.config import load_settings
from conduit.framework.errors import ConfigurationError


def settings(**values):
    loaded = load_settings(values, environ={}, files=[])
    loaded.extend(SETTINGS_SCHEMA)
    return loaded


def test_off_unless_asked_for_as_the_seed_says() -> None:
    assert OtelConfig.from_sources(settings(), {}).enabled is False
    assert OtelConfig.from_sources(settings(), {"OTEL_ENABLED": "true"}).enabled is True
    assert OtelConfig.from_sources(settings(otel_enabled=True), {"OTEL_ENABLED": "false"}).enabled is True
    assert OtelConfig.from_sources(settings(otel_enabled=False), {"OTEL_ENABLED": "true"}).enabled is False
    assert OtelConfig.from_sources(settings(), {}, explicit=True).enabled is True


def test_otel_sdk_disabled_wins_over_everything() -> None:
    env = {"OTEL_SDK_DISABLED": "true", "OTEL_ENABLED": "true"}
    assert OtelConfig.from_sources(settings(otel_enabled=True), env, explicit=True).enabled is False


def test_otlp_endpoints_follow_the_specification() -> None:
    config = OtelConfig.from_sources(None, {
        "OTEL_ENABLED": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://metrics.example/ingest",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s%3Dcret,x-tenant=acme",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-tenant=traces",
    })
    assert config.traces_otlp.endpoint == "http://collector:4318/v1/traces"
    assert config.traces_otlp.protocol == "http/protobuf"
    assert config.traces_otlp.headers == {"api-key": "s=cret", "x-tenant": "traces"}
    assert config.metrics_otlp.endpoint == "https://metrics.example/ingest"
    assert config.metrics_otlp.headers == {"api-key": "s=cret", "x-tenant": "acme"}
    default = OtelConfig.from_sources(None, {"OTEL_ENABLED": "1"})
    assert default.traces_otlp.endpoint == "http://localhost:4318/v1/traces"
    grpc = OtelConfig.from_sources(None, {"OTEL_ENABLED": "1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert grpc.metrics_otlp.endpoint == "http://localhost:4317"


def test_service_name_and_resource_attributes() -> None:
    config = OtelConfig.from_sources(None, {
        "OTEL_ENABLED": "true",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=from-attrs,team=ml%20ops",
        "OTEL_SERVICE_NAME": "conduit-router",
    })
    assert config.service_name == "conduit-router"
    assert config.resource_attributes == {
        "deployment.environment": "prod", "service.name": "conduit-router", "team": "ml ops",
    }
    assert OtelConfig.from_sources(None, {"OTEL_ENABLED": "true"}).service_name == "conduit"


def test_seed_switches_turn_single_signals_off() -> None:
    config = OtelConfig.from_sources(None, {"OTEL_ENABLED": "true", "OTEL_TRACES_ENABLED": "false"})
    assert (config.traces_enabled, config.metrics_enabled) == (False, True)


def test_exporters_are_built_from_their_names() -> None:
    env = {"OTEL_ENABLED": "true", "OTEL_TRACES_EXPORTER": "otlp,console", "OTEL_METRICS_EXPORTER": "none"}
    config = OtelConfig.from_sources(None, env)
    processors = build_span_processors(config)
    assert [type(p).__name__ for p in processors] == ["BatchSpanProcessor", "SimpleSpanProcessor"]
    assert [type(p.span_exporter).__name__ for p in processors] == ["LeanOTLPSpanExporter", "ConsoleSpanExporter"]
    assert processors[0].span_exporter._endpoint == "http://localhost:4318/v1/traces"
    for processor in processors:
        processor.shutdown()
    official = OtelConfig.from_sources({"otel_lean_encoder": False}, env)  # the official encoder, when asked
    (processor, console) = build_span_processors(official)
    assert type(processor.span_exporter) is OTLPSpanExporter
    processor.shutdown()
    console.shutdown()
    readers, stops = build_metric_readers(config, env)
    assert readers == [] and stops == []


def test_grpc_protocol_uses_the_grpc_exporter() -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc", reason="the grpc extra is not installed")
    env = {"OTEL_ENABLED": "true", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_METRICS_EXPORTER": "none"}
    (processor,) = build_span_processors(OtelConfig.from_sources(None, env))
    assert type(processor.span_exporter).__module__.startswith("opentelemetry.exporter.otlp.proto.grpc")
    processor.shutdown()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_ENABLED": "perhaps"}, r"\$OTEL_ENABLED must be true or false"),
        ({"OTEL_SDK_DISABLED": "nah"}, r"\$OTEL_SDK_DISABLED must be true or false"),
        ({"OTEL_ENABLED": "1", "OTEL_TRACES_EXPORTER": "jaeger"}, r"\$OTEL_TRACES_EXPORTER: unknown exporter 'jaeger'"),
        ({"OTEL_ENABLED": "1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, r"unsupported protocol 'http/json'"),
        ({"OTEL_ENABLED": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, r"must be an http:// or https:// URL"),
        ({"OTEL_ENABLED": "1", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, r"\$OTEL_EXPORTER_OTLP_HEADERS must be .* key=value"),
        ({"OTEL_ENABLED": "1", "OTEL_METRIC_EXPORT_INTERVAL": "soon"}, r"\$OTEL_METRIC_EXPORT_INTERVAL must be a positive"),
        ({"OTEL_ENABLED": "1", "OTEL_PYTHON_EXCLUDED_URLS": "(unclosed"}, r"not a regular expression"),
        ({"OTEL_ENABLED": "1", "OTEL_TRACES_SAMPLER": "sometimes"}, r"\$OTEL_TRACES_SAMPLER: unknown sampler 'sometimes'"),
        ({"OTEL_ENABLED": "1", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
         r"\$OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1"),
    ],
)
def test_bad_values_are_configuration_errors_naming_the_variable(env, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        OtelConfig.from_sources(None, env)


def test_excluded_paths_setting_is_validated() -> None:
    loaded = load_settings({"otel_excluded_paths": ["health"]}, environ={}, files=[])
    loaded.extend(SETTINGS_SCHEMA)
    assert any("otel_excluded_paths" in p and "must start with '/'" in p for p in loaded.problems)
    from_env = load_settings(environ={"CONDUIT_OTEL_EXCLUDED_PATHS": "/a,/b/*"}, files=[])
    from_env.extend(SETTINGS_SCHEMA)
    assert from_env.otel_excluded_paths == ["/a", "/b/*"]


def test_the_sampler_comes_from_the_given_environment() -> None:
    from conduit_otel.sampling import build_sampler

    env = {"OTEL_ENABLED": "1", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}
    sampler = build_sampler(OtelConfig.from_sources(None, env))
    assert sampler.get_description() == "ParentBased{root:TraceIdRatioBased{0.25},remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"
    assert build_sampler(OtelConfig.from_sources(None, {"OTEL_ENABLED": "1"})).get_description().startswith(
        "ParentBased{root:AlwaysOnSampler"
    )


def test_every_database_client_library_is_instrumented_unless_turned_off() -> None:
    on = {"OTEL_ENABLED": "1"}
    assert OtelConfig.from_sources(settings(), on).instrumentations == ("redis", "psycopg", "sqlite3")
    assert OtelConfig.from_sources(settings(otel_instrumentations=[]), on).instrumentations == ()
    assert OtelConfig.from_sources(settings(otel_instrumentations=["Redis"]), on).instrumentations == ("redis",)
    # The standard variable of opentelemetry-instrument; names of other packages' instrumentations are fine.
    env = {**on, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "requests, sqlite3,redis"}
    assert OtelConfig.from_sources(settings(), env).instrumentations == ("psycopg",)
    assert OtelConfig.from_sources(settings(), {**on, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "*"}).instrumentations == ()
    assert OtelConfig.from_sources(settings(), {}).instrumentations == ()  # off: nothing is instrumented


def test_instrumentations_setting_is_validated_and_read_from_the_environment() -> None:
    loaded = load_settings({"otel_instrumentations": ["redis", "mongodb"]}, environ={}, files=[])
    loaded.extend(SETTINGS_SCHEMA)
    assert any("otel_instrumentations" in p and "unknown client library 'mongodb'" in p for p in loaded.problems)
    off = load_settings(environ={"CONDUIT_OTEL_INSTRUMENTATIONS": ""}, files=[])
    off.extend(SETTINGS_SCHEMA)
    assert OtelConfig.from_sources(off, {"OTEL_ENABLED": "1"}).instrumentations == ()
    some = load_settings(environ={"CONDUIT_OTEL_INSTRUMENTATIONS": "redis,psycopg"}, files=[])
    some.extend(SETTINGS_SCHEMA)
    assert OtelConfig.from_sources(some, {"OTEL_ENABLED": "1"}).instrumentations == ("redis", "psycopg")


def test_otel_enabled_alone_enables_the_plugin_for_an_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 001 sets OTEL_ENABLED=true and lists no plugins: conduit-otel is enabled."""
    from conduit import Conduit

    for name in ("CONDUIT_PLUGINS", "CONDUIT_DISABLED_PLUGINS", "CONDUIT_OTEL_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_ENABLED", "true")
    assert "otel" in Conduit().plugin_manager.enabled
    monkeypatch.setenv("CONDUIT_DISABLED_PLUGINS", "otel")  # disabled wins
    assert "otel" not in Conduit().plugin_manager.enabled
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    monkeypatch.setenv("OTEL_ENABLED", "false")
    assert "otel" not in Conduit().plugin_manager.enabled
