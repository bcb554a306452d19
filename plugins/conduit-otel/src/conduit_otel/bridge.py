"""The kernel's metrics registry (``conduit.framework.monitoring._metrics``) seen through OpenTelemetry.

Every family the registry renders for ``/metrics`` becomes an observable instrument
named ``conduit.kernel.<name>`` (the registry's namespace and a counter's ``_total``
dropped, as OpenTelemetry names go): counters as observable counters, gauges as
observable gauges, a histogram as ``<name>.count`` and ``<name>.sum`` counters (an
observable histogram does not exist). Values are read when a reader collects, never
copied on the request path.

The registry's own per-request families (``http_requests_total``,
``http_request_duration_seconds``, filled by the kernel's monitoring middleware) are
left out: the ``http.server.*`` instruments measure the same requests the standard way.

Instruments cannot be created while a collection runs, so families that first appear
later are picked up by :meth:`KernelMetricsBridge.sync`, which the middleware calls at
most every ``resync_seconds``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["SKIPPED", "KernelMetricsBridge", "otel_name"]

logger = logging.getLogger("conduit_otel")

# Already measured natively by http.server.request.duration; bridging would count twice.
SKIPPED = frozenset({"conduit.kernel.http_requests", "conduit.kernel.http_request_duration_seconds",
                     "conduit.kernel.uptime_seconds"})


def otel_name(family_name: str, kind: str, namespace: str) -> str:
    """``conduit_predictions_total`` (counter) → ``conduit.kernel.predictions``."""
    name = family_name
    if namespace and name.startswith(namespace + "_"):
        name = name[len(namespace) + 1 :]
    if kind == "counter" and name.endswith("_total"):
        name = name[: -len("_total")]
    return f"conduit.kernel.{name}"


class KernelMetricsBridge:
    """Observable instruments over one :class:`conduit.framework.metrics.Metrics`."""

    def __init__(self, meter: Meter, metrics: Any, *, resync_seconds: float = 5.0) -> None:
        self.meter = meter
        self.metrics = metrics
        self.resync_seconds = resync_seconds
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._values: dict[str, list[tuple[dict[str, str], float]]] = {}
        # Registered first, so it runs first in every collection: it takes the snapshot
        # that the other callbacks read.
        meter.create_observable_gauge(
            "conduit.kernel.uptime",
            callbacks=[self._refresh_and_observe_uptime],
            unit="s",
            description="Seconds since the kernel's metrics registry started.",
        )
        self.sync()

    def _snapshot(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        values: dict[str, list[tuple[dict[str, str], float]]] = {}
        namespace = getattr(self.metrics, "namespace", "")
        for family in self.metrics.families():
            if otel_name(family.name, family.type, namespace) in SKIPPED:
                continue
            if family.type in ("counter", "gauge"):
                name = otel_name(family.name, family.type, namespace)
                values.setdefault(name, []).extend((dict(s.labels), s.value) for s in family.samples)
            elif family.type == "histogram":
                base = otel_name(family.name, "histogram", namespace)
                for sample in family.samples:
                    if sample.name.endswith("_count"):
                        values.setdefault(base + ".count", []).append((dict(sample.labels), sample.value))
                    elif sample.name.endswith("_sum"):
                        values.setdefault(base + ".sum", []).append((dict(sample.labels), sample.value))
        return values

    def _kinds(self) -> Iterable[tuple[str, str, str]]:
        namespace = getattr(self.metrics, "namespace", "")
        for family in self.metrics.families():
            if otel_name(family.name, family.type, namespace) in SKIPPED:
                continue
            if family.type in ("counter", "gauge"):
                yield otel_name(family.name, family.type, namespace), family.type, family.help
            elif family.type == "histogram":
                base = otel_name(family.name, "histogram", namespace)
                yield base + ".count", "counter", f"{family.help} (observation count)"
                yield base + ".sum", "counter", f"{family.help} (sum of observations)"

    def sync(self) -> int:
        """Create instruments for families not bridged yet; returns how many were added."""
        added = 0
        with self._lock:
            for name, kind, help_text in self._kinds():
                if name in self._known:
                    continue
                self._known.add(name)
                callback = self._observer(name)
                if kind == "counter":
                    self.meter.create_observable_counter(name, callbacks=[callback], description=help_text)
                else:
                    self.meter.create_observable_gauge(name, callbacks=[callback], description=help_text)
                added += 1
        return added

    def _refresh_and_observe_uptime(self, options: CallbackOptions) -> Iterable[Observation]:
        try:
            self._values = self._snapshot()
        except Exception:
            logger.exception("reading the kernel metrics registry failed")
            self._values = {}
        return [Observation(float(self.metrics.uptime_seconds))]

    def _observer(self, name: str) -> Any:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(value, labels) for labels, value in self._values.get(name, ())]

        return observe
