"""Samplers, and the server span's sampled-out fast path.

``OTEL_TRACES_SAMPLER`` names one of the SDK's samplers (:func:`build_sampler`). For a
request that starts a trace (no ``traceparent``, no current span) under a trace-id ratio
sampler (or ``always_off``), the decision depends on nothing but the trace id: sampled
when its low 64 bits are below the ratio's bound (``TraceIdRatioBased``'s rule, with or
without ``ParentBased``, whose root sampler decides a span without a parent). The
middleware draws the trace id itself (:func:`draw_trace_id`) and decides first:

* sampled out: it makes the ``NonRecordingSpan`` the SDK would have made (same trace id
  rule, a random span id, flags 00) and skips the SDK's ``start_span``, the sampler call
  and the span attributes it would only have thrown away (docs/benchmarks.md, OpenTelemetry);
* sampled in: the SDK starts the span as usual, with that same trace id handed to it by
  :class:`PresetIdGenerator` (the provider's id generator), so the SDK's sampler takes
  the same decision and the ratio is exactly the configured one.

Requests with trace context, and every other sampler, go through the SDK unchanged.
"""

from __future__ import annotations

import random
import threading

from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import INVALID_SPAN_ID, INVALID_TRACE_ID

from conduit_otel.config import OtelConfig

__all__ = ["TRACE_ID_LIMIT", "PresetIdGenerator", "build_sampler", "draw_trace_id", "root_bound"]

TRACE_ID_LIMIT = TraceIdRatioBased.TRACE_ID_LIMIT  # the low 64 bits the ratio rule reads
_getrandbits = random.getrandbits


def build_sampler(config: OtelConfig) -> Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER`` / ``_ARG`` name (read from the config's environ)."""
    name = config.sampler
    if name.endswith("traceidratio"):
        root: Sampler = TraceIdRatioBased(config.sampler_ratio)
    else:
        root = ALWAYS_OFF if name.endswith("always_off") else ALWAYS_ON
    return ParentBased(root) if name.startswith("parentbased_") else root


def root_bound(config: OtelConfig) -> int | None:
    """The bound a root span's trace id is compared with, when the sampler decides roots by
    trace id alone (ratio or always-off, parent-based or not); None otherwise."""
    name = config.sampler
    if name.endswith("traceidratio"):
        return TraceIdRatioBased.get_bound_for_rate(config.sampler_ratio)
    if name.endswith("always_off"):
        return 0
    return None


def draw_trace_id() -> int:
    """A random, valid trace id (what the SDK's ``RandomIdGenerator`` draws)."""
    trace_id = _getrandbits(128)
    while trace_id == INVALID_TRACE_ID:  # pragma: no cover - one chance in 2**128
        trace_id = _getrandbits(128)
    return trace_id


def draw_span_id() -> int:
    span_id = _getrandbits(64)
    while span_id == INVALID_SPAN_ID:  # pragma: no cover - one chance in 2**64
        span_id = _getrandbits(64)
    return span_id


class PresetIdGenerator(RandomIdGenerator):
    """Random ids, except that the next trace id of this thread can be chosen beforehand
    (:meth:`preset`): the middleware's already-drawn id for a span it knows is sampled."""

    def __init__(self) -> None:
        self._local = threading.local()

    def preset(self, trace_id: int) -> None:
        self._local.trace_id = trace_id

    def generate_trace_id(self) -> int:
        local = self._local
        trace_id = getattr(local, "trace_id", None)
        if trace_id is not None:
            local.trace_id = None
            return trace_id
        return super().generate_trace_id()
