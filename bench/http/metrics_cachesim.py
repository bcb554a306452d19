"""Why the request metrics cost more under load than in a loop: instructions and cache misses
per request, counted by valgrind's callgrind with its cache simulation.

Two kinds of run, each counted the same way, so their figures compare:

- **served**: ``conduit run bench/http/apps/metrics_ablation.py`` (one process, the part
  picked by ``CONDUIT_BENCH_PART``) under callgrind with counting off; after a warm-up,
  ``callgrind_control -i on`` starts counting, ``wrk -c64`` loads it, and the dump's totals
  are divided by the requests wrk completed.
- **loop**: the same app and part dispatching the same request in-process (``await
  app.handle(request)``, no server, no sockets), counted for ``n`` and ``2n`` dispatches; the
  difference over ``n`` is one dispatch with its code and data hot in the caches.

The gap between ``full`` and ``bare`` served is what the metrics add to a served request;
the same gap in the loop is what that code costs when nothing else runs between requests. Counts
are simulated (callgrind's model of this machine's L1 and last-level caches), so they are
deterministic: other load on the machine does not move them.

    python bench/http/metrics_cachesim.py                 # writes its section of docs/benchmarks.md
    python bench/http/metrics_cachesim.py --no-write --parts bare,full

Needs valgrind (callgrind_control) and wrk.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import command_line, free_port, publish  # noqa: E402 - bench/common.py, by path

START = "<!-- bench/http/metrics_cachesim.py: start -->"
END = "<!-- bench/http/metrics_cachesim.py: end -->"
EVENTS = ("Ir", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")
PARTS = {
    "bare": "monitoring off",
    "routes": "monitoring off, health and metrics routes added",
    "layer": "monitoring off, a phased middleware that does nothing",
    "clock": "monitoring off, a middleware that reads the clock twice",
    "record": "monitoring off, a middleware that records a fixed duration",
    "full": "monitoring on (the default)",
    "stack": "monitoring on, the seed's whole stack",
}

LOOP = """
import asyncio
import os
import sys

sys.path.insert(0, sys.argv[3])
os.environ["CONDUIT_BENCH_PART"] = sys.argv[2]
from metrics_ablation import app

from conduit.http.request import HTTPRequest


async def main(n):
    await app.startup()
    for _ in range(n):
        await app.handle(HTTPRequest("GET", "/", "", [(b"host", b"bench")], body=b"", raw_path="/"))


