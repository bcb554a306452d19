"""Draw the tables of docs/benchmarks.md as PNG bar charts in docs/images/ and link each
chart beside its table.

    pip install -r bench/requirements.txt      # matplotlib
    python bench/charts.py                     # after a benchmark rewrote its section

The figures come from the Markdown tables themselves (what the benchmark scripts wrote), so a
chart never disagrees with its table. A section written by a script between
``<!-- SCRIPT: start -->`` and ``<!-- SCRIPT: end -->`` gets its chart link just after the end
marker, where the script's next rewrite leaves it; other tables get it just below the table.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
IMAGES = ROOT / "docs" / "images"


@dataclass
class Chart:
    name: str  # docs/images/<name>.png
    title: str
    anchor: str  # the section's start marker, or its heading
    label: tuple[str, ...]  # columns joined into a bar's label
    values: tuple[str, ...]  # one panel per column


CHARTS = [
    Chart("bench-http", "HTTP hello JSON: Conduit, Starlette, FastAPI (bench/http/run.py)",
          "<!-- bench/http/run.py: start -->", ("server",), ("req/s", "CPU µs/req", "p99 ms")),
    Chart("bench-otel", "conduit-otel overhead (bench/otel/run.py)",
          "<!-- bench/otel/run.py: start -->", ("variant",), ("req/s (median)", "p99 ms")),
    Chart("bench-router", "LLM router vs. baselines (bench/router_eval.py)",
          "## LLM router", ("policy",), ("quality", "cost / query")),
    Chart("bench-stack", "Production middleware stack (bench/stack/run.py)",
          "<!-- bench/stack/run.py: start -->", ("transport", "code", "variant"), ("req/s", "CPU µs/req")),
]


def _number(cell: str) -> float:
    text = re.sub(r"[*$,%×\s]", "", cell)
    try:
        return float(text)
    except ValueError:
        return math.nan


def find_table(lines: list[str], anchor: str) -> tuple[list[str], list[list[str]], int]:
    """The first table after ``anchor``: its header, rows and the index of its last line."""
    start = next((i for i, line in enumerate(lines) if line.startswith(anchor)), None)
    if start is None:
        raise LookupError(f"{anchor!r} not found in {DOC}")
    i = start
    while i < len(lines) and not lines[i].startswith("|"):
        i += 1
    rows = []
    while i < len(lines) and lines[i].startswith("|"):
        rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
        i += 1
    if len(rows) < 3:
        raise LookupError(f"no table after {anchor!r}")
    return rows[0], rows[2:], i - 1


def draw(chart: Chart, header: list[str], rows: list[list[str]]) -> Path:
    cols = {h: n for n, h in enumerate(header)}
    missing = [c for c in (*chart.label, *chart.values) if c not in cols]
    if missing:
        raise LookupError(f"{chart.name}: columns {missing} not in {header}")
    labels = [" · ".join(r[cols[c]] for c in chart.label) for r in rows]
    fig, axes = plt.subplots(1, len(chart.values), figsize=(5.5 * len(chart.values), 0.9 + 0.32 * len(rows)),
                             sharey=True, squeeze=False)
    y = list(range(len(rows)))
    for ax, column in zip(axes[0], chart.values, strict=True):
        values = [_number(r[cols[column]]) for r in rows]
        ax.barh(y, [0 if math.isnan(v) else v for v in values], color="#4c72b0")
        for yi, v in zip(y, values, strict=True):
            if not math.isnan(v):
                ax.text(v, yi, f" {v:,.6g}", va="center", fontsize=7)
        ax.set_title(column, fontsize=10)
        ax.margins(x=0.18)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, labels, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.suptitle(chart.title, fontsize=11)
    fig.tight_layout()
    IMAGES.mkdir(parents=True, exist_ok=True)
    out = IMAGES / f"{chart.name}.png"
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return out


def link(lines: list[str], chart: Chart, table_end: int) -> list[str]:
    """Put ``![...](images/NAME.png)`` after the section's end marker, or below the table."""
    md = f"![{chart.title}](images/{chart.name}.png)"
    if any(line.strip() == md for line in lines):
        return lines
    at = table_end + 1
    if chart.anchor.startswith("<!--") and chart.anchor.endswith("start -->"):
        end = chart.anchor.replace("start -->", "end -->")
        at = next(i for i, line in enumerate(lines) if line.startswith(end)) + 1
    return [*lines[:at], "", md, *lines[at:]]


def main(argv: list[str] | None = None) -> int:
    drawn = []
    lines = DOC.read_text().splitlines()
    for chart in CHARTS:
        try:
            header, rows, _ = find_table(lines, chart.anchor)
            out = draw(chart, header, rows)
        except LookupError as exc:
            print(f"skipped {chart.name}: {exc}", file=sys.stderr)
            continue
        print(f"wrote {out.relative_to(ROOT)} ({len(rows)} rows)")
        drawn.append(chart)
    lines = DOC.read_text().splitlines()  # re-read right before writing: others edit other sections
    for chart in drawn:
        lines = link(lines, chart, find_table(lines, chart.anchor)[2])
    DOC.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
