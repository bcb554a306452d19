"""Constraints filter the candidates before the router chooses: budget, latency, quality, allow-list.

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


if __name__ == "__main__":
    asyncio.run(main())
