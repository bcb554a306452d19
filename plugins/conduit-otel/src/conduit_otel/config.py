"""What conduit-otel does, read from the standard ``OTEL_*`` variables and Conduit settings.

Enabled or not, in this order: ``OTEL_SDK_DISABLED=true`` always turns it off; else an
explicit ``conduit_otel.instrument(app)`` or the ``otel_enabled`` setting decides; else the
seed's ``OTEL_ENABLED``; else it is off, so installing the plugin costs nothing until
asked for. Exporters, endpoints, headers and the resource come from the variables the
OpenTelemetry specification defines; a bad value is a :class:`ConfigurationError`
naming the variable and what it accepts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from conduit.config import Setting
from conduit.framework.errors import ConfigurationError

__all__ = [
    "DEFAULT_EXCLUDED_PATHS",
    "INSTRUMENTATIONS",
    "SETTINGS_SCHEMA",
    "OtelConfig",
    "OtlpTarget",
    "parse_key_values",
]

DEFAULT_EXCLUDED_PATHS: tuple[str, ...] = ("/health", "/health/*", "/metrics", "/v1/metrics")
#: Client libraries whose calls become spans (conduit_otel.clients), by the names their
#: opentelemetry-instrumentation packages' entry points carry (OTEL_PYTHON_DISABLED_INSTRUMENTATIONS).
INSTRUMENTATIONS: tuple[str, ...] = ("redis", "psycopg", "sqlite3")

TRACES_EXPORTERS = ("otlp", "console", "none")
METRICS_EXPORTERS = ("otlp", "console", "prometheus", "none")
PROTOCOLS = ("http/protobuf", "grpc")
SAMPLERS = (
    "always_on", "always_off", "traceidratio",
    "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _check_paths(paths: Any) -> str | None:
    bad = [p for p in paths if not isinstance(p, str) or not p.startswith("/")]
    return f"every path must start with '/', got {bad!r}" if bad else None


def _check_instrumentations(names: Any) -> str | None:
    bad = [n for n in names if not isinstance(n, str) or n.strip().lower() not in INSTRUMENTATIONS]
    return f"unknown client library {bad[0]!r}; use any of {', '.join(INSTRUMENTATIONS)}, or none" if bad else None


SETTINGS_SCHEMA: dict[str, Setting] = {
    "otel_enabled": Setting(
        (bool, type(None)), None,
        "turn conduit-otel on or off; unset: $OTEL_ENABLED, else off ($OTEL_SDK_DISABLED=true always wins)",
    ),
    "otel_excluded_paths": Setting(
        list, list(DEFAULT_EXCLUDED_PATHS),
        "request paths neither traced nor measured; a trailing '*' matches a prefix",
        check=_check_paths,
    ),
    "otel_body_size_metrics": Setting(
        bool, True,
        "record http.server.request.body.size / response.body.size (two SDK measurements a request; "
        "turn off on very hot endpoints)",
    ),
    "otel_lean_encoder": Setting(
        bool, True,
        "encode spans for OTLP/HTTP with conduit_otel.otlp_spans (the same bytes as the official "
        "encoder at a fraction of its CPU); false: the official encoder",
    ),
    "otel_set_global_providers": Setting(
        bool, True,
        "also install this app's tracer and meter providers as OpenTelemetry's global ones "
        "(only when no other was set), so other instrumentation joins the same pipeline",
    ),
    "otel_instrumentations": Setting(
        list, list(INSTRUMENTATIONS),
        "client libraries whose calls become spans under the request's (OpenTelemetry's own "
        "instrumentation packages): any of redis, psycopg, sqlite3; empty for none "
        "($OTEL_PYTHON_DISABLED_INSTRUMENTATIONS removes names too)",
        check=_check_instrumentations,
    ),
}


def _flag(environ: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    raw = environ.get(name)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"${name} must be true or false, got {raw!r}")


def parse_key_values(raw: str, name: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, *_HEADERS)."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"${name} must be a comma-separated list of key=value pairs; bad item {item!r}")
        out[unquote(key.strip())] = unquote(value.strip())
    return out


def _names(environ: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    raw = environ.get(name, default)
    names = tuple(dict.fromkeys(n.strip().lower() for n in raw.split(",") if n.strip()))
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigurationError(f"${name}: unknown exporter {unknown[0]!r}; use one or more of {', '.join(allowed)}")
    if "none" in names:
        return ()
    return names


@dataclass(frozen=True)
class OtlpTarget:
    """Where one signal goes over OTLP: full endpoint URL, protocol, extra headers."""

    endpoint: str
    protocol: str
    headers: dict[str, str] = field(default_factory=dict)


def _otlp_target(environ: Mapping[str, str], signal: str) -> OtlpTarget:
    upper = signal.upper()
    proto_var = f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL"
    protocol_name = proto_var if proto_var in environ else "OTEL_EXPORTER_OTLP_PROTOCOL"
    protocol = environ.get(protocol_name, "http/protobuf").strip().lower()
    if protocol not in PROTOCOLS:
        raise ConfigurationError(f"${protocol_name}: unsupported protocol {protocol!r}; use http/protobuf or grpc")
    specific = environ.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")
    if specific:
        endpoint = specific.strip()
    else:
        base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        if protocol == "grpc":
            endpoint = base or "http://localhost:4317"
        else:
            endpoint = (base or "http://localhost:4318").rstrip("/") + f"/v1/{signal}"
    if not re.match(r"^https?://[^/]+", endpoint):
        raise ConfigurationError(
            f"OTLP {signal} endpoint {endpoint!r} must be an http:// or https:// URL "
            "(set $OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://localhost:4318)"
        )
    headers: dict[str, str] = {}
    for name in ("OTEL_EXPORTER_OTLP_HEADERS", f"OTEL_EXPORTER_OTLP_{upper}_HEADERS"):
        if environ.get(name):
            headers.update(parse_key_values(environ[name], name))
    return OtlpTarget(endpoint, protocol, headers)


@dataclass(frozen=True)
class OtelConfig:
    """Everything the plugin needs to know, parsed once per app."""

    enabled: bool
    traces_enabled: bool = True
    metrics_enabled: bool = True
    service_name: str = "conduit"
    resource_attributes: dict[str, str] = field(default_factory=dict)
    traces_exporters: tuple[str, ...] = ("otlp",)
    metrics_exporters: tuple[str, ...] = ("otlp",)
    traces_otlp: OtlpTarget | None = None
    metrics_otlp: OtlpTarget | None = None
    metric_export_interval_ms: int = 60_000
    propagators: tuple[str, ...] = ("tracecontext", "baggage")
    excluded_paths: tuple[str, ...] = DEFAULT_EXCLUDED_PATHS
    excluded_urls: tuple[str, ...] = ()
    set_global_providers: bool = True
    body_size_metrics: bool = True
    lean_encoder: bool = True
    instrumentations: tuple[str, ...] = ()
    sampler: str = "parentbased_always_on"
    sampler_ratio: float = 1.0

    @classmethod
    def from_sources(
        cls,
        settings: Any = None,
        environ: Mapping[str, str] | None = None,
        *,
        explicit: bool | None = None,
    ) -> OtelConfig:
        """Read ``environ`` (default ``os.environ``) and the app's ``settings``.

        ``explicit`` is the in-code decision (``instrument(app, enabled=...)``).
        """
        env = os.environ if environ is None else environ
        get = settings.get if settings is not None else (lambda name, default=None: default)
        enabled = _enabled(env, get("otel_enabled", None), explicit)
        excluded = tuple(get("otel_excluded_paths", list(DEFAULT_EXCLUDED_PATHS)))
        set_global = bool(get("otel_set_global_providers", True))
        if not enabled:
            return cls(enabled=False, excluded_paths=excluded, set_global_providers=set_global)

        resource = parse_key_values(env.get("OTEL_RESOURCE_ATTRIBUTES", ""), "OTEL_RESOURCE_ATTRIBUTES")
        service = env.get("OTEL_SERVICE_NAME", "").strip() or resource.get("service.name") or "conduit"
        resource["service.name"] = service
        traces_exporters = _names(env, "OTEL_TRACES_EXPORTER", "otlp", TRACES_EXPORTERS)
        metrics_exporters = _names(env, "OTEL_METRICS_EXPORTER", "otlp", METRICS_EXPORTERS)
        interval = _metric_interval(env)
        sampler, ratio = _sampler(env)
        propagators = tuple(p.strip() for p in env.get("OTEL_PROPAGATORS", "tracecontext,baggage").split(",") if p.strip())
        return cls(
            enabled=True,
            traces_enabled=bool(_flag(env, "OTEL_TRACES_ENABLED", True)),
            metrics_enabled=bool(_flag(env, "OTEL_METRICS_ENABLED", True)),
            service_name=service,
            resource_attributes=resource,
            traces_exporters=traces_exporters,
            metrics_exporters=metrics_exporters,
            traces_otlp=_otlp_target(env, "traces") if "otlp" in traces_exporters else None,
            metrics_otlp=_otlp_target(env, "metrics") if "otlp" in metrics_exporters else None,
            metric_export_interval_ms=interval,
            propagators=propagators,
            excluded_paths=excluded,
            excluded_urls=_excluded_urls(env),
            set_global_providers=set_global,
            body_size_metrics=bool(get("otel_body_size_metrics", True)),
            lean_encoder=bool(get("otel_lean_encoder", True)),
            instrumentations=_instrumentations(env, get("otel_instrumentations", list(INSTRUMENTATIONS))),
            sampler=sampler,
            sampler_ratio=ratio,
        )


def _enabled(env: Mapping[str, str], setting: Any, explicit: bool | None) -> bool:
    """``OTEL_SDK_DISABLED`` always wins, then code, then the setting, then ``OTEL_ENABLED``."""
    if _flag(env, "OTEL_SDK_DISABLED", False):
        return False
    if explicit is not None:
        return explicit
    if setting is not None:
        return bool(setting)
    return bool(_flag(env, "OTEL_ENABLED", False))


def _metric_interval(env: Mapping[str, str]) -> int:
    raw = env.get("OTEL_METRIC_EXPORT_INTERVAL", "60000").strip()
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigurationError(f"$OTEL_METRIC_EXPORT_INTERVAL must be a positive number of milliseconds, got {raw!r}")
    return int(raw)


def _sampler(env: Mapping[str, str]) -> tuple[str, float]:
    """The sampler's name and its ratio (1.0 unless it is a trace-id ratio sampler)."""
    sampler = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    if sampler not in SAMPLERS:
        raise ConfigurationError(f"$OTEL_TRACES_SAMPLER: unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
    if "traceidratio" not in sampler:
        return sampler, 1.0
    raw = env.get("OTEL_TRACES_SAMPLER_ARG", "1.0").strip()
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigurationError(f"$OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got {raw!r}")
    return sampler, ratio


def _excluded_urls(env: Mapping[str, str]) -> tuple[str, ...]:
    urls = tuple(u.strip() for u in env.get("OTEL_PYTHON_EXCLUDED_URLS", "").split(",") if u.strip())
    for pattern in urls:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigurationError(f"$OTEL_PYTHON_EXCLUDED_URLS: {pattern!r} is not a regular expression ({exc})") from None
    return urls


def _instrumentations(env: Mapping[str, str], wanted: Any) -> tuple[str, ...]:
    """The client libraries to trace: the setting's, less ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.
    Names of other packages' instrumentations (requests, flask...) may be listed there too."""
    disabled = {n.strip().lower() for n in env.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    if "*" in disabled:
        return ()
    names = dict.fromkeys(str(n).strip().lower() for n in wanted)
    return tuple(n for n in names if n and n not in disabled)
