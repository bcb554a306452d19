"""W3C trace context in and out: ``traceparent``/``tracestate`` (and ``baggage``).

The propagators are the SDK's, chosen by ``OTEL_PROPAGATORS`` (default
``tracecontext,baggage``; other names load from the ``opentelemetry_propagator`` entry
points, e.g. ``b3`` with ``opentelemetry-propagator-b3``). :func:`inject` puts the current
trace context on an outgoing call's headers::

    headers = conduit_otel.inject({"Authorization": key})
    httpx.post(url, headers=headers)
"""

from __future__ import annotations

from collections.abc import MutableMapping
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter, TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from conduit.framework.errors import ConfigurationError

__all__ = ["HeadersGetter", "build_propagator", "extract", "inject"]

_BUILTIN: dict[str, type[TextMapPropagator]] = {
    "tracecontext": TraceContextTextMapPropagator,
    "baggage": W3CBaggagePropagator,
}
_DEFAULT = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


def build_propagator(names: tuple[str, ...] | list[str]) -> TextMapPropagator:
    """A composite of the named propagators (``none`` alone gives one that does nothing)."""
    parts: list[TextMapPropagator] = []
    for name in names:
        if name == "none":
            continue
        if name in _BUILTIN:
            parts.append(_BUILTIN[name]())
            continue
        found = list(entry_points(group="opentelemetry_propagator", name=name))
        if not found:
            raise ConfigurationError(
                f"$OTEL_PROPAGATORS: no propagator named {name!r}; built in: tracecontext, baggage, none "
                "(others come from packages such as opentelemetry-propagator-b3)"
            )
        parts.append(found[0].load()())
    return CompositePropagator(parts)


class HeadersGetter(Getter[Any]):
    """Reads a :class:`conduit.HTTPRequest`'s (case-insensitive) headers."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        values = carrier.getlist(key)
        return values or None

    def keys(self, carrier: Any) -> list[str]:
        return list(carrier.keys())


_GETTER = HeadersGetter()


def extract(headers: Any, propagator: TextMapPropagator | None = None) -> Context:
    """The remote context a request's headers carry (an empty one when none)."""
    return (propagator or _current_propagator()).extract(headers, getter=_GETTER)


def inject(headers: MutableMapping[str, str] | None = None, context: Context | None = None) -> MutableMapping[str, str]:
    """Add ``traceparent``/``tracestate``/``baggage`` for the current span to ``headers``.

    Returns ``headers`` (a new dict when none is given), so it can be used inline.
    """
    carrier: MutableMapping[str, str] = {} if headers is None else headers
    _current_propagator().inject(carrier, context=context)
    return carrier


def _current_propagator() -> TextMapPropagator:
    from conduit_otel.runtime import current_runtime

    runtime = current_runtime()
    return runtime.propagator if runtime is not None else _DEFAULT
