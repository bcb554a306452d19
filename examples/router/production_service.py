"""The router as a service: /v1/route, /v1/complete, /v1/feedback, /v1/stats, /v1/models and
an OpenAI-compatible /v1/chat/completions (model="auto"), with history in SQLite, metrics at
/metrics and health at /health/ready. Existing OpenAI clients work unchanged:

    client = openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])

Run it:  python examples/router/production_service.py   (CONDUIT_REDIS_URL=redis://... to share
what it learns across `--workers`/hosts; set OPENAI_API_KEY etc. to call the real providers)
"""

from __future__ import annotations

import os
from typing import Any

from conduit import Conduit

KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GROQ_API_KEY")


def build_app(standin_url: str | None = None, **settings: Any) -> Conduit:
    """The service; ``standin_url`` sends every provider call to a local stand-in."""
    return Conduit(plugins=["router"], router_standin_url=standin_url, **settings)


def main() -> None:
    standin_url = None
    server = None
    if not any(os.environ.get(k) for k in KEY_VARIABLES):
        from conduit_router.standin import StandIn

        server = StandIn().start()
        standin_url = server.url
        print(f"No provider API key is set: answering through the local LLM stand-in at {standin_url} "
              "(canned answers, for trying the service out)")
    app = build_app(standin_url, port=int(os.environ.get("PORT", "8000")))
    try:
        app.run()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
