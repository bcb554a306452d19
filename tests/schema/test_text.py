"""conduit.schema's text side: query parameters, prompt arguments and URI variables into typed values."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, Any, Literal

import annotated_types
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduit.schema import INT64, CoercionError, SchemaError, coerce_text, text_converter


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@pytest.mark.parametrize(
    ("annotation", "text", "expected"),
    [
        (int, "-12", -12),
        (int, str(INT64[1]), INT64[1]),
        (float, "1.5e3", 1500.0),
        (float, ".5", 0.5),
        (bool, "YES", True),
        (bool, "off", False),
        (uuid.UUID, "12345678-1234-5678-1234-567812345678", uuid.UUID("12345678-1234-5678-1234-567812345678")),
        (dt.date, "2024-05-01", dt.date(2024, 5, 1)),
        (Colour, "green", Colour.GREEN),
        (Literal["a", 2], "2", 2),
        (Literal[True], "True", True),
        (str, " kept as is ", " kept as is "),
    ],
)
def test_scalar_text_converts(annotation: Any, text: str, expected: Any) -> None:
    convert, _what = text_converter(annotation)
    assert convert(text) == expected


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        (int, " 3"), (int, "+3"), (int, "1_000"), (int, "٣"), (int, str(INT64[1] + 1)), (int, "1.0"),
        (float, "nan"), (float, "inf"), (float, "1e999"), (float, "1_0"),
        (bool, "maybe"), (Colour, "RED"), (Literal[True], "false"), (uuid.UUID, "x"), (dt.date, "May 1"),
    ],
)
def test_scalar_text_that_does_not_convert_raises_value_or_lookup_error(annotation: Any, text: str) -> None:
    convert, _what = text_converter(annotation)
    with pytest.raises((ValueError, LookupError)):
        convert(text)


@given(st.integers(min_value=INT64[0], max_value=INT64[1]))
def test_every_64_bit_integer_round_trips_through_its_text(n: int) -> None:
    assert text_converter(int)[0](str(n)) == n


@given(st.text(max_size=30), st.sampled_from([int, float, bool, uuid.UUID, dt.datetime, Colour, Literal["a", 1, True]]))
def test_any_text_converts_or_raises_only_value_or_lookup_error(text: str, annotation: Any) -> None:
    convert, _what = text_converter(annotation)
    try:
        convert(text)
    except (ValueError, LookupError):
        pass


def test_types_text_cannot_spell_are_refused() -> None:
    with pytest.raises(SchemaError, match="cannot be read from text"):
        text_converter(list[int])


@pytest.mark.parametrize(
    ("text", "annotation", "expected"),
    [("[1, 2]", list[int], [1, 2]), ("3", int | None, 3), ("red", Colour, Colour.RED), ("x", Any, "x")],
)
def test_coerce_text_converts_scalars_and_decodes_json_for_the_rest(text: str, annotation: Any, expected: Any) -> None:
    assert coerce_text(text, annotation) == expected


@pytest.mark.parametrize(
    ("text", "annotation", "message"),
    [
        ("three", int, r"argument 'v' must be an integer \(64-bit\), got string 'three'"),
        ("[1,", list[int], "argument 'v' must be JSON text"),
        ('[1, "a"]', list[int], r"argument 'v\[1\]' must be an integer"),
        ("0", Annotated[int, annotated_types.Ge(1)], "argument 'v' must be at least 1"),
    ],
)
def test_coerce_text_mismatches_name_the_argument(text: str, annotation: Any, message: str) -> None:
    with pytest.raises(CoercionError, match=message):
        coerce_text(text, annotation, "v")
