"""What the built-in request metrics cost under load: the hello app with ``monitoring`` on
(the default) and off, on h11 and on httptools, in interleaved rounds; writes its section of
docs/benchmarks.md.

Each variant is one fresh ``conduit run`` process (one worker) loaded with
``wrk -t1 -c64``; the server's CPU time per request is read from /proc around the measured
run. Rounds are interleaved (every variant once per round) and the table shows medians.

    python bench/http/metrics_cost.py                  # 5 rounds of 6 s, rewrites the section
    python bench/http/metrics_cost.py --rounds 1 --duration 3 --no-write

Needs wrk (Debian: apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import command_line, publish  # noqa: E402 - bench/common.py, by path
from run import Result, Server, _conduit, machine, measure, versions  # noqa: E402 - bench/http/run.py

START = "<!-- bench/http/metrics_cost.py: start -->"
END = "<!-- bench/http/metrics_cost.py: end -->"
TARGET = 0.05  # issue 25: at most 5% of bare throughput


@dataclass
class Variant:
    transport: str
    monitoring: bool
    server: Server


def variants() -> list[Variant]:
    out = []
    for http, loop in (("h11", "asyncio"), ("httptools", "uvloop")):
        for on in (False, True):
            name = f"{http}-{'metrics' if on else 'bare'}"
            server = _conduit(name, name, "conduit_async", http, loop)
            server.env = {**server.env, "CONDUIT_MONITORING": "true" if on else "false"}
            out.append(Variant(http, on, server))
    return out


def render(results: dict[str, list[Result]], chosen: list[Variant], args: argparse.Namespace, command: str) -> str:
    lines = [
        START,
        f"Produced by `{command}` on {_dt.date.today().isoformat()}.",
        "",
        f"- Machine: {machine()}; wrk shares the cores with the server.",
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s` on `GET /` (bench/http/apps/"
        f"conduit_async.py, one process) after a {args.warmup} s warm-up; {args.rounds} interleaved rounds,"
        " medians shown. CPU µs/req: the server's user + system time over the measured run / requests.",
        f"- Versions: {versions()}.",
        "",
        "| transport | monitoring | req/s | CPU µs/req | req/s per round | CPU µs/req per round |",
        "|---|---|---:|---:|---|---|",
    ]
    med: dict[str, tuple[float, float]] = {}
    for v in chosen:
        rs = results[v.server.name]
        rps = statistics.median(r.rps for r in rs)
        cpu = statistics.median(r.cpu_us for r in rs)
        med[v.server.name] = (rps, cpu)
        lines.append(
            f"| {v.transport} | {'on (default)' if v.monitoring else 'off'} | {rps:,.0f} | {cpu:.1f} "
            f"| {', '.join(f'{r.rps:.0f}' for r in rs)} | {', '.join(f'{r.cpu_us:.1f}' for r in rs)} |"
        )
    lines.append("")
    for http in sorted({v.transport for v in chosen}):
        bare, on = med.get(f"{http}-bare"), med.get(f"{http}-metrics")
        if not bare or not on:
            continue
        loss = 1 - on[0] / bare[0]
        extra = on[1] - bare[1]
        share = extra / on[1] if on[1] else 0.0
        verdict = "met" if loss <= TARGET else "**missed**"
        lines.append(
            f"- {http}: metrics cost {loss:.1%} of bare req/s and +{extra:.1f} CPU µs/req "
            f"({share:.1%} of the CPU per request); target ≤ {TARGET:.0%} of bare throughput: {verdict}."
        )
    lines.append(END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=["h11", "httptools"], default=None, help="one transport only")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/")
    args = parser.parse_args(argv)
    chosen = [v for v in variants() if args.only in (None, v.transport)]
    results: dict[str, list[Result]] = {v.server.name: [] for v in chosen}
    for rnd in range(1, args.rounds + 1):
        for v in chosen:
            r = measure(v.server, args)
            results[v.server.name].append(r)
            print(f"round {rnd} {v.server.name:20} {r.rps:8.0f} req/s  {r.cpu_us:6.1f} CPU µs/req  "
                  f"errors {r.errors}", flush=True)
    command = command_line("bench/http/metrics_cost.py", argv)
    publish(render(results, chosen, args, command), START, END, no_write=args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
