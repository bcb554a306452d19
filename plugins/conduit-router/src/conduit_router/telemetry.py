"""Recording the conduit.routing.* metrics through conduit-otel when it is installed.

conduit-otel owns the instruments (``conduit_otel.instruments.router_metrics()``); this
module imports it lazily and does nothing when it is absent or telemetry is off, so the
router never depends on OpenTelemetry.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["record_cache", "record_decision", "record_feedback"]

logger = logging.getLogger("conduit.router")
_missing = False


def _recorder() -> Any:
    global _missing
    if _missing:
        return None
    try:
        from conduit_otel.instruments import router_metrics
    except ImportError:
        _missing = True
        return None
    try:
        return router_metrics()
    except Exception:
        logger.debug("conduit-otel router metrics unavailable", exc_info=True)
        return None


def record_decision(model: str, domain: str, *, cost_usd: float | None = None, latency_ms: float | None = None,
                    confidence: float | None = None) -> None:
    recorder = _recorder()
    if recorder is not None:
        try:
            recorder.record_decision(model, domain, cost_usd=cost_usd, latency_ms=latency_ms, confidence=confidence)
        except Exception:
            logger.debug("recording a routing decision failed", exc_info=True)


def record_feedback(feedback_type: str, source: str) -> None:
    recorder = _recorder()
    if recorder is not None:
        try:
            recorder.record_feedback(feedback_type, source)
        except Exception:
            logger.debug("recording feedback failed", exc_info=True)


def record_cache(cache: str, hit: bool) -> None:
    recorder = _recorder()
    if recorder is not None:
        try:
            (recorder.record_cache_hit if hit else recorder.record_cache_miss)(cache)
        except Exception:
            logger.debug("recording a cache lookup failed", exc_info=True)
