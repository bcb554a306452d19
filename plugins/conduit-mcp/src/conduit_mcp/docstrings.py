"""Split a docstring into its summary and per-parameter descriptions.

Three common styles are understood, so a tool's docstring becomes its description and
each documented parameter's text becomes that parameter's ``description`` in the
tool's input schema:

- Google: an ``Args:`` (or ``Arguments:``, ``Parameters:``) section of
  ``name (type): text`` lines, continuation lines indented further;
- NumPy: a ``Parameters`` heading underlined with dashes, then ``name : type`` lines
  with the text indented below;
- Sphinx / reST: ``:param name: text`` or ``:param type name: text`` fields.

The summary is the text before the first section or field (``Returns``, ``Raises``,
``Examples`` ... and the parameter sections all end it).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_GOOGLE_PARAM_HEADINGS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_GOOGLE_OTHER_HEADINGS = {
    "returns",
    "return",
    "yields",
    "yield",
    "raises",
    "raise",
    "examples",
    "example",
    "notes",
    "note",
    "see also",
    "warnings",
    "warning",
    "attributes",
    "references",
    "todo",
}
_GOOGLE_HEADING = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
_GOOGLE_ITEM = re.compile(r"^(\*{0,2}[A-Za-z_][A-Za-z0-9_]*)\s*(\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_UNDERLINE = re.compile(r"^-{3,}\s*$")
_NUMPY_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*(.*))?$")
_SPHINX_FIELD = re.compile(r"^:(\w+)(?:\s+([^:]*?))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class Docstring:
    """The parts of a docstring that matter to MCP: summary and parameter texts."""

    summary: str = ""
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> Docstring:
    """Parse ``doc`` (Google, NumPy or Sphinx style, or plain prose)."""
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    summary_end = len(lines)
    params: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        next_line = lines[index + 1] if index + 1 < len(lines) else ""
        if _NUMPY_UNDERLINE.match(next_line.strip()) and stripped and not line.startswith(" "):
            summary_end = min(summary_end, index)
            heading = stripped.lower()
            index = _numpy_section(lines, index + 2, params if heading in _GOOGLE_PARAM_HEADINGS else None)
            continue
        heading_match = _GOOGLE_HEADING.match(line)
        if heading_match and heading_match.group(1).strip().lower() in (
            _GOOGLE_PARAM_HEADINGS | _GOOGLE_OTHER_HEADINGS
        ):
            summary_end = min(summary_end, index)
            is_params = heading_match.group(1).strip().lower() in _GOOGLE_PARAM_HEADINGS
            index = _google_section(lines, index + 1, params if is_params else None)
            continue
        field_match = _SPHINX_FIELD.match(stripped)
        if field_match and not line.startswith(" "):
            summary_end = min(summary_end, index)
            index = _sphinx_field(lines, index, field_match, params)
            continue
        index += 1
    summary = "\n".join(lines[:summary_end]).strip()
    return Docstring(summary=summary, params=params)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _join(parts: list[str]) -> str:
    return " ".join(part.strip() for part in parts if part.strip())


class _Items:
    """The items of one section as it is read: :meth:`start` begins one at its first line,
    :meth:`add` gives it a continuation line, :meth:`close` stores the last one. Each item
    is stored in ``params`` under its name when it ends; with ``params`` None (a section
    that does not document parameters) nothing is stored."""

    def __init__(self, params: dict[str, str] | None) -> None:
        self.params = params
        self.name: str | None = None
        self.parts: list[str] = []

    def start(self, name: str | None, text: str = "") -> None:
        """End the current item and begin ``name`` (None: a line that names no parameter)."""
        self.close()
        self.name, self.parts = name, [text]

    def add(self, line: str) -> None:
        if self.name is not None:
            self.parts.append(line)

    def close(self) -> None:
        if self.name is not None and self.params is not None:
            self.params[self.name] = _join(self.parts)


def _google_section(lines: list[str], start: int, params: dict[str, str] | None) -> int:
    """Read an indented Google section from ``start``; return the index after it."""
    index = start
    item_indent: int | None = None
    items = _Items(params)
    while index < len(lines):
        line = lines[index]
        if line.strip() and _indent(line) == 0:
            break
        if not line.strip():
            index += 1
            continue
        if item_indent is None:
            item_indent = _indent(line)
        if _indent(line) == item_indent:
            match = _GOOGLE_ITEM.match(line.strip())
            items.start(match.group(1).lstrip("*") if match else None, match.group(3) if match else "")
        else:
            items.add(line)
        index += 1
    items.close()
    return index


def _numpy_section(lines: list[str], start: int, params: dict[str, str] | None) -> int:
    """Read a NumPy section body from ``start`` up to the next heading."""
    index = start
    items = _Items(params)
    while index < len(lines):
        line = lines[index]
        next_line = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and _indent(line) == 0 and _NUMPY_UNDERLINE.match(next_line.strip()):
            break
        if line.strip() and _indent(line) == 0:
            match = _NUMPY_ITEM.match(line.strip())
            items.start(match.group(1) if match else None)
        else:
            items.add(line)
        index += 1
    items.close()
    return index


def _sphinx_field(lines: list[str], index: int, match: re.Match[str], params: dict[str, str]) -> int:
    """Read one ``:field arg: text`` (with indented continuation lines)."""
    kind, argument, text = match.group(1), (match.group(2) or "").split(), match.group(3)
    parts = [text]
    index += 1
    while index < len(lines) and lines[index].strip() and _indent(lines[index]) > 0:
        parts.append(lines[index])
        index += 1
    if kind in {"param", "parameter", "arg", "argument", "key", "keyword"} and argument:
        params[argument[-1]] = _join(parts)
    return index
