"""Check JSON arguments against type hints and turn them into Python values, and back.

:func:`from_json` is the inverse of :func:`conduit_mcp.schema.type_schema`: a tool
annotated ``point: Point`` (a dataclass) receives a ``Point``, ``colour: Colour`` (an
Enum) a member, ``when: datetime`` a ``datetime``. A value that does not fit raises
:class:`ArgumentError` whose message names the argument path and what was expected,
so a model reading the tool error can correct its call.

:func:`from_text` does the same for the string values MCP uses for prompt arguments and
URI-template variables (``"3"`` for an ``int`` parameter).

:func:`dumps` serialises results (dataclasses, enums, datetimes, pydantic models, sets)
with orjson.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
import uuid
from collections.abc import Mapping, Sequence, Set
from typing import Any

import orjson

from conduit_mcp.schema import json_kind, typeddict_fields

__all__ = ["ArgumentError", "dumps", "from_json", "from_text", "to_jsonable"]

_NONE_TYPE = type(None)


class ArgumentError(ValueError):
    """An argument does not match its declared type."""


def _fail(path: str, expected: str, value: Any) -> ArgumentError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return ArgumentError(f"argument {path!r} must be {expected}, got {json_kind(value) or type(value).__name__} {shown}")


def from_json(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` (decoded JSON) against ``tp`` and convert it."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return from_json(value, args[0], path)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _fail(path, "a string", value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _fail(path, "a boolean", value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _fail(path, "an integer", value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _fail(path, "a number", value)
    if tp in (None, _NONE_TYPE):
        if value is None:
            return None
        raise _fail(path, "null", value)
    if origin is typing.Union or origin is types.UnionType:
        return _union(value, args, path)
    if origin is typing.Literal:
        for choice in args:
            if value == choice and type(value) is type(choice):
                return choice
        raise _fail(path, "one of " + ", ".join(repr(a) for a in args), value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if member.value == value and type(member.value) is type(value):
                return member
        raise _fail(path, "one of " + ", ".join(repr(m.value) for m in tp), value)
    if tp in (dt.datetime, dt.date, dt.time, uuid.UUID):
        return _parse_text_type(value, tp, path)
    if origin in (list, Sequence, typing.Sequence, set, frozenset, Set) or tp in (list, set, frozenset):
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        item_type = args[0] if args else Any
        items = [from_json(item, item_type, f"{path}[{i}]") for i, item in enumerate(value)]
        if origin in (set, frozenset, Set) or tp in (set, frozenset):
            return frozenset(items) if frozenset in (origin, tp) else set(items)
        return items
    if origin is tuple or tp is tuple:
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item_type = args[0] if args else Any
            return tuple(from_json(item, item_type, f"{path}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise _fail(path, f"an array of {len(args)} items", value)
        return tuple(from_json(item, t, f"{path}[{i}]") for i, (item, t) in enumerate(zip(value, args)))
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        value_type = args[1] if len(args) == 2 else Any
        return {key: from_json(item, value_type, f"{path}.{key}") for key, item in value.items()}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _dataclass(value, tp, path)
        if typing.is_typeddict(tp):
            return _typeddict(value, tp, path)
        validate = getattr(tp, "model_validate", None)
        if callable(validate):
            try:
                return validate(value)
            except ValueError as exc:
                raise ArgumentError(f"argument {path!r} is not a valid {tp.__name__}: {exc}") from None
    return value


def _union(value: Any, args: tuple[Any, ...], path: str) -> Any:
    if value is None and any(arg in (None, _NONE_TYPE) for arg in args):
        return None
    errors = []
    for arg in args:
        if arg in (None, _NONE_TYPE):
            continue
        try:
            return from_json(value, arg, path)
        except ArgumentError as exc:
            errors.append(str(exc))
    if len(errors) == 1:
        raise ArgumentError(errors[0])
    names = " or ".join(getattr(a, "__name__", repr(a)) for a in args)
    raise _fail(path, f"one of {names}", value)


def _parse_text_type(value: Any, tp: type, path: str) -> Any:
    if isinstance(value, tp):
        return value
    if not isinstance(value, str):
        raise _fail(path, f"a {tp.__name__} string", value)
    try:
        if tp is uuid.UUID:
            return uuid.UUID(value)
        return tp.fromisoformat(value)  # type: ignore[attr-defined]
    except ValueError:
        raise _fail(path, f"an ISO 8601 {tp.__name__}" if tp is not uuid.UUID else "a UUID", value) from None


def _dataclass(value: Any, tp: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, f"an object ({tp.__name__})", value)
    hints = typing.get_type_hints(tp, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ArgumentError(f"argument {path!r} has unknown field(s) {', '.join(unknown)} for {tp.__name__}")
    kwargs = {}
    for name, f in fields.items():
        if name in value:
            kwargs[name] = from_json(value[name], hints.get(name, Any), f"{path}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ArgumentError(f"argument {path!r} is missing required field {name!r}")
    return tp(**kwargs)


def _typeddict(value: Any, tp: type, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"an object ({tp.__name__})", value)
    hints, required = typeddict_fields(tp)
    missing = sorted(set(required) - set(value))
    if missing:
        raise ArgumentError(f"argument {path!r} is missing required key(s) {', '.join(missing)}")
    return {
        key: from_json(item, hints[key], f"{path}.{key}") if key in hints else item for key, item in value.items()
    }


def from_text(text: str, tp: Any, path: str) -> Any:
    """Convert a string argument (prompt argument, URI variable) to ``tp``."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return from_text(text, typing.get_args(tp)[0], path)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(tp) if a not in (None, _NONE_TYPE)]
        if len(members) == 1:
            return from_text(text, members[0], path)
    if tp in (str, Any, object) or not isinstance(text, str):
        return from_json(text, tp, path) if tp not in (Any, object) else text
    if tp is bool:
        lowered = text.strip().lower()
        if lowered in {"true", "1", "yes", "on"}:
            return True
        if lowered in {"false", "0", "no", "off"}:
            return False
        raise _fail(path, "true or false", text)
    if tp in (int, float):
        try:
            return tp(text.strip())
        except ValueError:
            raise _fail(path, "an integer" if tp is int else "a number", text) from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if str(member.value) == text:
                return member
        raise _fail(path, "one of " + ", ".join(repr(str(m.value)) for m in tp), text)
    if origin is typing.Literal:
        for choice in typing.get_args(tp):
            if str(choice) == text:
                return choice
        raise _fail(path, "one of " + ", ".join(repr(str(c)) for c in typing.get_args(tp)), text)
    if tp in (dt.datetime, dt.date, dt.time, uuid.UUID):
        return _parse_text_type(text, tp, path)
    try:
        decoded = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _fail(path, "JSON text", text) from None
    return from_json(decoded, tp, path)


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable; return JSON-compatible data")


_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def dumps(value: Any) -> bytes:
    """orjson with Conduit's fallbacks (pydantic models, sets, tuples)."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (dicts, lists, strings, numbers, booleans, null)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if all(v is None or isinstance(v, (str, bool, int, float)) for v in value.values()):
            return value
    return orjson.loads(dumps(value))
