"""What a request's middleware costs when the caches are cold, as they are between two served requests.

In a loop, ``await app.handle(request)`` runs back to back: the code and data of one request
are still in the CPU's caches for the next. Served, two socket system calls (and, on the same
cores, the load generator) run between two requests, and the kernel's networking code and data
push the request's out. This script measures the same dispatch both ways: hot (requests back to
back) and cold (before each request, a buffer of ``--evict`` KiB is copied in place, which
pushes ``2 × evict`` KiB through the data caches and the unified second- and third-level caches
that also hold code). Each request is timed on its own (``perf_counter_ns`` around
``app.handle`` and the header serialisation); the eviction is outside the timed span. Medians
over interleaved batches; the tables give µs per request and what each variant adds to the bare
endpoint under the same eviction.

Variants: the hello endpoint bare (``monitoring=False``), with the built-in request metrics (the
default), behind the seed's whole stack (bench/stack/apps/stack_hello.py), and with conduit-otel
tracing every request and recording its metrics (exporters off: the request thread's share).

    python bench/http/cold_cache.py                  # writes its section of docs/benchmarks.md
    python bench/http/cold_cache.py --evict 0 4096 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "stack"))
import profile_stack  # noqa: E402 - bench/stack/profile_stack.py, by path
from common import command_line, publish  # noqa: E402 - bench/common.py, by path

START = "<!-- bench/http/cold_cache.py: start -->"
END = "<!-- bench/http/cold_cache.py: end -->"
HEADERS = [(b"host", b"127.0.0.1:8080")]  # what wrk sends
VARIANTS = {
    "bare": "hello, `monitoring=False`",
    "metrics": "hello, built-in request metrics (the default)",
    "stack": "hello + the seed's whole stack (metrics on)",
    "otel": "hello + conduit-otel, every request traced, exporters off (metrics on)",
}


def build(name: str) -> Any:
    from conduit import Conduit

    if name == "stack":
        return profile_stack.build("stack")  # bench/stack/apps/stack_hello.py, metrics on
    if name == "otel":
        import conduit_otel

        app = Conduit(plugins=[], otel_set_global_providers=False)
        app.get("/")(_hello)
        conduit_otel.instrument(app, environ={"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"})
        return app
    app = Conduit(plugins=[], monitoring=name == "metrics")
    app.get("/")(_hello)
    return app


async def _hello(request: Any) -> dict[str, str]:
    return {"message": "Hello, World!"}


def _request() -> Any:
    from conduit.http.datastructures import Address
    from conduit.http.request import HTTPRequest

    request = HTTPRequest("GET", "/", "", list(HEADERS), body=b"", raw_path="/")
    request.client = Address("127.0.0.1", 50000)
    return request


class Evictor:
    """Copies ``kib`` KiB in place between two requests (no allocation)."""

    def __init__(self, kib: int) -> None:
        self.src = bytearray(os.urandom(kib * 1024))
        self.dst = bytearray(len(self.src))

    def __call__(self) -> None:
        self.dst[:] = self.src


async def batch(app: Any, n: int, evict: Evictor | None) -> list[int]:
    handle, clock, out = app.handle, time.perf_counter_ns, []
    for _ in range(n):
        if evict is not None:
            evict()
        request = _request()
        start = clock()
        response = await handle(request)
        response.headers.raw_items()  # the transport serialises the headers
        out.append(clock() - start)
    return out


async def measure(variants: list[str], sizes: list[int], rounds: int, n: int) -> dict[tuple[str, int], float]:
    apps = {name: build(name) for name in variants}
    for app in apps.values():
        await app.startup()
        await batch(app, 2000, None)  # first-use costs land here
    medians = {}
    try:
        for kib in sizes:
            evict = Evictor(kib) if kib else None
            samples: dict[str, list[int]] = {name: [] for name in apps}
            for _ in range(rounds):
                for name, app in apps.items():
                    samples[name] += await batch(app, n, evict)
            for name, values in samples.items():
                medians[(name, kib)] = statistics.median(values) / 1000
            print(f"evict {kib:6} KiB: " + "  ".join(f"{name} {medians[(name, kib)]:6.2f}" for name in apps), flush=True)
    finally:
        for app in apps.values():
            await app.shutdown()
    return medians


def render(medians: dict[tuple[str, int], float], variants: list[str], sizes: list[int], command: str,
           args: argparse.Namespace) -> str:
    label = {0: "hot"} | {k: f"{k:,} KiB" for k in sizes if k}
    lines = [
        START,
        f"Produced by `{command}` on {_dt.date.today().isoformat()} (Python {sys.version.split()[0]}).",
        "",
        f"µs per `app.handle` (median over {args.rounds} interleaved batches of {args.n:,} requests per variant and "
        "eviction size); in brackets, what the variant adds to the bare endpoint under the same eviction. "
        "\"hot\": requests back to back; \"N KiB\": a buffer of N KiB copied in place before each request.",
        "",
        "| variant | " + " | ".join(label[k] for k in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name in variants:
        cells = []
        for kib in sizes:
            value = medians[(name, kib)]
            added = value - medians[("bare", kib)] if "bare" in variants and name != "bare" else None
            cells.append(f"{value:.2f}" + (f" (+{added:.2f})" if added is not None else ""))
        lines.append(f"| {VARIANTS[name]} | " + " | ".join(cells) + " |")
    if "bare" in variants and 0 in sizes and len(sizes) > 1:
        lines.append("")
        coldest = max(sizes)
        for name in variants:
            if name == "bare":
                continue
            hot = medians[(name, 0)] - medians[("bare", 0)]
            cold = medians[(name, coldest)] - medians[("bare", coldest)]
            lines.append(f"- {VARIANTS[name]}: adds {hot:.2f} µs hot and {cold:.2f} µs with {coldest:,} KiB evicted "
                         f"({cold / hot:.1f}×).")
    lines.append(END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--evict", nargs="*", type=int, default=[0, 1024, 4096, 8192],
                        help="KiB copied in place before each request; 0 is hot (back to back)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("-n", type=int, default=2000, help="requests per batch")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/")
    args = parser.parse_args(argv)
    if "bare" not in args.variants:
        args.variants.insert(0, "bare")
    medians = asyncio.run(measure(args.variants, args.evict, args.rounds, args.n))
    command = command_line("bench/http/cold_cache.py", argv)
    publish(render(medians, args.variants, args.evict, command, args), START, END, no_write=args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
