"""Constraints in ``Annotated[...]`` metadata: as JSON Schema keywords and as checks.

Read by attribute name, so no library is imported: ``annotated_types`` (``Ge(0)``,
``MaxLen(20)``, ``Interval(...)``: the vocabulary pydantic uses), ``msgspec.Meta(ge=0)`` and
pydantic's ``Field(ge=0)`` (whose ``metadata`` holds the first kind) all spell them
``ge``/``gt``/``le``/``lt``/``multiple_of``/``min_length``/``max_length``/``pattern``, with an
optional ``description``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Check", "checks", "constraints_of", "read_constraints", "schema_keywords"]

_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum", "multiple_of": "multipleOf"}
_LENGTHS = {
    "min_length": {"string": "minLength", "array": "minItems", "object": "minProperties"},
    "max_length": {"string": "maxLength", "array": "maxItems", "object": "maxProperties"},
}
_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(_BOUNDS, (int, float)),
    "min_length": (int,),
    "max_length": (int,),
    "pattern": (str,),
    "description": (str,),
}

Check = Callable[[Any], "str | None"]
"""Returns what the value must be when it breaks the constraint, else None."""


def read_constraints(extra: Any) -> dict[str, Any]:
    """``{name: value}`` of the constraints one ``Annotated`` metadata object carries."""
    found: dict[str, Any] = {}
    inner = getattr(extra, "metadata", None)
    if isinstance(inner, (list, tuple)):  # pydantic's FieldInfo
        for item in inner:
            found.update(read_constraints(item))
    for name, kinds in _TYPES.items():
        value = getattr(extra, name, None)
        if isinstance(value, kinds) and not isinstance(value, bool):
            found[name] = value
    return found


def schema_keywords(constraints: dict[str, Any], json_type: Any) -> dict[str, Any]:
    """The JSON Schema keywords for ``constraints`` on a schema of ``json_type``."""
    keywords = {_BOUNDS[k]: v for k, v in constraints.items() if k in _BOUNDS}
    for name, by_type in _LENGTHS.items():
        if name in constraints and json_type in by_type:
            keywords[by_type[json_type]] = constraints[name]
    if "pattern" in constraints:
        keywords["pattern"] = constraints["pattern"]
    if "description" in constraints:
        keywords["description"] = constraints["description"]
    return keywords


def checks(constraints: dict[str, Any]) -> list[Check]:
    """One check a constraint; a check passes values it does not apply to (None for ``ge``)."""
    found = [_bound(name, bound) for name, bound in constraints.items() if name in _BOUNDS]
    if "min_length" in constraints:
        found.append(_length(constraints["min_length"], at_least=True))
    if "max_length" in constraints:
        found.append(_length(constraints["max_length"], at_least=False))
    if "pattern" in constraints:
        found.append(_pattern(constraints["pattern"]))
    return found


_BOUND_TESTS: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "ge": (lambda v, b: v >= b, "at least {}"),
    "gt": (lambda v, b: v > b, "greater than {}"),
    "le": (lambda v, b: v <= b, "at most {}"),
    "lt": (lambda v, b: v < b, "less than {}"),
    "multiple_of": (lambda v, b: v % b == 0, "a multiple of {}"),
}


def _bound(name: str, bound: Any) -> Check:
    test, text = _BOUND_TESTS[name]
    expected = text.format(bound)

    def check(value: Any) -> str | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not test(value, bound):
            return expected
        return None

    return check


def _length(limit: int, *, at_least: bool) -> Check:
    expected = f"of length at {'least' if at_least else 'most'} {limit}"

    def check(value: Any) -> str | None:
        if isinstance(value, (str, list, tuple, dict, set, frozenset)):
            size = len(value)
            if size < limit if at_least else size > limit:
                return expected
        return None

    return check


def _pattern(pattern: str) -> Check:
    compiled = re.compile(pattern)
    expected = f"a string matching {pattern!r}"

    def check(value: Any) -> str | None:
        return expected if isinstance(value, str) and compiled.search(value) is None else None

    return check


def constraints_of(metadata: Iterable[Any]) -> dict[str, Any]:
    """The constraints all of an ``Annotated``'s metadata objects carry (mappings and strings skipped)."""
    found: dict[str, Any] = {}
    for extra in metadata:
        if not isinstance(extra, (str, Mapping)):
            found.update(read_constraints(extra))
    return found
