"""Explicit ratings and implicit signals together: a model that starts failing mid-run loses
its traffic, whichever way the bad news arrives.

Run it:  python examples/router/combined_feedback.py
"""

import asyncio

from conduit_router import Query, Router
from conduit_router.feedback import answer_problem
from conduit_router.simulation import SYNTHETIC_MODELS, synthetic_environment

MODELS = ("small", "medium", "large")


async def main() -> None:
    router = Router(SYNTHETIC_MODELS, embedder="hash", seed=5)
    env = synthetic_environment(seed=5)
    counts: dict[str, int] = {}
    for step in range(700):
        if step == 350:
            env.degrade("medium", 0.25)
            print("step 350: 'medium' starts giving bad answers")
        text, domain = env.sample()
        decision = await router.route(Query(text=text))
        model = decision.selected_model
        good = env.feedback(model, domain) == 1.0
        if step % 2:  # half the users rate the answer...
            await router.feedback(decision.query_id, rating=5 if good else 1)
        else:  # ...for the rest, a bad answer shows as an empty reply (an implicit signal)
            reply = "Here you go." if good else ""
            if answer_problem(reply):
                await router.feedback(decision.query_id, success=False)
        counts[model] = counts.get(model, 0) + 1
        if step % 100 == 99:
            print(f"queries {step - 99:>3}-{step}: " + ", ".join(f"{m} {counts.get(m, 0):>2}%" for m in MODELS))
            counts.clear()
    print("learned quality now:", {m: round(router.estimated_quality(m), 2) for m in MODELS})


if __name__ == "__main__":
    asyncio.run(main())
