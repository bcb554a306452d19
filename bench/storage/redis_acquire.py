"""Client CPU per sliding-window acquire on the Redis store, with many requests in flight.

``RedisStateStore.acquire`` pipelines itself (the acquires that arrive while a round trip is
in flight share the next one); "one round trip each" calls the same Lua script directly,
one EVALSHA per acquire, which is what the store did before. Both run ``--tasks`` concurrent
tasks of ``--per-task`` acquires on 8 keys (a limit the load never reaches), rounds
interleaved; the process's CPU time (the redis-py client's work: encoding, parsing, the
event loop) and the wall-clock rate are reported, median over rounds.

    python bench/storage/redis_acquire.py [--redis redis://127.0.0.1:6379/0] [--tasks 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from conduit.storage.redis import RedisStateStore
from conduit.storage.testing import unique_prefix


async def _one_each(store: RedisStateStore, key: str) -> None:
    await store._acquire(keys=[store.prefix + key], args=[10**9, 10_000_000, os.urandom(8).hex()])  # noqa: SLF001


async def _pipelined(store: RedisStateStore, key: str) -> None:
    await store.acquire(key, 10**9, 10)


async def measure(url: str, mode: str, tasks: int, per_task: int) -> tuple[float, float]:
    store = RedisStateStore.from_url(url, prefix=unique_prefix("bench-acquire"))
    call = _pipelined if mode == "pipelined" else _one_each

    async def worker(i: int) -> None:
        for _ in range(per_task):
            await call(store, f"k{i % 8}")

    try:
        await worker(0)  # connect, load the script
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(tasks)))
        n = tasks * per_task
        return (time.process_time() - cpu) / n * 1e6, n / (time.perf_counter() - wall)
    finally:
        await store.clear()
        await store.close()


async def main(args: argparse.Namespace) -> None:
    modes = ("one round trip each", "pipelined")
    results: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(await measure(args.redis, mode, args.tasks, args.per_task))
    print(f"{args.tasks} concurrent tasks x {args.per_task} acquires, {args.rounds} rounds (median)")
    print("| mode | client CPU µs / acquire | acquires / s |")
    print("|---|---:|---:|")
    for mode in modes:
        cpu = statistics.median(r[0] for r in results[mode])
        rate = statistics.median(r[1] for r in results[mode])
        print(f"| {mode} | {cpu:.1f} | {rate:,.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--per-task", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
