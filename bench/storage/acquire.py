"""CPU cost of one sliding-window acquire on the in-process store (the rate limiter's hot path).

    python bench/storage/acquire.py [--n 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from conduit.storage.memory import MemoryStateStore


async def main(n: int) -> float:
    store = MemoryStateStore()
    start = time.perf_counter()
    for _ in range(n):
        await store.acquire("bench", 10**9, 60)
    return (time.perf_counter() - start) / n * 1e6


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    print(f"{asyncio.run(main(parser.parse_args().n)):.2f} us per acquire")
