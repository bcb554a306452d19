"""Route a handful of different queries and show why each went where it went.

Run it:  python examples/router/basic_routing.py
"""

import asyncio

from conduit_router import Query, Router

QUERIES = [
    "hi there!",
    "What is the capital of Kenya?",
    "Write a Python function that merges two sorted lists, with unit tests.",
    "Prove that the sum of the first n odd numbers is n^2.",
    "Write a haiku about autumn leaves.",
    "Should a small company adopt a four-day work week? Analyze the trade-offs step by step.",
]


async def main() -> None:
    router = Router(seed=7)  # the default catalogue; MiniLM features when conduit-onnx is installed
    for text in QUERIES:
        d = await router.route(Query(text=text))
        print(f"{d.features.domain:>12}  {d.selected_model:<24} {d.confidence:>4.0%}  ${d.estimated_cost:.5f}  {text[:50]}")
        print(f"{'':>14}{d.reasoning}")


if __name__ == "__main__":
    asyncio.run(main())
