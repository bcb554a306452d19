"""The seed's quick start: five lines that route a query offline.

Run it:  python examples/router/hello_world.py
"""

import asyncio

from conduit.core.models import Query
from conduit.engines.router import Router


async def main() -> None:
    router = Router()
    decision = await router.route(Query(text="What is 2+2?"))
    print(f"Route to: {decision.selected_model} (confidence: {decision.confidence:.0%})")


if __name__ == "__main__":
    asyncio.run(main())
