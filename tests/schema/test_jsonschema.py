"""conduit.schema's SchemaBuilder: type hints to JSON Schema, inline or behind $ref."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NewType, NotRequired, Optional, TypedDict

import annotated_types
import jsonschema
import pytest
import typing_extensions

from conduit.schema import SchemaBuilder, SchemaError, type_schema


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Point:
    """A point."""

    x: float
    y: float = 0.0
    colour: Colour = Colour.RED
    note: str = dataclasses.field(default="", metadata={"description": "free text"})


@dataclasses.dataclass
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Stamped:
    name: str
    created: str = dataclasses.field(init=False, default="now")


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


class ExtMovie(typing_extensions.TypedDict):
    title: str
    year: typing_extensions.NotRequired[int]


UserId = NewType("UserId", int)


class Opaque:
    pass


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, {"type": "null"}),
        (dt.datetime, {"type": "string", "format": "date-time"}),
        (dt.date, {"type": "string", "format": "date"}),
        (uuid.UUID, {"type": "string", "format": "uuid"}),
        (Any, {}),
        (list, {"type": "array"}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (frozenset[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (tuple[int, str], {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                           "minItems": 2, "maxItems": 2}),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (Mapping[str, Any], {"type": "object"}),
        (Optional[int], {"type": ["integer", "null"]}),  # noqa: UP045 - the spelling is the test
        (int | str, {"type": ["integer", "string"]}),
        (int | Any, {}),
        (Literal["a", "b"], {"enum": ["a", "b"], "type": "string"}),
        (Literal[1, "x"], {"enum": [1, "x"]}),
        (Colour, {"enum": ["red", "green"], "type": "string"}),
        (UserId, {"type": "integer"}),
        ({"type": "string", "format": "email"}, {"type": "string", "format": "email"}),
    ],
)
def test_each_kind_of_annotation_has_its_schema(annotation: Any, schema: dict[str, Any]) -> None:
    assert type_schema(annotation) == schema


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (Annotated[int, "How", "many"], {"type": "integer", "description": "How many"}),
        (Annotated[int, {"minimum": 0}], {"type": "integer", "minimum": 0}),
        (Annotated[int, annotated_types.Ge(0), annotated_types.Lt(10)],
         {"type": "integer", "minimum": 0, "exclusiveMaximum": 10}),
        (Annotated[str, annotated_types.MaxLen(20)], {"type": "string", "maxLength": 20}),
        (Annotated[list[int], annotated_types.MinLen(1)], {"type": "array", "items": {"type": "integer"}, "minItems": 1}),
        (Annotated[str | None, annotated_types.MaxLen(3)], {"type": ["string", "null"], "maxLength": 3}),
    ],
)
def test_annotated_metadata_adds_descriptions_fragments_and_constraints(annotation: Any, schema: dict[str, Any]) -> None:
    assert type_schema(annotation) == schema


def test_pydantic_field_constraints_are_read_without_importing_pydantic() -> None:
    pydantic = pytest.importorskip("pydantic")
    assert type_schema(Annotated[int, pydantic.Field(ge=1, description="a page")]) == {
        "type": "integer", "minimum": 1, "description": "a page",
    }


def test_named_types_are_inline_without_defs() -> None:
    assert type_schema(Point) == {
        "type": "object",
        "title": "Point",
        "description": "A point.",
        "properties": {
            "x": {"type": "number"},
            "y": {"type": "number", "default": 0.0},
            "colour": {"enum": ["red", "green"], "type": "string", "default": "red"},
            "note": {"type": "string", "description": "free text", "default": ""},
        },
        "required": ["x"],
    }
    assert type_schema(Movie) == {
        "type": "object", "title": "Movie",
        "properties": {"title": {"type": "string"}, "year": {"type": "integer"}}, "required": ["title"],
    }


def test_typing_extensions_typeddicts_are_typeddicts() -> None:
    assert type_schema(ExtMovie)["required"] == ["title"]


def test_named_types_go_into_defs_once_behind_refs() -> None:
    defs: dict[str, Any] = {}
    builder = SchemaBuilder(defs, ref_prefix="#/components/schemas/")
    assert builder.schema(list[Point]) == {"type": "array", "items": {"$ref": "#/components/schemas/Point"}}
    assert builder.schema(Point | None) == {"anyOf": [{"$ref": "#/components/schemas/Point"}, {"type": "null"}]}
    assert set(defs) == {"Point"}
    assert defs["Point"]["title"] == "Point"


def test_a_recursive_type_refers_to_itself_in_defs_and_is_refused_inline() -> None:
    defs: dict[str, Any] = {}
    assert SchemaBuilder(defs).schema(Tree) == {"$ref": "#/$defs/Tree"}
    assert defs["Tree"]["properties"]["children"] == {"type": "array", "items": {"$ref": "#/$defs/Tree"}}
    with pytest.raises(SchemaError, match="Tree refers to itself"):
        type_schema(Tree)


def test_init_false_fields_are_in_what_is_received_not_what_is_sent() -> None:
    defs: dict[str, Any] = {}
    builder = SchemaBuilder(defs)
    assert builder.schema(Stamped) == {"$ref": "#/$defs/Stamped"}
    assert builder.schema(Stamped, mode="serialization") == {"$ref": "#/$defs/StampedOutput"}
    assert set(defs["Stamped"]["properties"]) == {"name"}
    assert set(defs["StampedOutput"]["properties"]) == {"name", "created"}


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (Opaque, r"parameter 'p' has type Opaque, which has no JSON Schema"),
        (bytes, r"parameter 'p' has type bytes"),
        (dict[int, str], r"JSON object keys are strings; use dict\[str, \.\.\.\]"),
        (list[Opaque], r"parameter 'p' items has type Opaque"),
    ],
)
def test_strict_refuses_types_with_no_json_form_saying_where(annotation: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        SchemaBuilder(strict=True).schema(annotation, where="parameter 'p'")


def test_lenient_gives_any_value_for_types_with_no_json_form() -> None:
    assert type_schema(Opaque) == {}
    assert type_schema(bytes) == {"type": "string"}


def test_a_subclass_changes_how_enums_and_named_types_are_described() -> None:
    class Titled(SchemaBuilder):
        def enum_schema(self, tp: type[enum.Enum]) -> dict[str, Any]:
            return {**super().enum_schema(tp), "title": tp.__name__}

        def describe(self, tp: type) -> tuple[str | None, Mapping[str, str]]:
            return "described", {"x": "across"}

    schema = Titled().schema(Point)
    assert schema["description"] == "described"
    assert schema["properties"]["x"]["description"] == "across"
    assert schema["properties"]["colour"]["title"] == "Colour"


@pytest.mark.parametrize("annotation", [Point, Movie, Tree | None, dict[str, list[Colour]], tuple[int, str]])
def test_schemas_are_valid_draft_2020_12(annotation: Any) -> None:
    defs: dict[str, Any] = {}
    schema = SchemaBuilder(defs).schema(annotation)
    jsonschema.Draft202012Validator.check_schema({**schema, "$defs": defs})
