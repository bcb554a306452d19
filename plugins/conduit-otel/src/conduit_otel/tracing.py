"""Child spans: the kernel's ``conduit.telemetry.span`` seam and ``@traced`` for user code.

Both open an ``INTERNAL`` span under the current one (the request's server span inside a
handler), record an exception that escapes the block as an event with status ERROR and
``error.type``, and time the block into ``conduit.operation.duration``. With no enabled
app they do nothing: ``@traced`` calls the function straight through.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, overload

from opentelemetry.trace import SpanKind, Status, StatusCode

from conduit_otel.runtime import OtelRuntime, current_runtime
from conduit_otel.semconv import ERROR_TYPE

__all__ = ["child_span", "traced"]

F = TypeVar("F", bound=Callable[..., Any])

_OPERATION = "conduit.operation.name"


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keep what OpenTelemetry can carry; anything else becomes its ``str``."""
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if value is None:
            continue
        if isinstance(value, (str, bool, int, float)):
            out[str(key)] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
            out[str(key)] = list(value)
        else:
            out[str(key)] = str(value)
    return out


@contextlib.contextmanager
def child_span(
    runtime: OtelRuntime, name: str, attributes: Mapping[str, Any] | None = None, *, kind: SpanKind = SpanKind.INTERNAL
) -> Iterator[Any]:
    """A span named ``name`` under the current one, timed into ``conduit.operation.duration``."""
    tracer = runtime.tracer
    operations = runtime.operations
    error_type: str | None = None
    start = time.perf_counter()
    try:
        if tracer is None:
            try:
                yield None
            except BaseException as exc:
                error_type = type(exc).__qualname__
                raise
            return
        with tracer.start_as_current_span(
            name, kind=kind, attributes=_clean(attributes), record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield span
            except BaseException as exc:
                error_type = type(exc).__qualname__
                if isinstance(exc, Exception):
                    span.record_exception(exc)
                span.set_attribute(ERROR_TYPE, error_type)
                span.set_status(Status(StatusCode.ERROR, f"{error_type}: {exc}"[:256]))
                raise
    finally:
        if operations is not None:
            attrs = {_OPERATION: name}
            if error_type is not None:
                attrs[ERROR_TYPE] = error_type
            operations.duration.record(time.perf_counter() - start, attrs)


@overload
def traced(fn: F) -> F: ...


@overload
def traced(
    fn: None = None, *, name: str | None = None, attributes: Mapping[str, Any] | None = None
) -> Callable[[F], F]: ...


def traced(
    fn: F | None = None, *, name: str | None = None, attributes: Mapping[str, Any] | None = None
) -> Any:
    """Run a function (sync or async) inside a span named after it (or ``name``)::

        @traced
        def tokenize(text): ...

        @traced(name="llm.generate", attributes={"llm.vendor": "local"})
        async def generate(prompt): ...
    """

    def decorate(func: F) -> F:
        span_name = name or f"{func.__module__}.{func.__qualname__}"
        attrs = dict(attributes or {})
        attrs.setdefault("code.function.name", f"{func.__module__}.{func.__qualname__}")

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                runtime = current_runtime()
                if runtime is None:
                    return await func(*args, **kwargs)
                with child_span(runtime, span_name, attrs):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"@traced cannot time the generator {func.__qualname__!r} (its body runs after the call returns); "
                "open `with conduit.telemetry.span(...)` inside it instead"
            )

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            runtime = current_runtime()
            if runtime is None:
                return func(*args, **kwargs)
            with child_span(runtime, span_name, attrs):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    if fn is not None:
        if not callable(fn):
            raise TypeError(f"@traced decorates a function, got {type(fn).__name__}; use @traced or @traced(name=...)")
        return decorate(fn)
    return decorate
