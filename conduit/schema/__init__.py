"""One engine from Python type hints to JSON Schema, and from JSON back to typed values.

- :class:`SchemaBuilder` (and :func:`type_schema`): an annotation's JSON Schema (draft 2020-12),
  named types inline or in a ``defs`` dict behind ``$ref`` (how :mod:`conduit.openapi` writes
  ``components/schemas``); conduit-mcp writes tool schemas with it.
- :func:`coerce`: decoded JSON checked against an annotation and converted (a dataclass
  instance, an Enum member, a ``datetime``), with errors that name the value's path.
- :func:`text_converter` and :func:`coerce_text`: the same from strings (query parameters,
  prompt arguments, URI template variables).

Understood: ``str``, ``int``, ``float``, ``bool``, ``None``, ``bytes`` (schemas only),
``list``/``Sequence``/``set``/``frozenset``/``tuple``, ``dict``/``Mapping``, ``Optional`` and
unions, ``Literal``, ``Enum``, ``NewType``, dataclasses, ``TypedDict`` (``typing``'s or
``typing_extensions``'), pydantic models (through their own methods, without importing pydantic),
``datetime``/``date``/``time``/``UUID``, ``Any``, and ``Annotated[T, ...]`` with a description
string, a JSON Schema fragment (a dict) or constraints (``annotated_types.Ge(0)``,
``msgspec.Meta(max_length=20)``, pydantic's ``Field(ge=0)``), which coercion enforces.

Why this is hand-written rather than pydantic's ``TypeAdapter``: docs/architecture.md,
"One schema engine".
"""

from conduit.schema._types import (
    NOT_JSON,
    CoercionError,
    SchemaError,
    is_typeddict,
    json_default,
    json_kind,
    kind_of,
    type_hints,
    typeddict_fields,
)
from conduit.schema.coerce import coerce
from conduit.schema.jsonschema import SchemaBuilder, type_schema, values_schema
from conduit.schema.text import INT64, coerce_text, text_converter

__all__ = [
    "INT64",
    "NOT_JSON",
    "CoercionError",
    "SchemaBuilder",
    "SchemaError",
    "coerce",
    "coerce_text",
    "is_typeddict",
    "json_default",
    "json_kind",
    "kind_of",
    "text_converter",
    "type_hints",
    "type_schema",
    "typeddict_fields",
    "values_schema",
]
