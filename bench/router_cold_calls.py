"""What a numpy call costs on a worker that is not saturated: the router's decision latency
at one decision every 50 ms is several times its back-to-back figure (docs/benchmarks.md,
"LLM router"), and this shows the same for single calls, so the count of calls, more than
the arithmetic, sets a decision's time there.

For 1, 4, 8 and 14 small numpy calls of the kind a decision makes (a product, an argmax, an
elementwise operation, a bincount, an einsum, ...), and for the same size of work in plain
Python floats, the median wall time back to back and after sleeping ``--pause`` seconds.

Run:  python bench/router_cold_calls.py [--pause 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time
from collections.abc import Callable

import numpy as np

RNG = np.random.default_rng(0)
X = RNG.random(26)
STACK = RNG.random((7, 26, 26))
MEANS = RNG.random((7, 26))
COUNTS = np.array([1, 2, 3])
CALLS: list[Callable[[], object]] = [
    lambda: MEANS @ X, lambda: np.sqrt(X), lambda: np.argmax(X), lambda: np.clip(X, 0, 1),
    lambda: np.maximum(X, 0.1), lambda: X * 2.0, lambda: np.where(X > 0.5, X, 0),
    lambda: np.bincount(COUNTS, minlength=7), lambda: X.max(), lambda: X.sum(), lambda: np.concatenate([X, X]),
    lambda: np.full(7, 1.0), lambda: np.asarray(X.tolist()), lambda: np.einsum("kij,i,j->k", STACK, X, X),
]
X_LIST, MEANS_LIST = X.tolist(), MEANS.tolist()


def numpy_calls(k: int) -> None:
    for call in CALLS[:k]:
        call()


def plain_floats() -> None:
    [sum(a * b for a, b in zip(row, X_LIST)) for row in MEANS_LIST]
    [math.sqrt(v) for v in X_LIST]


async def median_ms(work: Callable[[], None], pause: float, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
        if pause:
            await asyncio.sleep(pause)
    return statistics.median(times)


async def main(pause: float) -> None:
    print(f"| work | back to back (median of 1000) | after {pause * 1000:.0f} ms asleep (median of 150) |")
    print("|---|---|---|")
    rows: list[tuple[str, Callable[[], None]]] = [(f"{k} numpy call(s)", lambda k=k: numpy_calls(k)) for k in (1, 4, 8, 14)]
    rows.append(("7 dot products of 26 and 26 square roots in plain floats", plain_floats))
    for label, work in rows:
        print(f"| {label} | {await median_ms(work, 0, 1000) * 1000:.1f} µs | {await median_ms(work, pause, 150) * 1000:.1f} µs |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pause", type=float, default=0.02, help="seconds asleep between two calls of the work")
    asyncio.run(main(parser.parse_args().pause))
