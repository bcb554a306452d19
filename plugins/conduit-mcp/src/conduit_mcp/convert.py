"""Check JSON arguments against type hints and turn them into Python values, and back.

The kernel's engine (:mod:`conduit.schema`) does the work; these are its names in MCP's terms.
:func:`from_json` is the inverse of :func:`conduit_mcp.schema.type_schema`: a tool annotated
``point: Point`` (a dataclass) receives a ``Point``, ``colour: Colour`` (an Enum) a member,
``when: datetime`` a ``datetime``. A value that does not fit raises :class:`ArgumentError`
whose message names the argument path and what was expected, so a model reading the tool
error can correct its call.

:func:`from_text` does the same for the string values MCP uses for prompt arguments and
URI-template variables (``"3"`` for an ``int`` parameter).

:func:`dumps` is the kernel's JSON encoder (orjson: dataclasses, enums, datetimes, numpy
arrays, pydantic models, sets).
"""

from __future__ import annotations

from typing import Any

import orjson

from conduit.http.response import dumps
from conduit.schema import CoercionError, coerce, coerce_text

__all__ = ["ArgumentError", "dumps", "from_json", "from_text", "to_jsonable"]

ArgumentError = CoercionError
"""An argument does not match its declared type (the kernel's :class:`~conduit.schema.CoercionError`)."""


def from_json(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` (decoded JSON) against ``tp`` and convert it."""
    return coerce(value, tp, path)


def from_text(text: str, tp: Any, path: str) -> Any:
    """Convert a string argument (prompt argument, URI variable) to ``tp``."""
    return coerce_text(text, tp, path)


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (dicts, lists, strings, numbers, booleans, null)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if all(v is None or isinstance(v, (str, bool, int, float)) for v in value.values()):
            return value
    return orjson.loads(dumps(value))
