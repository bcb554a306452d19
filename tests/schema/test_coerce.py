"""conduit.schema.coerce: decoded JSON into the values type hints declare, with errors that name the path."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import uuid
from typing import Annotated, Any, Literal, NewType, NotRequired, TypedDict

import annotated_types
import jsonschema
import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conduit.schema import CoercionError, SchemaBuilder, coerce


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class LineItem:
    sku: str
    quantity: int = 1


class Address(TypedDict):
    city: str
    zip: NotRequired[str | None]


@dataclasses.dataclass
class Order:
    items: list[LineItem]
    ship_to: Address | None = None
    priority: Literal["low", "high"] = "low"


@dataclasses.dataclass
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


UserId = NewType("UserId", int)


def test_nested_named_types_are_built() -> None:
    value = {"items": [{"sku": "a", "quantity": 2}, {"sku": "b"}], "ship_to": {"city": "Oslo"}, "priority": "high"}
    assert coerce(value, Order) == Order([LineItem("a", 2), LineItem("b")], {"city": "Oslo"}, "high")


def test_a_recursive_dataclass_is_built_at_every_depth() -> None:
    assert coerce({"value": 1, "children": [{"value": 2}]}, Tree) == Tree(1, [Tree(2)])


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        ("green", Colour, Colour.GREEN),
        ("2024-05-01T10:00:00", dt.datetime, dt.datetime(2024, 5, 1, 10)),
        ("2024-05-01", dt.date, dt.date(2024, 5, 1)),
        ("12345678-1234-5678-1234-567812345678", uuid.UUID, uuid.UUID("12345678-1234-5678-1234-567812345678")),
        ([1, "x"], tuple[int, str], (1, "x")),
        (["a", "a"], set[str], {"a"}),
        (["a"], frozenset[str], frozenset({"a"})),
        (3, float, 3.0),
        (3.0, int, 3),
        (None, int | None, None),
        (7, UserId, 7),
        ({"title": "Up", "extra": 1}, dict[str, Any], {"title": "Up", "extra": 1}),
    ],
)
def test_values_convert_to_their_declared_type(value: Any, annotation: Any, expected: Any) -> None:
    result = coerce(value, annotation)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        ("1", int, "argument 'v' must be an integer, got string '1'"),
        (True, int, "argument 'v' must be an integer, got boolean True"),
        ("blue", Colour, "argument 'v' must be one of 'red', 'green', got string 'blue'"),
        ({"items": [{"sku": 3}]}, Order, "argument 'v.items[0].sku' must be a string, got integer 3"),
        ({"items": [], "ship_to": {}}, Order, "argument 'v.ship_to' is missing required key(s) city"),
        ({"items": [], "x": 1}, Order, "argument 'v' has unknown field(s) x for Order"),
        ({}, Order, "argument 'v' is missing required field 'items'"),
        ([1], tuple[int, str], "argument 'v' must be an array of 2 items"),
        ({"a": "x"}, dict[str, int], "argument 'v.a' must be an integer"),
        ("x", int | None, "argument 'v' must be an integer, got string 'x'"),
        ([], int | str, "argument 'v' must be one of int or str, got array []"),
        (-1, Annotated[int, annotated_types.Ge(0)], "argument 'v' must be at least 0, got integer -1"),
        ("toolong", Annotated[str, annotated_types.MaxLen(3)], "argument 'v' must be of length at most 3"),
    ],
)
def test_mismatches_name_the_path_and_what_was_expected(value: Any, annotation: Any, message: str) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce(value, annotation, "v")
    assert message in str(caught.value)


def test_equal_unions_in_another_order_keep_their_own_order() -> None:
    assert type(coerce(1, int | float)) is int
    assert type(coerce(1, float | int)) is float


# --- the schema and the coercion agree -------------------------------------------------------------

_ANNOTATIONS: list[Any] = [
    int, float, str, bool, int | None, list[int], dict[str, float], tuple[int, str], Colour, Literal["a", "b"],
    dt.datetime, uuid.UUID, LineItem, Order, Annotated[int, annotated_types.Ge(0), annotated_types.Le(10)],
]


def _finite(value: Any) -> bool:
    """False when a float in ``value`` is NaN or infinite: JSON has no such numbers."""
    if isinstance(value, float):
        return math.isfinite(value)
    if dataclasses.is_dataclass(value):
        return all(_finite(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True


@given(st.sampled_from(_ANNOTATIONS).flatmap(lambda tp: st.tuples(st.just(tp), st.from_type(tp))))
def test_a_value_as_json_fits_its_schema_and_coerces_back_to_itself(pair: tuple[Any, Any]) -> None:
    annotation, value = pair
    assume(_finite(value))
    try:
        data = orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        assume(False)
    defs: dict[str, Any] = {}
    schema = SchemaBuilder(defs).schema(annotation)
    jsonschema.validate(data, {**schema, "$defs": defs}, cls=jsonschema.Draft202012Validator)
    assert coerce(data, annotation) == value
