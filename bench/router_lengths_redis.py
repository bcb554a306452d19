"""What sharing the learned answer lengths through Redis costs a worker: the size of the
hash of (cell, model) pairs after a run of the mixed workload, and the time of a refresh
(``SharedLengths.refresh``: one ``HGETALL``, the changed pairs unpacked, the fit) when no
pair changed and after about one answer per pair from another worker.

    python bench/router_lengths_redis.py [--redis redis://127.0.0.1:6379/0] [--answers 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import router_eval as bench

from conduit.storage import RedisStateStore
from conduit.storage.testing import unique_prefix
from conduit_router import Query, Router


async def main(url: str, answers: int, rounds: int = 50) -> None:
    w = bench.WORKLOADS["mixed"](answers)
    store = RedisStateStore.from_url(url, prefix=unique_prefix("bench-lengths"))
    writer = Router(w.models(), state=store, embedder="hash", seed=0, history="none")
    reader = Router(w.models(), state=store, embedder="hash", seed=1, history="none")
    env = w.environment(0)

    async def answer(n: int) -> None:
        for _ in range(n):
            text, domain = env.sample()
            decision = await writer.route(Query(text=text))
            await writer.feedback(decision.query_id, output_tokens=env.output_length(domain, decision.selected_model))

    try:
        await answer(answers)
        key = writer.shared_lengths.key
        fields = await store.client.hkeys(key)
        size = sum([await store.client.hstrlen(key, f) for f in fields])
        await reader.shared_lengths.refresh(force=True)
        unchanged, changed = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            await reader.shared_lengths.refresh(force=True)
            unchanged.append(time.perf_counter() - started)
        for _ in range(rounds):
            await answer(len(fields))
            started = time.perf_counter()
            await reader.shared_lengths.refresh(force=True)
            changed.append(time.perf_counter() - started)
    finally:
        await store.clear()
        await writer.aclose()
        await reader.aclose()
        await store.close()

    def ms(values: list[float]) -> str:
        return f"median {np.median(values) * 1000:.2f} ms, p99 {np.percentile(values, 99) * 1000:.2f} ms"

    print(f"after {answers} answers: {len(fields)} pairs, {size / 1024:.0f} KiB in Redis; a refresh with no pair "
          f"changed: {ms(unchanged)}; after {len(fields)} more answers: {ms(changed)} ({rounds} rounds each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--answers", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.redis, args.answers))
