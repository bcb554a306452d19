"""Caches: query features (memory, plus Redis behind a circuit breaker when configured) and
provider answers (LRU + TTL). Runs against the local stand-in; with CONDUIT_REDIS_URL set the
caches are shared by every worker.

Run it:  python examples/router/caching.py
"""

import asyncio
import os
import time

from conduit_router import Query, QueryConstraints, Router
from conduit_router.providers import OpenAIClient
from conduit_router.standin import StandIn


async def main(standin: StandIn) -> None:
    print(f"Calling the local LLM stand-in at {standin.url} (no API key needed)")
    router = Router(state=os.environ.get("CONDUIT_REDIS_URL"),
                    providers={"openai": OpenAIClient(base_url=standin.openai_url, api_key="standin")})
    only = QueryConstraints(allowed_models=("gpt-4o-mini",))
    for attempt in ("cold", "warm"):
        started = time.perf_counter()
        await router.route(Query(text="Summarise the plot of Hamlet in two sentences."))
        print(f"route ({attempt} features): {(time.perf_counter() - started) * 1000:.2f} ms")
    for attempt in ("first", "repeat"):
        answer = await router.complete(Query(text="What is the boiling point of water?", constraints=only),
                                       temperature=0)
        print(f"complete ({attempt}): cached={answer.cached} latency={answer.latency_ms:.1f} ms")
    print("feature cache:", router.analyzer.stats())
    print("provider metrics:", router.stats()["providers"]["openai"])
    await router.aclose()


if __name__ == "__main__":
    with StandIn() as server:
        asyncio.run(main(server))
