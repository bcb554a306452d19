"""JSON Schema from Python type hints, and a function's MCP signature.

:func:`type_schema` turns an annotation into a JSON Schema (draft 2020-12, as MCP uses)
and :func:`describe_function` reads a whole function: its input schema (one property a
parameter, ``required`` for those without a default, descriptions from the docstring),
its output schema, and whether the result must be wrapped as ``{"result": value}``
because MCP's ``structuredContent`` has to be a JSON object.

Understood: ``str``, ``int``, ``float``, ``bool``, ``None``, ``list``/``Sequence``/``set``/
``tuple``, ``dict``/``Mapping`` with ``str`` keys, ``Optional`` and unions, ``Literal``,
``Enum``, dataclasses, ``TypedDict``, pydantic models (through their own
``model_json_schema``, without importing pydantic), ``datetime``/``date``/``time``/
``UUID``, ``Any``, and ``Annotated[T, "description"]``. Anything else is refused at
registration time with a message naming the parameter and what to use instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from conduit_mcp.content import is_content_type
from conduit_mcp.docstrings import parse_docstring

__all__ = [
    "FunctionSignature",
    "Parameter",
    "SchemaError",
    "describe_function",
    "is_object_schema",
    "json_kind",
    "type_schema",
    "typeddict_fields",
]

_EMPTY = inspect.Parameter.empty
_NONE_TYPE = type(None)
_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    _NONE_TYPE: {"type": "null"},
    None: {"type": "null"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.date: {"type": "string", "format": "date"},
    dt.time: {"type": "string", "format": "time"},
    uuid.UUID: {"type": "string", "format": "uuid"},
}


class SchemaError(TypeError):
    """A type hint that has no JSON Schema; the message says where and what to use."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a tool, prompt or resource template function."""

    name: str
    annotation: Any
    default: Any
    description: str | None
    schema: dict[str, Any]

    @property
    def required(self) -> bool:
        return self.default is _EMPTY


@dataclass(frozen=True)
class FunctionSignature:
    """What MCP needs to know about a function."""

    name: str
    description: str | None
    parameters: tuple[Parameter, ...]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    wrap_output: bool
    injected: dict[str, type]
    """Parameters filled by the server (a ``Context``), not by the client: name -> type."""
    takes_kwargs: bool


def is_object_schema(schema: Mapping[str, Any]) -> bool:
    """True when every value valid for ``schema`` is a JSON object."""
    return schema.get("type") == "object"


def type_schema(annotation: Any, *, where: str = "value") -> dict[str, Any]:
    """The JSON Schema of ``annotation``; ``where`` names it in error messages."""
    return _schema(annotation, where, ())


