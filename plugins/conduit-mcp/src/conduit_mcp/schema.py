"""A function's MCP signature: its input and output JSON Schemas, from its type hints.

:func:`describe_function` reads a whole function: its input schema (one property a
parameter, ``required`` for those without a default, descriptions from the docstring),
its output schema, and whether the result must be wrapped as ``{"result": value}``
because MCP's ``structuredContent`` has to be a JSON object.

The schemas come from the kernel's engine (:mod:`conduit.schema`) in MCP's dialect: named
types inline, docstring descriptions (``Args:`` sections and the like), an Enum titled with its
class name, and a type with no JSON Schema refused at registration time with a message naming
the parameter and what to use instead. :func:`type_schema` gives one annotation's schema.
"""

from __future__ import annotations

import enum
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conduit.schema import NOT_JSON, SchemaBuilder, SchemaError, json_default, json_kind, type_hints, typeddict_fields
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


class _ToolSchemas(SchemaBuilder):
    """The kernel's engine in MCP's dialect: inline, strict, docstrings, titled enums."""

    def __init__(self) -> None:
        super().__init__(strict=True)

    def describe(self, tp: type) -> tuple[str | None, Mapping[str, str]]:
        raw = tp.__doc__ if tp.__doc__ and not tp.__doc__.startswith(f"{tp.__name__}(") else None
        doc = parse_docstring(raw)
        return doc.summary or None, doc.params

    def enum_schema(self, tp: type[enum.Enum]) -> dict[str, Any]:
        return {**super().enum_schema(tp), "title": tp.__name__}


def is_object_schema(schema: Mapping[str, Any]) -> bool:
    """True when every value valid for ``schema`` is a JSON object."""
    return schema.get("type") == "object"


def type_schema(annotation: Any, *, where: str = "value") -> dict[str, Any]:
    """The JSON Schema of ``annotation``; ``where`` names it in error messages."""
    return _ToolSchemas().schema(annotation, where)


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
    hints = type_hints(target)
    doc = parse_docstring(inspect.getdoc(fn))
    parameters: list[Parameter] = []
    injected: dict[str, type] = {}
    takes_kwargs = False
    for param in inspect.signature(fn).parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            takes_kwargs = True
            continue
        where = f"{kind} {fn_name!r}: parameter {param.name!r}"
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            raise SchemaError(
                f"{where} is {param.kind.description}; MCP passes arguments by name, so use ordinary or "
                "keyword-only parameters"
            )
        annotation = hints.get(param.name, Any)
        bare = _injected_type(annotation, injectable)
        if bare is not None:
            injected[param.name] = bare
        else:
            parameters.append(_parameter(param, annotation, doc.params.get(param.name), where))
    output_schema, wrap = _output(hints.get("return", _EMPTY), f"{kind} {fn_name!r}: return value", structured_output)
    return FunctionSignature(
        name=fn_name,
        description=description if description is not None else (doc.summary or None),
        parameters=tuple(parameters),
        input_schema=_input_schema(parameters),
        output_schema=output_schema,
        wrap_output=wrap,
        injected=injected,
        takes_kwargs=takes_kwargs,
    )


def _injected_type(annotation: Any, injectable: tuple[type, ...]) -> type | None:
    """The server-provided type ``annotation`` names (``Context``), else None."""
    bare = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    return bare if isinstance(bare, type) and injectable and issubclass(bare, injectable) else None


def _parameter(param: inspect.Parameter, annotation: Any, text: str | None, where: str) -> Parameter:
    schema = type_schema(annotation, where=where)
    if text and "description" not in schema:
        schema["description"] = text
    if param.default is not _EMPTY:
        default = json_default(param.default)
        if default is not NOT_JSON:
            schema["default"] = default
    return Parameter(param.name, annotation, param.default, schema.get("description"), schema)


def _input_schema(parameters: list[Parameter]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {p.name: p.schema for p in parameters}}
    required = [p.name for p in parameters if p.required]
    if required:
        schema["required"] = required
    return schema


def _output(annotation: Any, where: str, structured: bool | None) -> tuple[dict[str, Any] | None, bool]:
    if structured is False or annotation in (_EMPTY, Any, None, _NONE_TYPE) or is_content_type(annotation):
        return None, False
    try:
        schema = type_schema(annotation, where=where)
    except SchemaError:
        if structured:
            raise
        return None, False
    if not schema:
        return None, False
    if is_object_schema(schema):
        return schema, False
    return {"type": "object", "properties": {"result": schema}, "required": ["result"]}, True
