"""Strings into the Python values a type hint declares: query parameters, prompt arguments, URI
variables.

:func:`text_converter` gives the converter of one scalar type, built once (the kernel's query
parameters use it on every request); :func:`coerce_text` converts a whole string argument,
decoding JSON text for the types a string alone cannot spell (``"[1, 2]"`` for ``list[int]``).
The rules are the wire's: an integer is ASCII digits with an optional ``-`` and fits in 64 bits,
a number is a finite decimal, a boolean one of ``true/false/1/0/yes/no/on/off`` (any case).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import typing
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from conduit.schema._types import NONE_TYPE, CoercionError, SchemaError, kind_of
from conduit.schema.coerce import coerce

__all__ = ["INT64", "coerce_text", "text_converter"]

INT64 = (-(2**63), 2**63 - 1)
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}

Converter = Callable[[str], Any]
"""Raises ValueError or LookupError for a string that does not convert."""


def _int(raw: str) -> int:
    if not raw.isascii() or not (raw.isdigit() or (raw[:1] == "-" and raw[1:].isdigit())):
        raise ValueError(raw)
    value = int(raw)
    if not INT64[0] <= value <= INT64[1]:
        raise ValueError(raw)
    return value


def _float(raw: str) -> float:
    if not _NUMBER.fullmatch(raw):
        raise ValueError(raw)
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _bool(raw: str) -> bool:
    return _BOOLS[raw.lower()]  # KeyError is a LookupError


_FIXED: dict[Any, tuple[Converter, str]] = {
    str: (str, "a string"),
    int: (_int, "an integer (64-bit)"),
    float: (_float, "a number"),
    bool: (_bool, "true or false"),
    uuid.UUID: (uuid.UUID, "a UUID"),
    dt.datetime: (dt.datetime.fromisoformat, "an ISO 8601 datetime"),
    dt.date: (dt.date.fromisoformat, "an ISO 8601 date"),
    dt.time: (dt.time.fromisoformat, "an ISO 8601 time"),
}


def text_converter(tp: Any) -> tuple[Converter, str]:
    """``(convert, what)`` for a scalar type: str, int, float, bool, UUID, datetime, date, time,
    an Enum (by its values' text) or a Literal of str/int/bool. ``what`` ends a message
    ("must be an integer (64-bit)"). Raises :class:`SchemaError` for any other type."""
    if isinstance(tp, type) and tp in _FIXED:
        return _FIXED[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _by_text({str(m.value): m for m in tp})
    if typing.get_origin(tp) is typing.Literal:
        return _literal(typing.get_args(tp))
    raise SchemaError(f"{tp!r} cannot be read from text; use str, int, float, bool, UUID, a datetime, an Enum or a Literal")


def _by_text(choices: dict[str, Any]) -> tuple[Converter, str]:
    return choices.__getitem__, "one of " + ", ".join(repr(text) for text in choices)


def _literal(values: tuple[Any, ...]) -> tuple[Converter, str]:
    """A Literal's values by their text; a boolean one is spelled as a ``bool`` parameter's."""
    by_text, what = _by_text({(str(v).lower() if isinstance(v, bool) else str(v)): v for v in values})
    booleans = {v for v in values if isinstance(v, bool)}
    if not booleans:
        return by_text, what

    def convert(raw: str) -> Any:
        try:
            return by_text(raw)
        except KeyError:
            value = _bool(raw)
            if value in booleans:
                return value
            raise

    return convert, what


def coerce_text(text: str, tp: Any, path: str = "value") -> Any:
    """Convert a string argument to ``tp``; ``path`` names it in errors (:class:`CoercionError`)."""
    if not isinstance(text, str):
        return coerce(text, tp, path)
    target = _scalar_target(tp)
    if target in (str, Any, object):
        return coerce(text, tp, path) if tp not in (Any, object) else text
    try:
        convert, what = text_converter(target)
    except SchemaError:
        return coerce(_json(text, path), tp, path)
    try:
        value = convert(text)
    except (ValueError, LookupError):
        raise CoercionError(f"argument {path!r} must be {what}, got string {_shown(text)}") from None
    return coerce(value, tp, path)  # Annotated constraints, Optional


def _scalar_target(tp: Any) -> Any:
    """``tp`` without Annotated, NewType and a single-member Optional around it."""
    kind = kind_of(tp)
    if kind == "annotated":
        return _scalar_target(typing.get_args(tp)[0])
    if kind == "newtype":
        return _scalar_target(tp.__supertype__)
    if kind == "union":
        members = [a for a in typing.get_args(tp) if a not in (None, NONE_TYPE)]
        return _scalar_target(members[0]) if len(members) == 1 else tp
    return tp


def _json(text: str, path: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise CoercionError(f"argument {path!r} must be JSON text, got string {_shown(text)}") from None


def _shown(text: str) -> str:
    return repr(text) if len(repr(text)) <= 60 else repr(text)[:57] + "..."
