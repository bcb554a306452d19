"""Request-body validation helpers (seed 000's ``InputValidator``).

Each method returns a list of problems, one readable sentence each, empty when the
input is fine, so a handler can report them all at once::

    errors = validator.validate_required(data, ["name", "email"])
    if errors:
        abort(400, "Missing fields", "; ".join(errors))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["InputValidator"]

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "number": (int, float),
    "bool": (bool,),
    "list": (list, tuple),
    "dict": (dict,),
}


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


class InputValidator:
    """Validators for parsed JSON bodies and ML feature vectors."""

    def _mapping_problem(self, data: Any) -> list[str]:
        return [] if isinstance(data, Mapping) else [f"the body must be a JSON object, got {_type_name(data)}"]

    def validate_required(self, data: Any, fields: Iterable[str]) -> list[str]:
        """Fields that are absent, null or an empty string."""
        problems = self._mapping_problem(data)
        if problems:
            return problems
        return [f"'{f}' is required" for f in fields if data.get(f) is None or data.get(f) == ""]

    def validate_types(self, data: Any, types: Mapping[str, str | type | tuple[type, ...]]) -> list[str]:
        """Present fields whose value has the wrong type. Names: str, int, float (ints
        accepted), number, bool, list, dict; or Python types. Booleans are never numbers."""
        problems = self._mapping_problem(data)
        if problems:
            return problems
        for name, expected in types.items():
            if name not in data or data[name] is None:
                continue
            if isinstance(expected, str):
                if expected not in _TYPES:
                    raise ValueError(f"unknown type name {expected!r} for {name!r}; use one of {', '.join(_TYPES)}")
                allowed, label = _TYPES[expected], expected
            else:
                allowed = expected if isinstance(expected, tuple) else (expected,)
                label = " or ".join(t.__name__ for t in allowed)
            value = data[name]
            if isinstance(value, bool) and bool not in allowed:
                ok = False
            else:
                ok = isinstance(value, allowed)
            if not ok:
                problems.append(f"'{name}' must be {label}, got {_type_name(value)}")
        return problems

    def validate_ranges(self, data: Any, ranges: Mapping[str, tuple[float | None, float | None]]) -> list[str]:
        """Present numeric fields outside ``(min, max)`` (inclusive; None leaves a side open)."""
        problems = self._mapping_problem(data)
        if problems:
            return problems
        for name, (low, high) in ranges.items():
            value = data.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"'{name}' must be a number, got {_type_name(value)}")
            elif math.isnan(value) or (low is not None and value < low) or (high is not None and value > high):
                bounds = f"between {low} and {high}" if low is not None and high is not None else (
                    f">= {low}" if low is not None else f"<= {high}"
                )
                problems.append(f"'{name}' must be {bounds}, got {value}")
        return problems

    def validate_ml_input_shape(
        self,
        features: Any,
        expected_dims: int | None = None,
        *,
        expected_shape: Sequence[int | None] | None = None,
        allow_batch: bool = False,
    ) -> list[str]:
        """Check a feature vector (or, with ``allow_batch``, a list of them): numbers only,
        finite, rectangular, ``expected_dims`` long or of ``expected_shape`` (None = any)."""
        if isinstance(features, (str, bytes)) or not isinstance(features, (list, tuple)):
            return [f"features must be an array of numbers, got {_type_name(features)}"]
        actual = self._shape(features)
        if isinstance(actual, str):
            return [actual]
        if expected_shape is not None:
            shape = list(expected_shape)
        elif expected_dims is not None:
            shape = [None, expected_dims] if allow_batch and len(actual) == 2 else [expected_dims]
        else:
            return []
        if len(actual) != len(shape) or any(want is not None and got != want for got, want in zip(actual, shape)):
            want_text = "x".join("?" if d is None else str(d) for d in shape)
            return [f"features must have shape {want_text}, got {'x'.join(map(str, actual))}"]
        return []

    def _shape(self, value: Any, path: str = "features") -> list[int] | str:
        """The rectangular shape of nested lists of finite numbers, or the first problem."""
        if isinstance(value, bool):
            return f"{path} must be a number, got boolean"
        if isinstance(value, (int, float)):
            return [] if math.isfinite(value) else f"{path} must be finite, got {value}"
        if not isinstance(value, (list, tuple)):
            return f"{path} must be a number, got {_type_name(value)}"
        if not value:
            return f"{path} must not be empty"
        first = self._shape(value[0], f"{path}[0]")
        if isinstance(first, str):
            return first
        for i, item in enumerate(value[1:], start=1):
            inner = self._shape(item, f"{path}[{i}]")
            if isinstance(inner, str):
                return inner
            if inner != first:
                return f"{path} is ragged: item {i} has shape {inner or 'scalar'}, item 0 {first or 'scalar'}"
        return [len(value), *first]
