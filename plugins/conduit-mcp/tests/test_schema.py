"""JSON Schema from type hints: inputs, outputs, docstrings, and refusals with reasons."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict, Union

import jsonschema
import pytest

from conduit_mcp.convert import ArgumentError, from_json, from_text
from conduit_mcp.schema import SchemaError, describe_function, type_schema


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Point:
    """A point.

    Args:
        x: Horizontal.
        y: Vertical.
    """

    x: float
    y: float = 0.0
    tags: list[str] = field(default_factory=list)


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (tuple[int, str], {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                           "minItems": 2, "maxItems": 2}),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (dict, {"type": "object"}),
        (Optional[int], {"type": ["integer", "null"]}),
        (int | str, {"type": ["integer", "string"]}),
        (Union[Point, None], {"anyOf": [type_schema(Point), {"type": "null"}]}),
        (Literal["a", "b"], {"enum": ["a", "b"], "type": "string"}),
        (Literal[1, "x"], {"enum": [1, "x"]}),
        (Colour, {"enum": ["red", "green"], "type": "string", "title": "Colour"}),
        (dt.datetime, {"type": "string", "format": "date-time"}),
        (uuid.UUID, {"type": "string", "format": "uuid"}),
        (Annotated[int, "How many"], {"type": "integer", "description": "How many"}),
        (Any, {}),
    ],
)
def test_type_schema(annotation: Any, schema: dict[str, Any]) -> None:
    assert type_schema(annotation) == schema


def test_dataclass_and_typeddict_schemas() -> None:
    assert type_schema(Point) == {
        "type": "object",
        "title": "Point",
        "description": "A point.",
        "properties": {
            "x": {"type": "number", "description": "Horizontal."},
            "y": {"type": "number", "description": "Vertical.", "default": 0.0},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["x"],
    }
    assert type_schema(Movie) == {
        "type": "object",
        "title": "Movie",
        "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["title"],
    }


class Opaque:
    pass


def test_unsupported_types_are_refused_naming_the_parameter() -> None:
    def tool(thing: Opaque) -> None: ...

    with pytest.raises(SchemaError, match=r"tool 'tool': parameter 'thing' has type Opaque"):
        describe_function(tool)
    with pytest.raises(SchemaError, match=r"dict\[str, \.\.\.\]"):
        type_schema(dict[int, str])


def test_input_schema_has_required_defaults_and_docstring_descriptions() -> None:
    def search(query: str, colour: Colour = Colour.RED, limit: int | None = None, *, exact: bool = False) -> list[str]:
        """Search.

        :param query: Words.
        :param limit: At most this many.
        """
        return []

    signature = describe_function(search)
    assert signature.description == "Search."
    assert signature.input_schema == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Words."},
            "colour": {"enum": ["red", "green"], "type": "string", "title": "Colour", "default": "red"},
            "limit": {"type": ["integer", "null"], "description": "At most this many.", "default": None},
            "exact": {"type": "boolean", "default": False},
        },
        "required": ["query"],
    }
    jsonschema.Draft202012Validator.check_schema(signature.input_schema)


def test_output_schema_wraps_non_objects_and_uses_objects_as_they_are() -> None:
    def number() -> float:
        return 1.0

    def point() -> Point:
        return Point(1)

    def untyped():  # type: ignore[no-untyped-def]
        return 1

    def nothing() -> None:
        return None

    assert describe_function(number).output_schema == {
        "type": "object", "properties": {"result": {"type": "number"}}, "required": ["result"]
    }
    assert describe_function(number).wrap_output is True
    assert describe_function(point).output_schema == type_schema(Point)
    assert describe_function(point).wrap_output is False
    assert describe_function(untyped).output_schema is None
    assert describe_function(nothing).output_schema is None
    assert describe_function(number, structured_output=False).output_schema is None


def test_positional_only_and_var_positional_parameters_are_refused() -> None:
    def f(a: int, /) -> None: ...

    def g(*args: int) -> None: ...

    for fn in (f, g):
        with pytest.raises(SchemaError, match="MCP passes arguments by name"):
            describe_function(fn)


def test_from_json_converts_to_declared_types() -> None:
    assert from_json({"x": 1, "tags": ["a"]}, Point, "p") == Point(1.0, 0.0, ["a"])
    assert from_json("green", Colour, "c") is Colour.GREEN
    assert from_json("2024-05-01T10:00:00", dt.datetime, "when") == dt.datetime(2024, 5, 1, 10)
    assert from_json([1, "x"], tuple[int, str], "t") == (1, "x")
    assert from_json(None, Optional[int], "n") is None
    assert from_json({"title": "Up"}, Movie, "m") == {"title": "Up"}
    assert from_json(3, float, "f") == 3.0 and isinstance(from_json(3, float, "f"), float)


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        ("1", int, "argument 'v' must be an integer, got string '1'"),
        (True, int, "must be an integer, got boolean"),
        (1.5, int, "must be an integer"),
        ("blue", Colour, "must be one of 'red', 'green'"),
        ({"y": 1}, Point, "missing required field 'x'"),
        ({"x": 1, "z": 2}, Point, "unknown field(s) z"),
        ([1, "a"], list[int], "argument 'v[1]' must be an integer"),
        ({}, Movie, "missing required key(s) title"),
        ("c", Literal["a", "b"], "must be one of 'a', 'b'"),
    ],
)
def test_from_json_rejects_with_the_path_and_expectation(value: Any, annotation: Any, message: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        from_json(value, annotation, "v")
    assert message in str(caught.value)


def test_from_text_converts_prompt_and_uri_strings() -> None:
    assert from_text("3", int, "n") == 3
    assert from_text("true", bool, "b") is True
    assert from_text("red", Colour, "c") is Colour.RED
    assert from_text("[1, 2]", list[int], "l") == [1, 2]
    assert from_text("x", Optional[str], "s") == "x"
    with pytest.raises(ArgumentError, match="must be an integer"):
        from_text("three", int, "n")
