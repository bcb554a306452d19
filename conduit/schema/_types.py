"""What both directions of the engine read from a type hint: its kind, its fields, its defaults.

:func:`kind_of` sorts an annotation into one of a few kinds; the schema builder and the
coercer each keep one small function a kind, so the two directions cannot drift apart on
what a type means.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import sys
import types
import typing
import uuid
from collections.abc import Mapping, MutableSequence, MutableSet, Sequence, Set
from typing import Any

from conduit.errors import ConduitError

__all__ = [
    "NOT_JSON",
    "CoercionError",
    "SchemaError",
    "is_typeddict",
    "json_default",
    "json_kind",
    "kind_of",
    "type_hints",
    "typeddict_fields",
]

NONE_TYPE = type(None)
EMPTY = inspect.Parameter.empty


class SchemaError(ConduitError, TypeError):
    """A type hint that has no JSON Schema; the message says where and what to use instead."""


class CoercionError(ConduitError, ValueError):
    """A JSON value that does not fit its declared type; the message names its path."""


class _NotJSON:
    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Any = _NotJSON()
"""What :func:`json_default` gives for a value with no JSON form."""

# Scalars whose JSON form is one JSON type (with a format for the text-encoded ones).
SCALARS: dict[Any, dict[str, str]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.date: {"type": "string", "format": "date"},
    dt.time: {"type": "string", "format": "time"},
    uuid.UUID: {"type": "string", "format": "uuid"},
}
SET_TYPES = (set, frozenset, Set, MutableSet)

_BY_ORIGIN: dict[Any, str] = {
    typing.Annotated: "annotated",
    typing.Required: "required",
    typing.NotRequired: "required",
    typing.Union: "union",
    types.UnionType: "union",
    typing.Literal: "literal",
    tuple: "tuple",
    dict: "mapping",
    Mapping: "mapping",
    **dict.fromkeys((list, set, frozenset, Sequence, MutableSequence, Set, MutableSet), "array"),
}
_BARE: dict[Any, str] = {list: "array", set: "array", frozenset: "array", tuple: "tuple", dict: "mapping", bytes: "bytes"}


def kind_of(tp: Any) -> str:
    """The kind of an annotation: ``any``, ``null``, ``raw`` (a JSON Schema given as a dict),
    ``scalar``, ``bytes``, ``newtype``, ``annotated``, ``required``, ``union``, ``literal``,
    ``enum``, ``tuple``, ``array``, ``mapping``, ``dataclass``, ``typeddict``, ``model``
    (pydantic) or ``unknown``."""
    if tp is Any or tp is object or tp is EMPTY:
        return "any"
    if tp is None or tp is NONE_TYPE:
        return "null"
    if isinstance(tp, Mapping):
        return "raw"
    origin = typing.get_origin(tp)
    if origin is not None:
        return _BY_ORIGIN.get(origin, "unknown")
    if getattr(tp, "__supertype__", None) is not None:  # typing.NewType
        return "newtype"
    if not isinstance(tp, type):
        return "unknown"
    return _class_kind(tp)


def _class_kind(tp: type) -> str:
    if tp in SCALARS:
        return "scalar"
    if tp in _BARE:
        return _BARE[tp]
    if issubclass(tp, enum.Enum):
        return "enum"
    if dataclasses.is_dataclass(tp):
        return "dataclass"
    if is_typeddict(tp):
        return "typeddict"
    if callable(getattr(tp, "model_json_schema", None)):  # pydantic, when the user has it
        return "model"
    return "unknown"


def is_typeddict(tp: Any) -> bool:
    """True for a TypedDict class, ``typing``'s or ``typing_extensions``' (which
    ``typing.is_typeddict`` does not know before Python 3.12)."""
    if typing.is_typeddict(tp):
        return True
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__") and hasattr(tp, "__total__")


def json_kind(value: Any) -> str | None:
    """The JSON Schema type name of a decoded JSON value (None for non-JSON values)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return _CONTAINER_KINDS.get(type(value))


_CONTAINER_KINDS: dict[type, str] = {str: "string", list: "array", dict: "object"}


def json_default(value: Any) -> Any:
    """A default value as JSON (an Enum as its value), or :data:`NOT_JSON` when it has none."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        items = [json_default(item) for item in value]
        return NOT_JSON if any(item is NOT_JSON for item in items) else items
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        values = {key: json_default(item) for key, item in value.items()}
        return NOT_JSON if any(item is NOT_JSON for item in values.values()) else values
    return NOT_JSON


def _name(obj: Any) -> str:
    return getattr(obj, "__name__", None) or repr(obj)


def type_hints(obj: Any, *, strict: bool = True) -> dict[str, Any]:
    """The resolved annotations of a function or class (``Annotated`` kept).

    When a name does not resolve (a class defined inside a function): ``strict`` raises
    :class:`SchemaError` saying so; otherwise each annotation is resolved alone and the ones
    that do not resolve are left out.
    """
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:
        if strict:
            raise SchemaError(
                f"the type hints of {_name(obj)} cannot be resolved ({exc}); define the types they "
                "name at module level"
            ) from exc
    namespace = getattr(obj, "__globals__", None)
    if namespace is None:
        namespace = vars(sys.modules[obj.__module__]) if getattr(obj, "__module__", None) in sys.modules else {}
    hints: dict[str, Any] = {}
    for name, annotation in getattr(obj, "__annotations__", {}).items():
        try:
            hints[name] = typing.get_type_hints(_Probe(annotation), namespace, include_extras=True)["x"]
        except Exception:  # noqa: BLE001 - this one does not resolve: leave it out
            continue
    return hints


class _Probe:
    """Carries one annotation so typing.get_type_hints resolves it alone."""

    def __init__(self, annotation: Any) -> None:
        self.__annotations__ = {"x": annotation}


def typeddict_fields(tp: type, *, strict: bool = True) -> tuple[dict[str, Any], list[str]]:
    """A TypedDict's value types (``Required``/``NotRequired`` unwrapped) and required keys.

    Read from the type hints rather than ``__required_keys__``, which Python 3.11 gets
    wrong for string annotations (``from __future__ import annotations``).
    """
    hints = type_hints(tp, strict=strict)
    declared: frozenset[str] = getattr(tp, "__required_keys__", frozenset(hints))
    fields: dict[str, Any] = {}
    required: list[str] = []
    for key, hint in hints.items():
        origin = typing.get_origin(hint)
        if origin in (typing.Required, typing.NotRequired):
            hint = typing.get_args(hint)[0]
        fields[key] = hint
        if origin is typing.Required or (key in declared and origin is not typing.NotRequired):
            required.append(key)
    return fields, required


def dataclass_fields(tp: type, mode: str) -> list[dataclasses.Field[Any]]:
    """The fields a client sends (``validation``: those ``__init__`` takes) or receives (all)."""
    return [f for f in dataclasses.fields(tp) if f.init or mode != "validation"]


def has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
