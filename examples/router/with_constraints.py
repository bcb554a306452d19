"""Constraints filter the candidates before the router chooses: budget, latency, quality, allow-list.
A spending limit over all the traffic is an objective instead: ``cost_budget``.

Run it:  python examples/router/with_constraints.py
"""

import asyncio

from conduit_router import NoEligibleModelError, Query, QueryConstraints, Router

TEXT = "Explain the difference between a process and a thread, with an example in Go."


async def main() -> None:
    router = Router(seed=1)
    cases = {
        "no constraints": None,
        "max_cost $0.0005": QueryConstraints(max_cost=0.0005),
        "max_latency 1000 ms": QueryConstraints(max_latency_ms=1000),
        "min_quality 0.8": QueryConstraints(min_quality=0.8),
        "only Anthropic": QueryConstraints(allowed_models=("claude-3-5-haiku-latest", "claude-sonnet-4-0")),
        "impossible budget": QueryConstraints(max_cost=1e-9),
    }
    for label, constraints in cases.items():
        try:
            d = await router.route(Query(text=TEXT, constraints=constraints))
        except NoEligibleModelError as exc:
            print(f"{label:>20}: no model qualifies ({exc.detail[:90]}...)")
            continue
        print(f"{label:>20}: {d.selected_model:<24} ~${d.estimated_cost:.5f} ~{d.expected_latency_ms:.0f} ms, "
              f"{len(d.excluded)} excluded")

    # A limit on the average instead of on each query: spend at most 30% of what the
    # priciest model would cost; the router learns the price of cost that keeps to it.
    thrifty = Router(seed=1, objective="cost_budget=0.3")
    texts = [TEXT, "What is the capital of Kenya?", "Solve for x: 12x + 7 = 43.", "Write a haiku about the moon."]
    for i in range(600):
        await thrifty.route(Query(text=texts[i % len(texts)]))
    budget = thrifty.stats()["budget"]
    print(f"{'cost_budget 0.3':>20}: spent {budget['recent_spend_share']:.0%} of the priciest model's cost "
          f"over the last decisions; learned price of cost {budget['cost_price']:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