def _schema(tp: Any, where: str, seen: tuple[Any, ...]) -> dict[str, Any]:
    if tp is Any or tp is _EMPTY or tp is object:
        return {}
    if tp in _SIMPLE:
        return dict(_SIMPLE[tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        schema = _schema(args[0], where, seen)
        texts = [a for a in args[1:] if isinstance(a, str)]
        if texts:
            schema["description"] = " ".join(texts)
        return schema
    if origin is typing.Union or origin is types.UnionType:
        return _union(args, where, seen)
    if origin is typing.Literal:
        return _enum_schema(list(args))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        schema = _enum_schema([member.value for member in tp])
        schema["title"] = tp.__name__
        return schema
    if origin in (list, set, frozenset, Sequence, Set, typing.Sequence) or tp in (list, set, frozenset):
        schema = {"type": "array"}
        if args:
            schema["items"] = _schema(args[0], f"{where} items", seen)
        if origin in (set, frozenset, Set) or tp in (set, frozenset):
            schema["uniqueItems"] = True
        return schema
    if origin is tuple or tp is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return {"type": "array", **({"items": _schema(args[0], where, seen)} if args else {})}
        items = [_schema(arg, f"{where} item {i}", seen) for i, arg in enumerate(args)]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        if args and args[0] not in (str, Any):
            raise SchemaError(f"{where}: JSON object keys are strings; use dict[str, ...], not {_name(tp)}")
        schema = {"type": "object"}
        if args and args[1] is not Any:
            schema["additionalProperties"] = _schema(args[1], f"{where} values", seen)
        return schema
    if isinstance(tp, type):
        if tp in seen:
            raise SchemaError(f"{where}: {tp.__name__} refers to itself; recursive types have no inline schema")
        if dataclasses.is_dataclass(tp):
            return _dataclass_schema(tp, where, (*seen, tp))
        if typing.is_typeddict(tp):
            return _typeddict_schema(tp, where, (*seen, tp))
        model_schema = getattr(tp, "model_json_schema", None)
        if callable(model_schema):
            return dict(model_schema())
    raise SchemaError(
        f"{where} has type {_name(tp)}, which has no JSON Schema; use str, int, float, bool, "
        "list[...], dict[str, ...], Optional, Literal, an Enum, a dataclass or a TypedDict"
    )


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _union(args: tuple[Any, ...], where: str, seen: tuple[Any, ...]) -> dict[str, Any]:
    nullable = any(arg in (None, _NONE_TYPE) for arg in args)
    members = [arg for arg in args if arg not in (None, _NONE_TYPE)]
    schemas = [_schema(arg, where, seen) for arg in members]
    if len(schemas) == 1 and not nullable:
        return schemas[0]
    simple = [s for s in schemas if set(s) == {"type"} and isinstance(s["type"], str)]
    if len(simple) == len(schemas):
        kinds = [s["type"] for s in simple] + (["null"] if nullable else [])
        return {"type": kinds[0] if len(kinds) == 1 else kinds}
    if nullable:
        schemas.append({"type": "null"})
    return {"anyOf": schemas}


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"enum": values}
    kinds = {json_kind(value) for value in values}
    if len(kinds) == 1 and None not in kinds:
        schema["type"] = kinds.pop()
    return schema


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


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:
        raise SchemaError(
            f"the type hints of {_name(obj)} cannot be resolved ({exc}); define the types they "
            "name at module level"
        ) from exc


def _dataclass_schema(tp: type, where: str, seen: tuple[Any, ...]) -> dict[str, Any]:
    hints = _hints(tp)
    doc = parse_docstring(tp.__doc__ if tp.__doc__ and not tp.__doc__.startswith(f"{tp.__name__}(") else None)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        prop = _schema(hints.get(f.name, Any), f"{where} field {f.name!r}", seen)
        if f.name in doc.params and "description" not in prop:
            prop["description"] = doc.params[f.name]
        if f.default is not dataclasses.MISSING:
            default = _json_default(f.default)
            if default is not _EMPTY:
                prop["default"] = default
        elif f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        properties[f.name] = prop
    schema: dict[str, Any] = {"type": "object", "title": tp.__name__, "properties": properties}
    if required:
        schema["required"] = required
    if doc.summary:
        schema["description"] = doc.summary
    return schema


def typeddict_fields(tp: type) -> tuple[dict[str, Any], list[str]]:
    """A TypedDict's value types (``Required``/``NotRequired`` unwrapped) and required keys.

    Read from the type hints rather than ``__required_keys__``, which Python 3.11 gets
    wrong for string annotations (``from __future__ import annotations``).
    """
    hints = _hints(tp)
    declared: frozenset[str] = getattr(tp, "__required_keys__", frozenset(hints))
    types_: dict[str, Any] = {}
    required: list[str] = []
    for key, hint in hints.items():
        origin = typing.get_origin(hint)
        if origin in (typing.Required, typing.NotRequired):
            hint = typing.get_args(hint)[0]
        types_[key] = hint
        if origin is typing.Required or (key in declared and origin is not typing.NotRequired):
            required.append(key)
    return types_, required


def _typeddict_schema(tp: type, where: str, seen: tuple[Any, ...]) -> dict[str, Any]:
    hints, required = typeddict_fields(tp)
    properties = {key: _schema(hint, f"{where} key {key!r}", seen) for key, hint in hints.items()}
    schema: dict[str, Any] = {"type": "object", "title": tp.__name__, "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _json_default(value: Any) -> Any:
    """A default as JSON, or ``_EMPTY`` when it has no JSON form (then it is left out)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_json_default(item) for item in value]
        return _EMPTY if any(item is _EMPTY for item in items) else items
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        values = {key: _json_default(item) for key, item in value.items()}
        return _EMPTY if any(item is _EMPTY for item in values.values()) else values
    return _EMPTY


def describe_function(
    fn: Callable[..., Any],
    *,
    kind: str = "tool",
    name: str | None = None,
    description: str | None = None,
    injectable: tuple[type, ...] = (),
    structured_output: bool | None = None,
) -> FunctionSignature:
    """Read ``fn``'s signature, type hints and docstring into a :class:`FunctionSignature`.

    ``injectable`` lists types the server provides itself (a ``Context``); parameters
    annotated with one are left out of the input schema. ``structured_output=False``
    skips the output schema; ``None`` derives one where the return type has a schema.
    """
    fn_name = name or getattr(fn, "__name__", None) or type(fn).__name__
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(fn, "__call__", fn)
    hints = _hints(target)
    doc = parse_docstring(inspect.getdoc(fn))
    signature = inspect.signature(fn)
    parameters: list[Parameter] = []
    injected: dict[str, type] = {}
    takes_kwargs = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            takes_kwargs = True
            continue
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            raise SchemaError(
                f"{kind} {fn_name!r}: parameter {param.name!r} is {param.kind.description}; MCP passes "
                "arguments by name, so use ordinary or keyword-only parameters"
            )
        annotation = hints.get(param.name, Any)
        bare = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
        if isinstance(bare, type) and injectable and issubclass(bare, injectable):
            injected[param.name] = bare
            continue
        where = f"{kind} {fn_name!r}: parameter {param.name!r}"
        schema = _schema(annotation, where, ())
        text = doc.params.get(param.name)
        if text and "description" not in schema:
            schema["description"] = text
        if param.default is not _EMPTY:
            default = _json_default(param.default)
            if default is not _EMPTY:
                schema["default"] = default
        parameters.append(Parameter(param.name, annotation, param.default, schema.get("description"), schema))
    input_schema: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: p.schema for p in parameters},
    }
    required = [p.name for p in parameters if p.required]
    if required:
        input_schema["required"] = required
    output_schema, wrap = _output(hints.get("return", _EMPTY), f"{kind} {fn_name!r}: return value", structured_output)
    return FunctionSignature(
        name=fn_name,
        description=description if description is not None else (doc.summary or None),
        parameters=tuple(parameters),
        input_schema=input_schema,
        output_schema=output_schema,
        wrap_output=wrap,
        injected=injected,
        takes_kwargs=takes_kwargs,
    )


def _output(annotation: Any, where: str, structured: bool | None) -> tuple[dict[str, Any] | None, bool]:
    if structured is False or annotation in (_EMPTY, Any, None, _NONE_TYPE) or is_content_type(annotation):
        return None, False
    try:
        schema = _schema(annotation, where, ())
    except SchemaError:
        if structured:
            raise
        return None, False
    if not schema:
        return None, False
    if is_object_schema(schema):
        return schema, False
    return {"type": "object", "properties": {"result": schema}, "required": ["result"]}, True
