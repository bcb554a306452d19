"""opentelemetry-instrumentation-sqlite3, with sqlite3's ``Connection.execute`` shortcuts traced.

The upstream package traces statements run through a cursor (``conn.cursor().execute``)
but not sqlite3's own shortcuts ``conn.execute`` / ``conn.executemany``, which make their
cursor in C, out of its reach (open upstream: open-telemetry/opentelemetry-python-contrib
issue 3082). Most sqlite3 code, the router's history among it, uses the shortcuts. This
subclass of ``SQLite3Instrumentor`` changes one thing: the connection proxy it returns
runs the shortcuts on one of its traced cursors, which is what sqlite3 does inside them.
Everything else (span names, attributes, un-instrumenting) is the upstream package's.
Drop this module when the upstream package traces the shortcuts itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from sqlite3 import dbapi2
from typing import Any

from opentelemetry.instrumentation import dbapi
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.instrumentation.sqlite3.version import __version__

__all__ = ["SQLite3ShortcutInstrumentor"]

_SCOPE = "opentelemetry.instrumentation.sqlite3"  # the upstream package's instrumentation scope
_DATABASE_SYSTEM = "sqlite"


class _TracedConnection(dbapi.TracedConnectionProxy):
    """The upstream connection proxy, plus the two shortcuts going through its traced cursor."""

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any:
        return self.cursor().executemany(sql, parameters)


class _Integration(dbapi.DatabaseApiIntegration):
    def wrapped_connection(
        self, connect_method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[Any, Any]
    ) -> Any:
        connection = connect_method(*args, **kwargs)
        self.get_connection_attributes(connection)
        return _TracedConnection(connection, self)


class SQLite3ShortcutInstrumentor(SQLite3Instrumentor):
    """``SQLite3Instrumentor`` whose connections also trace ``execute``/``executemany``."""

    # BaseInstrumentor keeps one instance per class in ``_instance``: not the parent's.
    _instance = None
    _is_instrumented_by_opentelemetry = False

    def _instrument(self, **kwargs: Any) -> None:
        for module in (sqlite3, dbapi2):
            dbapi.wrap_connect(
                _SCOPE,
                module,  # type: ignore[arg-type]  # the module that has connect(); typed as the callable
                "connect",
                _DATABASE_SYSTEM,
                {},
                version=__version__,
                tracer_provider=kwargs.get("tracer_provider"),
                db_api_integration_factory=_Integration,
            )
