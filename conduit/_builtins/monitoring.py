"""Built-in plugin: request metrics, the health probes and the metrics endpoint, on by default.

``access_log = true`` adds one log line per request (``conduit.framework.monitoring.logging_middleware``).

Settings: ``monitoring`` (default true) turns all of it off; ``health_prefix``
(``/health``: ``/health``, ``/health/live``, ``/health/ready``, ``/health/startup``) and
``metrics_paths`` (``/metrics``, ``/v1/metrics``) move them. A path the app already routes
is left to the app, so the seed's own ``@app.get("/health")`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit.config import Setting
from conduit.hookspecs import hookimpl

__all__ = ["conduit_config_schema", "conduit_configure", "conduit_register_middleware", "conduit_register_routes"]


@hookimpl
def conduit_config_schema() -> dict[str, Setting]:
    return {
        "monitoring": Setting(bool, True, "collect request metrics and serve /health/* and /metrics"),
        "health_prefix": Setting(str, "/health", "where the health probes are served"),
        "metrics_paths": Setting(list, ["/metrics", "/v1/metrics"], "where the metrics endpoint is served"),
    }


@hookimpl
def conduit_register_routes(register: Callable[..., Any], app: Any) -> None:
    if not app.settings.monitoring:
        return
    from conduit.framework.monitoring import create_health_endpoint, create_metrics_endpoint

    def free(path: str) -> bool:
        return app.router.match("GET", path).route is None

    prefix = app.settings.health_prefix.rstrip("/")
    health = create_health_endpoint()
    for path in (prefix, f"{prefix}/live", f"{prefix}/ready", f"{prefix}/startup"):
        if free(path):
            register("GET", path, health, tags=["health"], summary="Health probe", name=f"health{path.replace('/', '_')}",
                     public=True)
    metrics = create_metrics_endpoint()
    for path in app.settings.metrics_paths:
        if free(path):
            register(
                "GET", path, metrics, tags=["monitoring"], summary="Metrics (JSON, or Prometheus text with ?format=prometheus)",
                name=f"metrics{path.replace('/', '_')}",
            )


@hookimpl
def conduit_configure(app: Any, settings: Any) -> None:
    # The app counts every request into this registry itself, outside all middleware (no
    # middleware layer: docs/benchmarks.md, "Built-in request metrics under load").
    if settings.monitoring and app.request_metrics is None:
        from conduit.framework.monitoring import kernel_metrics

        app.request_metrics = kernel_metrics()


@hookimpl
def conduit_register_middleware(register: Callable[..., Any], app: Any) -> None:
    if app.settings.access_log:
        from conduit.framework.monitoring import logging_middleware

        register(logging_middleware(), order=-999)
