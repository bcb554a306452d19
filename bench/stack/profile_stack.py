"""In-process cost of the stack, without sockets: µs per ``app.handle(request)``, and a profile.

wrk through the server (run.py) is the number that matters; this is the magnifying glass
for it: the same apps (apps/stack_hello.py), each request built as the server builds it,
handled on one event loop, timed in alternating batches by this thread's CPU time (other
work on the machine then matters little), reported as the least-disturbed batch.

    python bench/stack/profile_stack.py                    # µs/request per variant
    python bench/stack/profile_stack.py --profile stack    # + cProfile of that variant
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "apps"))
os.environ.setdefault("CONDUIT_PLUGINS", "")
os.environ["CONDUIT_REDIS_URL"] = os.environ.get("STACK_REDIS", "memory://")

from conduit.http.datastructures import Address  # noqa: E402
from conduit.http.request import HTTPRequest  # noqa: E402

VARIANTS = {  # name -> (STACK_VARIANT, STACK_MONITORING)
    "bare-nomon": ("bare", "0"),
    "bare": ("bare", "1"),
    "stack-nomon": ("stack", "0"),
    "stack": ("stack", "1"),
}
HEADERS = [
    (b"host", b"127.0.0.1:8080"),
    (b"user-agent", b"wrk"),
    (b"accept", b"*/*"),
]


def build(variant: str):
    os.environ["STACK_VARIANT"], os.environ["STACK_MONITORING"] = VARIANTS[variant]
    sys.modules.pop("stack_hello", None)
    app = importlib.import_module("stack_hello").app
    sys.modules.pop("stack_hello", None)
    return app


def request() -> HTTPRequest:
    r = HTTPRequest("GET", "/", "", list(HEADERS), body=b"", raw_path="/")
    r.client = Address("127.0.0.1", 50000)
    return r


async def batch(app, n: int) -> float:
    handle = app.handle
    start = time.thread_time()
    for _ in range(n):
        response = await handle(request())
        response.headers.raw_items()  # the transport serialises the headers
    return (time.thread_time() - start) / n * 1e6


async def main_async(args: argparse.Namespace) -> None:
    apps = {name: build(name) for name in args.variants}
    for app in apps.values():
        await app.startup()
        await batch(app, 2000)  # warm up
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(args.rounds):
        for name, app in apps.items():
            samples[name].append(await batch(app, args.n))
    base = min(samples[args.variants[0]])
    for name, values in samples.items():
        best = min(values)
        print(f"{name:12} {best:7.2f} CPU µs/request  (+{best - base:6.2f} vs {args.variants[0]}; "
              f"median {statistics.median(values):.2f})")
    if args.profile:
        app = apps[args.profile]
        profiler = cProfile.Profile()
        profiler.enable()
        await batch(app, args.n * 4)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    for app in apps.values():
        await app.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("-n", type=int, default=3000, help="requests per batch")
    parser.add_argument("--profile", choices=list(VARIANTS))
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    loop = os.environ.get("STACK_LOOP", "uvloop")
    if loop == "uvloop":
        import uvloop

        uvloop.run(main_async(args))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
