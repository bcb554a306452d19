"""InputValidator: required fields, types, ranges and ML input shapes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduit.framework.security import InputValidator

v = InputValidator()


def test_seed_validations() -> None:
    data = {"name": "Ada", "email": "", "age": 130, "score": "high", "active": True}
    assert v.validate_required(data, ["name", "email", "phone"]) == ["'email' is required", "'phone' is required"]
    assert v.validate_types(data, {"name": "str", "age": "int", "score": "float", "active": "int"}) == [
        "'score' must be float, got string",
        "'active' must be int, got boolean",
    ]
    assert v.validate_ranges(data, {"age": (0, 120), "score": (0.0, 100.0)}) == [
        "'age' must be between 0 and 120, got 130",
        "'score' must be a number, got string",
    ]
    assert v.validate_types({"x": 3}, {"x": "float"}) == []
    assert v.validate_ranges({"x": -1}, {"x": (0, None)}) == ["'x' must be >= 0, got -1"]


def test_non_object_bodies_are_reported_not_crashed_on() -> None:
    for check in (lambda d: v.validate_required(d, ["a"]), lambda d: v.validate_types(d, {"a": "str"})):
        assert check([1, 2]) == ["the body must be a JSON object, got array"]
    with pytest.raises(ValueError, match="unknown type name"):
        v.validate_types({"a": 1}, {"a": "integer"})


@pytest.mark.parametrize(
    ("features", "kwargs", "errors"),
    [
        ([0.1] * 768, {"expected_dims": 768}, []),
        ([0.1] * 512, {"expected_dims": 768}, ["features must have shape 768, got 512"]),
        ([[0.1, 0.2]] * 3, {"expected_dims": 2, "allow_batch": True}, []),
        ([[0.1, 0.2], [0.3]], {"allow_batch": True}, ["features is ragged: item 1 has shape [1], item 0 [2]"]),
        ([0.1, "x"], {}, ["features[1] must be a number, got string"]),
        ([0.1, math.nan], {}, ["features[1] must be finite, got nan"]),
        ([True, 1.0], {}, ["features[0] must be a number, got boolean"]),
        ("0.1,0.2", {}, ["features must be an array of numbers, got string"]),
        ([], {}, ["features must not be empty"]),
        ([[1, 2], [3, 4]], {"expected_shape": (2, None)}, []),
    ],
)
def test_ml_input_shape(features, kwargs, errors) -> None:
    assert v.validate_ml_input_shape(features, **kwargs) == errors


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_any_finite_vector_matches_its_own_length(vector: list[float]) -> None:
    assert v.validate_ml_input_shape(vector, expected_dims=len(vector)) == []
    assert v.validate_ml_input_shape(vector, expected_dims=len(vector) + 1) != []
