"""The router's conduit.routing.* and conduit.cache.* measurements.

They go to ``conduit.telemetry.record``, which hands them to the running app's enabled
telemetry plugins (conduit-otel turns them into OpenTelemetry instruments) through the
``conduit_measurement`` hook; without one they cost a context-variable read. The router
imports no other plugin. Cache lookups also count in the kernel's request metrics (seed
003's ``cache`` figures on ``/metrics``).
"""

from __future__ import annotations

from conduit.framework.monitoring import kernel_metrics
from conduit.telemetry import record

__all__ = ["record_cache", "record_decision", "record_feedback"]


def record_decision(model: str, domain: str, *, cost_usd: float | None = None, latency_ms: float | None = None,
                    confidence: float | None = None) -> None:
    attributes = {"conduit.model": model, "conduit.domain": domain}
    record("conduit.routing.decisions", 1, attributes)
    if cost_usd is not None:
        record("conduit.routing.cost", cost_usd, attributes)
    if latency_ms is not None:
        record("conduit.routing.latency", latency_ms, attributes)
    if confidence is not None:
        record("conduit.routing.confidence", confidence, attributes)


def record_feedback(feedback_type: str, source: str) -> None:
    record("conduit.feedback.submissions", 1, {"conduit.feedback.type": feedback_type, "conduit.feedback.source": source})


def record_cache(cache: str, hit: bool) -> None:
    """One lookup of the router's ``cache`` ("response", "features"): a hit or a miss."""
    metrics = kernel_metrics()
    (metrics.record_cache_hit if hit else metrics.record_cache_miss)(cache=cache)
    record("conduit.cache.hits" if hit else "conduit.cache.misses", 1, {"conduit.cache": cache})
