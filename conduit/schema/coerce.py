"""Decoded JSON into the Python values a type hint declares: the inverse of the schema.

:func:`coerce` checks a value against an annotation and converts it: a ``Point`` dataclass
receives a ``Point``, an Enum a member, a ``datetime`` an ISO 8601 string parsed. A value that
does not fit raises :class:`CoercionError` whose message names its path
(``argument 'order.items[1].sku' must be a string, got integer 3``) and what was expected.

Each annotation is compiled once into a function (one small builder a kind of type, cached),
so a call runs no type inspection; a dataclass's fields are resolved on its first value.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
import uuid
from collections.abc import Callable
from typing import Any

from conduit.schema._constraints import checks, constraints_of
from conduit.schema._types import (
    NONE_TYPE,
    SET_TYPES,
    CoercionError,
    has_default,
    json_kind,
    kind_of,
    type_hints,
    typeddict_fields,
)

__all__ = ["coerce"]

Coerce = Callable[[Any], Any]
"""A compiled coercion: the converted value, or :class:`_Mismatch`."""


class _Mismatch(Exception):
    """A value that does not fit, on its way out of nested coercions, which add their path."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.steps: list[str] = []  # innermost first: "[1]", ".sku"

    def at(self, step: str) -> _Mismatch:
        self.steps.append(step)
        return self

    def message(self, root: str) -> str:
        return f"argument {root + ''.join(reversed(self.steps))!r} {self.reason}"


def _expected(expected: str, value: Any) -> _Mismatch:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return _Mismatch(f"must be {expected}, got {json_kind(value) or type(value).__name__} {shown}")


def coerce(value: Any, tp: Any, path: str = "value") -> Any:
    """Check ``value`` (decoded JSON) against ``tp`` and convert it; ``path`` names it in errors."""
    try:
        return _coercer(tp)(value)
    except _Mismatch as exc:
        raise CoercionError(exc.message(path)) from None


def _coercer(tp: Any) -> Coerce:
    """The compiled coercion for ``tp``; it raises an internal mismatch, which :func:`coerce`
    turns into :class:`CoercionError`.

    Cached by the annotation's identity: annotations are made once (a signature's), and equal
    ones may still differ (``int | float`` equals ``float | int``, whose first member wins).
    """
    hit = _COMPILED.get(id(tp))
    if hit is not None and hit[0] is tp:
        return hit[1]
    compiled = _build(tp)
    if len(_COMPILED) >= _MAX_COMPILED:  # annotations made afresh on every call: start over
        _COMPILED.clear()
    _COMPILED[id(tp)] = (tp, compiled)  # holding tp keeps its id from being reused
    return compiled


_COMPILED: dict[int, tuple[Any, Coerce]] = {}
_MAX_COMPILED = 4096


def _build(tp: Any) -> Coerce:
    return _BUILDERS[kind_of(tp)](tp)


def _same(value: Any) -> Any:
    return value