asyncio.run(main(int(sys.argv[1])))
"""


def callgrind(out: Path, *, counting: bool) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--cache-sim=yes", f"--instr-atstart={'yes' if counting else 'no'}",
            f"--callgrind-out-file={out}"]


def totals(path: Path) -> dict[str, int]:
    """The event totals of a callgrind dump (``events:`` names them, ``totals:`` or
    ``summary:`` holds them)."""
    text = path.read_text()
    names = re.search(r"^events: (.+)$", text, re.M).group(1).split()  # type: ignore[union-attr]
    found = re.search(r"^(?:totals|summary): (.+)$", text, re.M)
    values = [int(v) for v in found.group(1).split()] if found else []  # type: ignore[union-attr]
    values += [0] * (len(names) - len(values))
    return dict(zip(names, values))


def _wrk(port: int, seconds: int) -> int:
    done = subprocess.run(["wrk", "-t1", "-c64", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                          capture_output=True, text=True, timeout=seconds + 120, check=True)
    return int(re.search(r"(\d+) requests in", done.stdout).group(1))  # type: ignore[union-attr]


def _answers(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def served(part: str, tmp: Path, seconds: int, http: str = "httptools") -> dict[str, float]:
    """Per-request counts of one served part."""
    port = free_port()
    out = tmp / f"served-{part}.out"
    env = {**os.environ, "CONDUIT_PLUGINS": "", "CONDUIT_LOG_LEVEL": "warning", "CONDUIT_BENCH_PART": part}
    argv = callgrind(out, counting=False) + [sys.executable, "-m", "conduit.cli", "run", "metrics_ablation:app",
                                             "--host", "127.0.0.1", "--port", str(port), "--http", http,
                                             "--loop", "uvloop" if http == "httptools" else "asyncio"]
    proc = subprocess.Popen(argv, cwd=HERE / "apps", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{part}: the server under callgrind did not answer")
            time.sleep(0.5)
        _wrk(port, 3)  # warm-up, not counted
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        requests = _wrk(port, seconds)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    dumps = sorted(tmp.glob(f"served-{part}.out*"), key=lambda p: p.stat().st_mtime)
    counts = totals(dumps[-1])
    return {"requests": requests, **{e: counts.get(e, 0) / requests for e in EVENTS}}


def loop(part: str, calls: int, tmp: Path) -> dict[str, float]:
    """One in-process dispatch (``await app.handle(request)``, no server) of ``part``, back to back:
    the difference between ``2 * calls`` and ``calls`` dispatches, over ``calls``."""
    script = tmp / "loop.py"
    script.write_text(LOOP)
    env = {**os.environ, "CONDUIT_PLUGINS": "", "CONDUIT_LOG_LEVEL": "warning", "PYTHONHASHSEED": "0"}
    runs = []
    for n in (calls, 2 * calls):
        out = tmp / f"loop-{part}-{n}.out"
        subprocess.run(callgrind(out, counting=True) + [sys.executable, str(script), str(n), part, str(HERE / "apps")],
                       check=True, capture_output=True, env=env)
        runs.append(totals(out))
    return {"requests": calls, **{e: (runs[1].get(e, 0) - runs[0].get(e, 0)) / calls for e in EVENTS}}


def render(rows: list[tuple[str, str, dict[str, float]]], command: str, args: argparse.Namespace) -> str:
    lines = [
        START,
        f"Produced by `{command}` on {_dt.date.today().isoformat()}.",
        "",
        f"Counts per request (served: `wrk -t1 -c64 -d{args.seconds}s` after a 3 s warm-up, {args.http}, one "
        f"process) or per dispatch (loop: {args.calls:,} in-process dispatches), from valgrind's callgrind with "
        "`--cache-sim=yes`. Ir: instructions; I1mr / D1mr+D1mw: first-level instruction / data cache misses; "
        "LL: last-level misses.",
        "",
        "| run | what | requests | Ir | I1 misses | D1 misses | LL misses |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for run, what, c in rows:
        lines.append(f"| {run} | {what} | {c['requests']:,.0f} | {c['Ir']:,.0f} | {c['I1mr']:,.1f} | "
                     f"{c['D1mr'] + c['D1mw']:,.1f} | {c['ILmr'] + c['DLmr'] + c['DLmw']:,.1f} |")
    by = {run: c for run, _, c in rows}
    lines.append("")
    for kind in ("served", "loop"):
        bare, full = by.get(f"{kind} bare"), by.get(f"{kind} full")
        if bare and full:
            lines.append(
                f"- {kind.capitalize()}: monitoring adds {full['Ir'] - bare['Ir']:,.0f} instructions "
                f"({(full['Ir'] - bare['Ir']) / bare['Ir']:.1%}), {full['I1mr'] - bare['I1mr']:,.1f} I1 misses and "
                f"{full['D1mr'] + full['D1mw'] - bare['D1mr'] - bare['D1mw']:,.1f} D1 misses per request."
            )
    lines.append(END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="bare,full", help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--seconds", type=int, default=10, help="counted load per part")
    parser.add_argument("--calls", type=int, default=10000,
                        help="loop dispatches (and twice that); start-up varies by some millions of instructions")
    parser.add_argument("--http", choices=["httptools", "h11"], default="httptools",
                        help="the served transport (httptools with uvloop, h11 with asyncio)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for part in args.parts.split(","):
            counts = served(part, Path(tmp), args.seconds, args.http)
            rows.append((f"served {part}", PARTS[part], counts))
            print(f"served {part:8} {counts['requests']:7,.0f} requests  Ir {counts['Ir']:9,.0f}  "
                  f"I1mr {counts['I1mr']:7.1f}  D1m {counts['D1mr'] + counts['D1mw']:7.1f}", flush=True)
        for part in args.parts.split(",") if args.calls else ():
            counts = loop(part, args.calls, Path(tmp))
            rows.append((f"loop {part}", PARTS[part], counts))
            print(f"loop {part:10} Ir {counts['Ir']:9,.0f}  I1mr {counts['I1mr']:7.1f}  "
                  f"D1m {counts['D1mr'] + counts['D1mw']:7.1f}", flush=True)
    command = command_line("bench/http/metrics_cachesim.py", argv)
    publish(render(rows, command, args), START, END, no_write=args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
