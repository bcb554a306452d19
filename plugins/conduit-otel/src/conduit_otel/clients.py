"""Spans for the client libraries Conduit reaches its databases through.

Redis (the kernel's state store: rate limits, sessions, shared state), PostgreSQL through
psycopg 3 and SQLite through the standard library's sqlite3 (the router's history) are
instrumented by OpenTelemetry's own packages, opentelemetry-instrumentation-redis,
-psycopg and -sqlite3, not by code of ours (:mod:`conduit_otel.sqlite` adds one thing
the sqlite3 package misses). Each command or statement is a ``CLIENT`` span with the
database semantic conventions (``db.system``, the statement, the server), a child of the
span current when it ran: the request's server span for work done in a request.

Those packages patch the library itself, for the whole process, so every client is seen
however and wherever it is made (a connection pool, a writer thread). Conduit's telemetry
belongs to the app instead (:mod:`conduit_otel.runtime`), so the packages are handed a
:class:`RuntimeTracerProvider`: it starts each span with the tracer provider of the app
whose request is running, else of the app started last, the rule every conduit-otel
span follows. A library is patched when the first app that asks for it starts and
restored when the last of them shuts down (:func:`acquire`, :func:`release`). One that
was instrumented before, by ``opentelemetry-instrument`` or your own
``RedisInstrumentor().instrument()``, is left as its owner set it up.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry import trace as trace_api

from conduit_otel.runtime import current_runtime

__all__ = ["RuntimeTracerProvider", "acquire", "instrumented", "release"]

logger = logging.getLogger("conduit_otel")

# name -> (the module the library installs, the instrumentation package to pip install)
_LIBRARIES: dict[str, tuple[str, str]] = {
    "redis": ("redis", "opentelemetry-instrumentation-redis"),
    "psycopg": ("psycopg", "opentelemetry-instrumentation-psycopg"),
    "sqlite3": ("sqlite3", "opentelemetry-instrumentation-sqlite3"),
}

_lock = threading.Lock()
_users: dict[str, int] = {}  # library -> started runtimes holding it
_owned: set[str] = set()  # the libraries patched here (and so restored here)
_NO_OP = trace_api.NoOpTracer()


class _RuntimeTracer(trace_api.Tracer):
    """Starts each span with the running app's tracer (the same scope in every app)."""

    def __init__(self, scope: tuple[Any, ...]) -> None:
        self._scope = scope
        self._tracers: weakref.WeakKeyDictionary[Any, trace_api.Tracer] = weakref.WeakKeyDictionary()

    def _tracer(self) -> trace_api.Tracer:
        runtime = current_runtime()
        provider = runtime.tracer_provider if runtime is not None else None
        if provider is None:  # no app traces now
            return _NO_OP
        tracer = self._tracers.get(provider)
        if tracer is None:
            tracer = self._tracers[provider] = provider.get_tracer(*self._scope)
        return tracer

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._tracer().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._tracer().start_as_current_span(*args, **kwargs)


class RuntimeTracerProvider(trace_api.TracerProvider):
    """The tracer provider the instrumentation packages get: its tracers start each span
    with the tracer provider of the running app's runtime (:func:`current_runtime`)."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> trace_api.Tracer:
        return _RuntimeTracer((instrumenting_module_name, instrumenting_library_version, schema_url, attributes))


_PROVIDER = RuntimeTracerProvider()


def _instrumentor(name: str) -> Any:
    if name == "redis":
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        return RedisInstrumentor()
    if name == "psycopg":
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        return PsycopgInstrumentor()
    from conduit_otel.sqlite import SQLite3ShortcutInstrumentor

    return SQLite3ShortcutInstrumentor()


def _foreign(name: str) -> bool:
    """Whether someone else instrumented ``name`` (its upstream instrumentor is on)."""
    if name != "sqlite3":
        return False  # the upstream instrumentor is the one used here: _instrumentor tells
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    return bool(SQLite3Instrumentor().is_instrumented_by_opentelemetry)


def _patch(name: str) -> bool:
    """Instrument ``name`` unless it is instrumented already; False when it can't be."""
    module, package = _LIBRARIES[name]
    if importlib.util.find_spec(module) is None:
        logger.debug("%s is not installed: nothing of it to trace", module)
        return False
    try:
        instrumentor = _instrumentor(name)
    except ImportError as exc:
        logger.warning("%s calls are not traced: %s (pip install %s)", name, exc, package)
        return False
    if instrumentor.is_instrumented_by_opentelemetry or _foreign(name):
        return True  # someone else's: their tracer provider, their un-instrumenting
    try:
        instrumentor.instrument(tracer_provider=_PROVIDER)
    except Exception:
        logger.exception("instrumenting %s failed; its calls are not traced", name)
        return False
    if not instrumentor.is_instrumented_by_opentelemetry:  # a version conflict, logged by the package
        return False
    _owned.add(name)
    return True


def acquire(names: Iterable[str]) -> tuple[str, ...]:
    """Instrument the client libraries ``names`` (from ``otel_instrumentations``) for one
    starting runtime; returns those now held, to hand back to :func:`release`."""
    held: list[str] = []
    with _lock:
        for name in dict.fromkeys(names):
            if name not in _LIBRARIES:
                continue
            if not _users.get(name) and not _patch(name):
                continue
            _users[name] = _users.get(name, 0) + 1
            held.append(name)
    return tuple(held)


def release(names: Iterable[str]) -> None:
    """One runtime lets go of ``names``; a library nobody holds any more is restored."""
    with _lock:
        for name in names:
            count = _users.get(name, 0) - 1
            if count > 0:
                _users[name] = count
                continue
            _users.pop(name, None)
            if name in _owned:
                _owned.discard(name)
                try:
                    _instrumentor(name).uninstrument()
                except Exception:
                    logger.exception("un-instrumenting %s failed", name)


def instrumented() -> tuple[str, ...]:
    """The client libraries conduit-otel has patched now."""
    with _lock:
        return tuple(sorted(_owned))
