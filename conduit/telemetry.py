"""Telemetry seams the kernel and plugins call; a tracing plugin fills them in.

``with span("inference", {"model": name}):`` opens whatever spans the installed plugins
return from ``conduit_span`` (none without a telemetry plugin: the cost is one hook call
with no implementations). ``plugin_metrics(app)`` gathers the ``conduit_metrics`` samples
for ``/metrics``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

import pluggy

from conduit.plugins import resolve_sync

__all__ = ["span", "plugin_metrics", "MetricSample"]

logger = logging.getLogger("conduit.telemetry")

MetricSample = tuple[str, str, dict[str, str], float]


@contextlib.contextmanager
def span(name: str, attributes: dict[str, Any] | None = None, *, pm: pluggy.PluginManager | None = None) -> Iterator[None]:
    """Run the block inside every span the plugins open for ``name``.

    ``pm`` defaults to the process-wide plugin manager (``conduit.plugins``).
    """
    if pm is None:
        from conduit.plugins import default_plugin_manager

        pm = default_plugin_manager()
    caller = pm.hook.conduit_span
    if not caller.get_hookimpls():
        yield
        return
    with contextlib.ExitStack() as stack:
        for cm in caller(name=name, attributes=dict(attributes or {})):
            if cm is not None:
                stack.enter_context(cm)
        yield


def plugin_metrics(app: Any) -> list[MetricSample]:
    """Every ``(name, type, labels, value)`` sample the plugins contribute, validated.

    Called from the (sync) metrics endpoint in a worker thread; a hookimpl that returns a
    coroutine is awaited on the event loop from there.
    """
    samples: list[MetricSample] = []
    for answer in app.plugin_manager.hook.conduit_metrics(app=app):
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