# --- scalars ---------------------------------------------------------------------------------


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _expected("a string", value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _expected("a boolean", value)


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _expected("an integer", value)


def _float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _expected("a number", value)


def _null(tp: Any) -> Coerce:
    def null(value: Any) -> None:
        if value is None:
            return None
        raise _expected("null", value)

    return null


def _text_encoded(tp: Any) -> Coerce:
    """datetime, date, time and UUID: ISO 8601 / UUID strings (a value of the type passes)."""
    expected = "a UUID" if tp is uuid.UUID else f"an ISO 8601 {tp.__name__}"
    parse = uuid.UUID if tp is uuid.UUID else tp.fromisoformat

    def text_encoded(value: Any) -> Any:
        if isinstance(value, tp):
            return value
        if not isinstance(value, str):
            raise _expected(f"a {tp.__name__} string", value)
        try:
            return parse(value)
        except ValueError:
            raise _expected(expected, value) from None

    return text_encoded


_SCALARS: dict[Any, Coerce] = {str: _str, bool: _bool, int: _int, float: _float}


def _scalar(tp: Any) -> Coerce:
    return _SCALARS.get(tp) or _text_encoded(tp)


# --- wrappers: Annotated, NewType, Required, unions --------------------------------------------


def _annotated(tp: Any) -> Coerce:
    base, *metadata = typing.get_args(tp)
    inner = _coercer(base)
    found = checks(constraints_of(metadata))
    if not found:
        return inner

    def annotated(value: Any) -> Any:
        result = inner(value)
        for check in found:
            expected = check(result)
            if expected is not None:
                raise _expected(expected, value)
        return result

    return annotated


def _union(tp: Any) -> Coerce:
    args = typing.get_args(tp)
    nullable = any(arg in (None, NONE_TYPE) for arg in args)
    members = [_coercer(arg) for arg in args if arg not in (None, NONE_TYPE)]
    names = " or ".join(getattr(a, "__name__", repr(a)) for a in args)

    def union(value: Any) -> Any:
        if value is None and nullable:
            return None
        failures = []
        for member in members:
            try:
                return member(value)
            except _Mismatch as exc:
                failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        raise _expected(f"one of {names}", value)

    return union


# --- choices: Literal and Enum -------------------------------------------------------------------


def _literal(tp: Any) -> Coerce:
    choices = typing.get_args(tp)
    expected = "one of " + ", ".join(repr(c) for c in choices)

    def literal(value: Any) -> Any:
        for choice in choices:
            if value == choice and type(value) is type(choice):
                return choice
        raise _expected(expected, value)

    return literal


def _enum(tp: type[enum.Enum]) -> Coerce:
    members = [(member.value, member) for member in tp]
    expected = "one of " + ", ".join(repr(v) for v, _ in members)

    def enum_member(value: Any) -> Any:
        if isinstance(value, tp):
            return value
        for member_value, member in members:
            if member_value == value and type(member_value) is type(value):
                return member
        raise _expected(expected, value)

    return enum_member


# --- containers ----------------------------------------------------------------------------------


def _items(item: Coerce, values: list[Any]) -> list[Any]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(item(value))
        except _Mismatch as exc:
            raise exc.at(f"[{i}]") from None
    return out


def _array(tp: Any) -> Coerce:
    args = typing.get_args(tp)
    item = _coercer(args[0]) if args else _same
    origin = typing.get_origin(tp) or tp
    collect: Callable[[list[Any]], Any] = list
    if origin in SET_TYPES:
        collect = frozenset if origin is frozenset else set

    def array(value: Any) -> Any:
        if not isinstance(value, list):
            raise _expected("an array", value)
        return collect(_items(item, value))

    return array


def _tuple(tp: Any) -> Coerce:
    args = typing.get_args(tp)
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        item = _coercer(args[0]) if args else _same

        def variadic(value: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise _expected("an array", value)
            return tuple(_items(item, value))

        return variadic
    items = [_coercer(arg) for arg in args]

    def fixed(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _expected("an array", value)
        if len(value) != len(items):
            raise _expected(f"an array of {len(items)} items", value)
        out = []
        for i, (one, coerce_one) in enumerate(zip(value, items)):
            try:
                out.append(coerce_one(one))
            except _Mismatch as exc:
                raise exc.at(f"[{i}]") from None
        return tuple(out)

    return fixed


def _mapping(tp: Any) -> Coerce:
    args = typing.get_args(tp)
    item = _coercer(args[1]) if len(args) == 2 else _same

    def mapping(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _expected("an object", value)
        out = {}
        for key, one in value.items():
            try:
                out[key] = item(one)
            except _Mismatch as exc:
                raise exc.at(f".{key}") from None
        return out

    return mapping


def _fields(value: dict[str, Any], coercers: dict[str, Coerce]) -> dict[str, Any]:
    """``value`` with each key that has a coercer converted; the others as they are."""
    out = {}
    for key, one in value.items():
        convert = coercers.get(key)
        if convert is None:
            out[key] = one
            continue
        try:
            out[key] = convert(one)
        except _Mismatch as exc:
            raise exc.at(f".{key}") from None
    return out


# --- named types ---------------------------------------------------------------------------------


def _dataclass(tp: type) -> Coerce:
    plans: list[tuple[dict[str, Coerce], frozenset[str]]] = []  # made on the first value: tp may refer to itself

    def plan() -> tuple[dict[str, Coerce], frozenset[str]]:
        hints = type_hints(tp)
        fields = [f for f in dataclasses.fields(tp) if f.init]
        required = frozenset(f.name for f in fields if not has_default(f))
        return {f.name: _coercer(hints.get(f.name, Any)) for f in fields}, required

    def dataclass(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _expected(f"an object ({tp.__name__})", value)
        fields, required = plans[0] if plans else _remember(plans, plan())
        if not fields.keys() >= value.keys():
            unknown = sorted(key for key in value if key not in fields)
            raise _Mismatch(f"has unknown field(s) {', '.join(unknown)} for {tp.__name__}")
        if not value.keys() >= required:
            missing = next(name for name in fields if name in required and name not in value)
            raise _Mismatch(f"is missing required field {missing!r}")
        return tp(**_fields(value, fields))

    return dataclass


def _typeddict(tp: type) -> Coerce:
    plans: list[tuple[dict[str, Coerce], frozenset[str]]] = []

    def plan() -> tuple[dict[str, Coerce], frozenset[str]]:
        hints, required = typeddict_fields(tp)
        return {key: _coercer(hint) for key, hint in hints.items()}, frozenset(required)

    def typeddict(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _expected(f"an object ({tp.__name__})", value)
        fields, required = plans[0] if plans else _remember(plans, plan())
        if not value.keys() >= required:
            raise _Mismatch(f"is missing required key(s) {', '.join(sorted(required - value.keys()))}")
        return _fields(value, fields)

    return typeddict


def _remember(plans: list[Any], plan: Any) -> Any:
    plans.append(plan)
    return plan


def _model(tp: Any) -> Coerce:
    """A pydantic model validates itself."""

    def model(value: Any) -> Any:
        try:
            return tp.model_validate(value)
        except ValueError as exc:  # pydantic's ValidationError
            raise _Mismatch(f"is not a valid {tp.__name__}: {exc}") from None

    return model


_BUILDERS: dict[str, Callable[[Any], Coerce]] = {
    "any": lambda tp: _same,
    "raw": lambda tp: _same,  # a JSON Schema given as a dict: documentation, not checked here
    "bytes": lambda tp: _same,
    "unknown": lambda tp: _same,
    "null": _null,
    "scalar": _scalar,
    "newtype": lambda tp: _coercer(tp.__supertype__),
    "annotated": _annotated,
    "required": lambda tp: _coercer(typing.get_args(tp)[0]),
    "union": _union,
    "literal": _literal,
    "enum": _enum,
    "array": _array,
    "tuple": _tuple,
    "mapping": _mapping,
    "dataclass": _dataclass,
    "typeddict": _typeddict,
    "model": _model,
}
