"""Run by test_redis_sharing: one worker process giving feedback through a shared Redis.

argv: redis URL, key prefix, worker name, number of feedback reports, number of workers.
Every report is for the model "medium", so the test can count them all in one place.
"""

from __future__ import annotations

import asyncio
import sys
import time

from conduit_router import Query, QueryConstraints, Router
from conduit_router.simulation import SYNTHETIC_MODELS

from conduit.storage import RedisStateStore


async def main(url: str, prefix: str, name: str, count: int, workers: int) -> None:
    store = RedisStateStore.from_url(url, prefix=prefix)
    router = Router(SYNTHETIC_MODELS, state=store, embedder="hash", seed=hash(name) % 1000)
    only = QueryConstraints(allowed_models=("medium",))
    decisions = [await router.route(Query(text=f"{name} question {i}: what is {i} + {i}?", constraints=only))
                 for i in range(count)]
    await store.incr("barrier")  # every worker reports at the same moment
    deadline = time.monotonic() + 30
    while int(await store.get("barrier") or 0) < workers and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    # 32 requests in flight per worker: the kernel's RedisStateStore pool (100 connections,
    # non-blocking) raises MaxConnectionsError past that, a limit of the store, not the router.
    slots = asyncio.Semaphore(32)

    async def report(query_id: str) -> None:
        async with slots:
            await router.feedback(query_id, quality=1.0)

    await asyncio.gather(*(report(d.query_id) for d in decisions))
    await router.aclose()
    await store.close()
    print(f"{name} sent {count}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
