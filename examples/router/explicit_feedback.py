"""Explicit feedback teaches the router which model suits which query.

A simulated workload (conduit_router.simulation): a cheap model that is as good as the
others on small talk and facts but poor at math and code, a mid-priced one, a premium one.
Ratings are drawn from each model's true quality. Watch the traffic move.

Run it:  python examples/router/explicit_feedback.py
"""

import asyncio

from conduit_router import Query, Router
from conduit_router.simulation import (
    SYNTHETIC_MODELS,
    run_static,
    synthetic_environment,
)


async def main() -> None:
    router = Router(SYNTHETIC_MODELS, embedder="hash", seed=3)  # hashed features: fast for 600 queries
    env = synthetic_environment(seed=3)
    for block in range(6):
        picks: dict[str, dict[str, int]] = {}
        for _ in range(100):
            text, domain = env.sample()
            decision = await router.route(Query(text=text))
            model = decision.selected_model
            picks.setdefault(domain, {}).setdefault(model, 0)
            picks[domain][model] += 1
            await router.feedback(decision.query_id, quality=env.feedback(model, domain))
        summary = ", ".join(f"{d}: {max(m, key=m.get)}" for d, m in sorted(picks.items()))
        print(f"queries {block * 100:>3}-{block * 100 + 99}: most used per domain -> {summary}")
    for policy in ("cheapest", "strongest"):
        w = run_static(synthetic_environment(seed=3), policy, 600, router.objective).window(300)
        print(f"always-{policy:<9} quality {w['quality']:.3f}  cost ${w['cost']:.5f}  objective {w['utility']:.3f}")
    stats = router.stats()
    print("learned quality (math):", {m: round(router.estimated_quality(m, "math"), 2) for m in stats["models"]})


if __name__ == "__main__":
    asyncio.run(main())
