"""Run by test_history_durability: a router that routes and takes feedback without ever idling.

argv: the history URL. Each decision is routed, given feedback, and only then printed as
``<query_id> <time.time()>`` (flushed): a printed line is a decision and a feedback row the
caller was told about. The loop awaits nothing that suspends, so the event loop never runs
another task; the test ends the process with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
import time

from conduit_router import Query, Router
from conduit_router.simulation import SYNTHETIC_MODELS


async def main(url: str) -> None:
    router = Router(SYNTHETIC_MODELS, embedder="hash", seed=7, history=url)
    i = 0
    while True:
        decision = await router.route(Query(text=f"question {i}: what is {i} + {i}?", user_id="load"))
        await router.feedback(decision.query_id, rating=4)
        sys.stdout.write(f"{decision.query_id} {time.time():.6f}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
