"""Implicit feedback: errors, timeouts, empty or refused answers and retries teach the router
without anyone rating anything. Calls go to the local stand-in server (canned answers, with
faults injected), so this runs without API keys.

Run it:  python examples/router/implicit_feedback.py
"""

import asyncio

from conduit_router import Query, QueryConstraints, Router
from conduit_router.providers import (
    AnthropicClient,
    GeminiClient,
    GroqClient,
    OpenAIClient,
)
from conduit_router.standin import Fault, StandIn


def router_for(standin: StandIn) -> Router:
    opts = {"api_key": "standin", "timeout": 1.0, "max_retries": 1, "backoff_base": 0.05}
    return Router(seed=2, providers={
        "openai": OpenAIClient(base_url=standin.openai_url, **opts),
        "anthropic": AnthropicClient(base_url=standin.url, **opts),
        "google": GeminiClient(base_url=standin.gemini_url, **opts),
        "groq": GroqClient(base_url=standin.openai_url, **opts),
    })


async def main(standin: StandIn) -> None:
    print(f"Calling the local LLM stand-in at {standin.url} (no API key needed; answers are canned)")
    router = router_for(standin)
    pair = QueryConstraints(allowed_models=("gemini-2.0-flash", "gpt-4o-mini"))
    standin.set_default("gemini-2.0-flash", Fault.server_error(500))  # a provider outage
    for i in range(6):
        answer = await router.complete(Query(text=f"What is the capital of country #{i}?", constraints=pair))
        print("outage ->", answer.model, answer.attempts)
    print(f"gemini-2.0-flash expected quality on facts: {router.estimated_quality('gemini-2.0-flash', 'factual'):.2f} "
          f"(its breaker opens after {router.breakers['gemini-2.0-flash'].failure_threshold} failures in a row)")
    standin.set_default("gemini-2.0-flash", None)

    pair = QueryConstraints(allowed_models=("gpt-4o-mini", "claude-3-5-haiku-latest"))
    before = router.estimated_quality("gpt-4o-mini", "conversation")
    standin.set_default("gpt-4o-mini", Fault.empty())  # empty answers fall through to the next model
    for i in range(6):
        answer = await router.complete(Query(text=f"hello number {i}!", constraints=pair))
        print("empty  ->", answer.model, answer.attempts)
    standin.set_default("gpt-4o-mini", None)
    after = router.estimated_quality("gpt-4o-mini", "conversation")
    print(f"gpt-4o-mini expected quality on small talk: {before:.2f} -> {after:.2f}")

    first = await router.complete(Query(text="How do I reverse a list in Python?", user_id="ada"))
    await router.complete(Query(text="how do I reverse a list in python??", user_id="ada"))  # the user asked again
    print(f"retry    -> the first answer ({first.model}) was counted as unsatisfying")

    stats = router.stats()
    print("implicit signals recorded:", stats["feedback"]["implicit"])
    for name, model in stats["models"].items():
        if model["answers"] or model["failures"]:
            print(f"  {name:<24} answers {model['answers']}  failures {model['failures']}  spend ${model['spend']:.6f}")
    await router.aclose()


if __name__ == "__main__":
    with StandIn() as server:
        asyncio.run(main(server))
