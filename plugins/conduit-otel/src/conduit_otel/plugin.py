"""Hook implementations of the conduit-otel plugin (entry point ``conduit``: ``otel``).

Disabled (the default until ``OTEL_ENABLED=true``, ``otel_enabled`` or
``conduit_otel.instrument(app)``) it registers no middleware, so a request pays nothing;
the request started/finished hooks are deliberately not implemented, which keeps the
kernel on its no-hook fast path.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from conduit import hookimpl
from conduit.config import Setting
from conduit_otel.config import SETTINGS_SCHEMA, OtelConfig
from conduit_otel.instrumentation import options_for
from conduit_otel.middleware import OtelMiddleware, PathFilter
from conduit_otel.runtime import (
    OtelRuntime,
    current_runtime,
    register_runtime,
    runtime_for,
)
from conduit_otel.tracing import child_span

# Lower than any other plugin's order: the server span must enclose every other layer.
MIDDLEWARE_ORDER = -1_000_000


@hookimpl
def conduit_config_schema() -> dict[str, Setting]:
    return dict(SETTINGS_SCHEMA)


@hookimpl
def conduit_configure(app: Any, settings: Any) -> None:
    options = options_for(app)
    config = OtelConfig.from_sources(settings, options.environ, explicit=options.enabled)
    if not config.enabled:
        return
    kernel_metrics = options.kernel_metrics
    if kernel_metrics is None and options.bridge_kernel_metrics:
        from conduit.framework.monitoring import kernel_metrics as registry

        kernel_metrics = registry()
    runtime = OtelRuntime(
        config,
        span_processors=options.span_processors,
        metric_readers=options.metric_readers,
        environ=options.environ,
        kernel_metrics=kernel_metrics if options.bridge_kernel_metrics else None,
    )
    register_runtime(app, runtime)


@hookimpl
def conduit_register_middleware(register: Any, app: Any) -> None:
    runtime = runtime_for(app)
    if runtime is None:
        return
    config = runtime.config
    register(OtelMiddleware(runtime, PathFilter(config.excluded_paths, config.excluded_urls)), order=MIDDLEWARE_ORDER)


@hookimpl
def conduit_startup(app: Any) -> None:
    runtime = runtime_for(app)
    if runtime is not None:
        runtime.start()


@hookimpl
async def conduit_shutdown(app: Any) -> None:
    runtime = runtime_for(app)
    if runtime is not None:
        # Flushing may wait on the network (an OTLP export): keep it off the event loop.
        await anyio.to_thread.run_sync(runtime.shutdown)


@hookimpl
def conduit_span(name: str, attributes: dict[str, Any]) -> Any:
    runtime = current_runtime()
    if runtime is None:
        return None
    return child_span(runtime, name, attributes)


@hookimpl
def conduit_measurement(name: str, value: float, attributes: dict[str, Any]) -> None:
    """Measurements other plugins report (``conduit.telemetry.record``), such as the router's
    ``conduit.routing.*``, recorded on the running app's instruments."""
    from conduit_otel.instruments import router_metrics

    router_metrics().measure(name, value, attributes)
