"""Draw the tables of docs/benchmarks.md as PNG bar charts in docs/images/ and link each
chart beside its table.

    pip install -r bench/requirements.txt      # matplotlib
    python bench/charts.py                     # after a benchmark rewrote its section
    python bench/charts.py --only bench-router-mixed  # just that chart (names: --list)

The figures come from the Markdown tables themselves (what the benchmark scripts wrote), so a
chart never disagrees with its table. A section written by a script between
``<!-- SCRIPT: start -->`` and ``<!-- SCRIPT: end -->`` gets its chart link just after the end
marker, where the script's next rewrite leaves it; other tables get it just below the table.
"""

from __future__ import annotations

import argparse
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
    # A row whose label starts with ``block`` and ends with ", <title>" for a new title starts a
    # block of rows (one objective of the router's table): blocks get a heading and a gap, and
    # ", <title>" is dropped from the labels within them.
    block: str | None = None
    colours: tuple[tuple[str, str], ...] = ()  # (label prefix, colour): the first match colours a bar
    shorten: tuple[tuple[str, str], ...] = ()  # (regex, replacement) applied to the labels
    note: str | None = None  # a line under the chart
    zoom: tuple[str, ...] = ()  # panels whose axis starts just under their smallest figure, not at 0


CHARTS = [
    Chart("bench-http", "HTTP hello JSON: Conduit, Starlette, FastAPI (bench/http/run.py)",
          "<!-- bench/http/run.py: start -->", ("server",), ("req/s", "CPU µs/req", "p99 ms")),
    Chart("bench-otel", "conduit-otel overhead (bench/otel/run.py)",
          "<!-- bench/otel/run.py: start -->", ("variant",), ("req/s (median)", "p99 ms")),
    *(Chart(f"bench-router-{workload}", f"LLM router under a spending limit, {title} workload (bench/router_eval.py)",
            f'#### Workload "{workload}"', ("policy",), ("quality, % of strongest", "cost, % of strongest's"),
            colours=(("router", "#4c72b0"), ("reference", "#9a9a9a"), ("budget oracle", "#55a868"),
                     ("", "#dd8452")),
            shorten=((r" \((?:best fixed price|Beta posterior)[^)]*\)", ""), (r", in hindsight per seed \([^)]*\)", ""),
                     (r"reference: an idealised learner told each query's true domain.*", "learner told the true domain"),
                     (r"no cost feedback, usage of 1 answer in 4", "usage of 1 answer in 4 only"),
                     (r"neither cost nor usage reported", "nothing reported"),
                     (r"best single model within the budget \(([^)]*)\)", r"best single model (\1)")),
            zoom=("quality, % of strongest",),
            note="Means over the seeds of the table beside it (hashed n-gram features); quality and cost as a share "
                 "of always-strongest's over queries 1,000-4,000.")
      for workload, title in (("published", "published-figures"), ("mixed", "mixed"))),
    Chart("bench-stack", "Production middleware stack (bench/stack/run.py)",
          "<!-- bench/stack/run.py: start -->", ("transport", "code", "variant"), ("req/s", "CPU µs/req")),
]


def _number(cell: str) -> float:
    """The cell's leading figure ("96.2% (95.6%–96.8%)" is 96.2); NaN when it has none."""
    found = re.match(r"[-−]?\d+(?:\.\d+)?", re.sub(r"[*$,%×\s]", "", cell))
    return float(found.group().replace("−", "-")) if found else math.nan


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


def layout(chart: Chart, labels: list[str]) -> tuple[list[float], list[str], list[tuple[float, str]]]:
    """Each row's y position and chart label, and the blocks' headings (y, title)."""
    ys: list[float] = []
    shown: list[str] = []
    headings: list[tuple[float, str]] = []
    title: str | None = None
    y = 0.0
    for label in labels:
        if chart.block and label.startswith(chart.block) and len(label) > len(chart.block):
            new = label.rsplit(", ", 1)[1]
            if new != title:
                title = new
                y += 0.6 if headings else 0.0
                headings.append((y, title))
                y += 1.0
        if title is not None and label.endswith(f", {title}"):
            label = label[: -len(title) - 2]
        for pattern, repl in chart.shorten:
            label = re.sub(pattern, repl, label)
        ys.append(y)
        shown.append(label)
        y += 1.0
    return ys, shown, headings


def colour(chart: Chart, label: str) -> str:
    return next((c for prefix, c in chart.colours if label.startswith(prefix)), "#4c72b0")


def draw(chart: Chart, header: list[str], rows: list[list[str]]) -> Path:
    cols = {h: n for n, h in enumerate(header)}
    missing = [c for c in (*chart.label, *chart.values) if c not in cols]
    if missing:
        raise LookupError(f"{chart.name}: columns {missing} not in {header}")
    labels = [" · ".join(r[cols[c]] for c in chart.label) for r in rows]
    y, shown, headings = layout(chart, labels)
    height = (y[-1] + 1) if y else 1
    fig, axes = plt.subplots(1, len(chart.values), figsize=(4.6 * len(chart.values) + 1.5, 1.2 + 0.3 * height),
                             sharey=True, squeeze=False)
    colours = [colour(chart, label) for label in labels]
    for ax, column in zip(axes[0], chart.values, strict=True):
        values = [_number(r[cols[column]]) for r in rows]
        present = [v for v in values if not math.isnan(v)]
        origin = math.floor(min(present) - 1) if column in chart.zoom and present else 0
        ax.barh(y, [0 if math.isnan(v) else v - origin for v in values], left=origin, color=colours)
        for yi, v in zip(y, values, strict=True):
            if not math.isnan(v):
                ax.text(v, yi, f" {v:,.6g}", va="center", fontsize=7)
        ax.set_title(column if not origin else f"{column} (axis from {origin:g})", fontsize=10)
        ax.margins(x=0.18)
        ax.grid(axis="x", alpha=0.3)
        for hy, _ in headings[1:]:
            ax.axhline(hy - 0.8, color="#cccccc", linewidth=0.8)
    axes[0][0].set_yticks(y, shown, fontsize=8)
    for hy, title in headings:
        axes[0][0].annotate(title, xy=(0, hy), xycoords=("axes fraction", "data"), xytext=(-6, 0),
                            textcoords="offset points", ha="right", va="center", fontsize=8.5, fontweight="bold")
    axes[0][0].set_ylim(height - 0.4, -0.6)
    fig.suptitle(chart.title, fontsize=11)
    if chart.note:
        fig.text(0.01, 0.005, chart.note, fontsize=7.5, ha="left", va="bottom", color="#444444")
    fig.tight_layout(rect=(0, 0.03 if chart.note else 0, 1, 1))
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="draw only this chart (repeatable; default: all)")
    parser.add_argument("--list", action="store_true", help="list the charts and exit")
    args = parser.parse_args(argv)
    if args.list:
        for chart in CHARTS:
            print(f"{chart.name}: {chart.title} (from the table after {chart.anchor!r})")
        return 0
    names = {c.name for c in CHARTS}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        parser.error(f"unknown chart(s) {', '.join(unknown)}; the charts are {', '.join(sorted(names))}")
    drawn = []
    lines = DOC.read_text().splitlines()
    for chart in CHARTS:
        if args.only and chart.name not in args.only:
            continue
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
