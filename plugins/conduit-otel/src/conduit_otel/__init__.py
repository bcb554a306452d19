"""conduit-otel: OpenTelemetry traces and metrics for Conduit.

Turn it on with ``OTEL_ENABLED=true`` (or ``otel_enabled = true`` in ``[tool.conduit]``,
or ``conduit_otel.instrument(app)``); configure it with the standard ``OTEL_*``
variables. See docs/otel.md.
"""

from conduit_otel.config import OtelConfig
from conduit_otel.instrumentation import instrument, telemetry
from conduit_otel.instruments import RouterMetrics, router_metrics
from conduit_otel.propagation import extract, inject
from conduit_otel.runtime import OtelRuntime
from conduit_otel.tracing import traced

__all__ = [
    "OtelConfig",
    "OtelRuntime",
    "RouterMetrics",
    "extract",
    "inject",
    "instrument",
    "router_metrics",
    "telemetry",
    "traced",
]
