"""Telemetry seams the kernel and plugins call; a tracing plugin fills them in.

``with span("inference", {"model": name}):`` opens whatever spans the running app's
enabled plugins return from ``conduit_span`` (none without a telemetry plugin, and none
outside a running app: the cost is then a context-variable read). ``plugin_metrics(app)`` gathers the ``conduit_metrics`` samples
for ``/metrics``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pluggy

from conduit.plugins import PluginManager, current_plugin_manager, resolve_sync

__all__ = ["MetricSample", "plugin_metrics", "record", "span"]

logger = logging.getLogger("conduit.telemetry")

MetricSample = tuple[str, str, dict[str, str], float]


@contextlib.contextmanager
def span(name: str, attributes: dict[str, Any] | None = None, *, pm: pluggy.PluginManager | None = None) -> Iterator[None]:
    """Run the block inside every span the app's enabled plugins open for ``name``.

    ``pm`` defaults to the manager of the app running in this context
    (:func:`conduit.plugins.current_plugin_manager`); outside an app no span is opened.
    """
    if pm is None:
        pm = current_plugin_manager(None)
        if pm is None:
            yield
            return
    caller = _listeners(pm, "conduit_span")
    if caller is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        for cm in caller(name=name, attributes=dict(attributes or {})):
            if cm is not None:
                stack.enter_context(cm)
        yield


def record(name: str, value: float = 1.0, attributes: dict[str, Any] | None = None) -> None:
    """Report a measurement to the running app's telemetry plugins (``conduit_measurement``).

    ``record("conduit.routing.decisions", 1, {"conduit.model": "gpt-4o"})`` counts one;
    ``record("conduit.routing.cost", 0.0004, {...})`` records a value. Nothing happens
    outside a running app or when no enabled plugin listens; a listener that fails is
    logged, never raised to the caller.
    """
    pm = current_plugin_manager(None)
    if pm is None:
        return
    caller = _listeners(pm, "conduit_measurement")
    if caller is None:
        return
    try:
        caller(name=name, value=float(value), attributes=dict(attributes or {}))
    except Exception:
        logger.debug("recording %s failed", name, exc_info=True)


def _listeners(pm: Any, name: str) -> Any:
    """App hook ``name`` of ``pm`` as the app calls it, or None when nobody implements it."""
    if isinstance(pm, PluginManager):
        return pm.app_hook(name) if pm.has_app_hook(name) else None
    caller = getattr(pm.hook, name)
    return caller if caller.get_hookimpls() else None


def plugin_metrics(app: Any) -> list[MetricSample]:
    """Every ``(name, type, labels, value)`` sample the plugins contribute, validated.

    Called from the (sync) metrics endpoint in a worker thread; a hookimpl that returns a
    coroutine is awaited on the event loop from there.
    """
    samples: list[MetricSample] = []
    for answer in app.plugin_manager.app_hook("conduit_metrics")(app=app):
        answer = _resolve_in_worker(answer)
        for sample in answer or ():
            name, kind, labels, value = sample
            if kind not in ("counter", "gauge"):
                raise ValueError(f"metric {name!r}: type must be 'counter' or 'gauge', got {kind!r}")
            samples.append((str(name), kind, {str(k): str(v) for k, v in labels.items()}, float(value)))
    return samples


def _resolve_in_worker(value: Any) -> Any:
    try:
        return resolve_sync(value)
    except RuntimeError:
        logger.warning("a conduit_metrics hookimpl returned a coroutine on the event-loop thread; skipped")
        return None
