"""Rendering metric families in the Prometheus text exposition format (version 0.0.4).

Names are made legal (``predictions.success`` → ``predictions_success``), label values
escaped (backslash, double quote, newline), ``HELP`` text escaped, and floats written
the way Prometheus reads them (``+Inf``, ``-Inf``, ``NaN``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CONTENT_TYPE",
    "Family",
    "Sample",
    "escape_help",
    "escape_label_value",
    "format_value",
    "label_name",
    "metric_name",
    "render",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_BAD_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_BAD_LABEL = re.compile(r"[^a-zA-Z0-9_]")

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """One line: ``name{labels} value`` (``name`` is the full sample name)."""

    name: str
    labels: Labels
    value: float


@dataclass(slots=True)
class Family:
    """A metric family: one HELP and TYPE line and its samples."""

    name: str
    type: str  # counter, gauge, histogram, summary or untyped
    help: str
    samples: list[Sample] = field(default_factory=list)


def metric_name(raw: str, namespace: str = "") -> str:
    """A legal Prometheus metric name for ``raw``, under ``namespace_`` when given."""
    name = _BAD_NAME.sub("_", raw)
    if namespace and not name.startswith(namespace + "_"):
        name = f"{namespace}_{name}"
    if not name or name[0].isdigit():
        name = "_" + name
    return name


def label_name(raw: str) -> str:
    """A legal label name (``__`` prefixes are reserved, so one is kept single)."""
    name = _BAD_LABEL.sub("_", raw)
    if not name or name[0].isdigit():
        name = "_" + name
    if name.startswith("__"):
        name = name[1:]
    return name


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(labels: Sequence[tuple[str, str]]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{label_name(k)}="{escape_label_value(str(v))}"' for k, v in labels)
    return "{" + inner + "}"


def render(families: Iterable[Family]) -> str:
    """The exposition text for ``families``, each family's lines together."""
    lines: list[str] = []
    for family in families:
        if not family.samples:
            continue
        lines.append(f"# HELP {family.name} {escape_help(family.help or family.name)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for sample in family.samples:
            lines.append(f"{sample.name}{_labels(sample.labels)} {format_value(sample.value)}")
    return "\n".join(lines) + "\n" if lines else ""
