"""The router behind ``/v1/chat/completions`` and the RAG answers: real providers or the stand-in.

When any provider key is set (``OPENAI_API_KEY``, ``GROQ_API_KEY``, ``ANTHROPIC_API_KEY``,
``GEMINI_API_KEY``/``GOOGLE_API_KEY``, ``OPENAI_COMPATIBLE_BASE_URL``) or
``router_standin_url`` is configured, the router calls what is configured. Otherwise the
showcase starts conduit-router's local stand-in provider in-process (canned answers, not
language) and says so. Decision history is kept in memory only (``router_history = "none"``)
unless ``CONDUIT_ROUTER_HISTORY`` says otherwise, so the showcase writes no file.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any

__all__ = ["PROVIDER_VARIABLES", "RouterSetup"]

PROVIDER_VARIABLES = ("OPENAI_API_KEY", "GROQ_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                      "OPENAI_COMPATIBLE_BASE_URL")
_answer: ContextVar[dict[str, Any]] = ContextVar("showcase_rag_answer")


class _Overlay:
    """The app's settings with a few values replaced (``build_router`` reads ``get``)."""

    def __init__(self, base: Any, **values: Any) -> None:
        self._base = base
        self._values = values

    def get(self, name: str, default: Any = None) -> Any:
        return self._values[name] if name in self._values else self._base.get(name, default)


class RouterSetup:
    """Builds the app's router at start-up (so the stand-in's address is known) and stops the stand-in."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.standin: Any = None
        self.mode = "not started"

    def start(self) -> None:
        from conduit_router.service import build_router

        settings = self.app.settings
        values: dict[str, Any] = {}
        if "CONDUIT_ROUTER_HISTORY" not in os.environ:
            values["router_history"] = "none"
        keys = [name for name in PROVIDER_VARIABLES if os.environ.get(name)]
        if settings.get("router_standin_url"):
            self.mode = f"stand-in at {settings.get('router_standin_url')} (router_standin_url)"
        elif keys:
            self.mode = "real providers (" + ", ".join(keys) + " set; models without a key are skipped)"
        else:
            from conduit_router.standin import StandIn

            self.standin = StandIn().start()
            values["router_standin_url"] = self.standin.url
            self.mode = (f"LOCAL STAND-IN provider at {self.standin.url} (no provider API key set: answers are "
                         "canned text, not language; set OPENAI_API_KEY or another key for real models)")
        self.app.state.conduit_router = build_router(_Overlay(settings, **values))

    def stop(self) -> None:
        if self.standin is not None:
            self.standin.stop()
            self.standin = None

    @property
    def router(self) -> Any:
        return self.app.state.get("conduit_router")

    async def llm(self, prompt: str) -> str:
        """The RAG pipeline's LLM: routes on the question, sends the full prompt, keeps the completion."""
        from conduit_router import Query

        holder = _answer.get(None)
        question = holder["question"] if holder else prompt
        completion = await self.router.complete(Query(text=question), messages=[{"role": "user", "content": prompt}],
                                                max_tokens=400)
        if holder is not None:
            holder["completion"] = completion
        return completion.text

    async def ask(self, rag: Any, question: str, top_k: int = 4) -> dict[str, Any]:
        """A RAG answer over the docs plus which model answered and why."""
        holder: dict[str, Any] = {"question": question}
        token = _answer.set(holder)
        try:
            answer = await rag.aask(question, top_k=top_k)
        finally:
            _answer.reset(token)
        completion = holder.get("completion")
        decision = completion.decision if completion is not None else None
        return {
            "question": question,
            "answer": answer.answer,
            "model": completion.model if completion is not None else None,
            "reasoning": decision.reasoning if decision is not None else None,
            "confidence": decision.confidence if decision is not None else None,
            "alternatives": [a.model for a in decision.alternatives] if decision is not None else [],
            "attempts": [list(a) for a in completion.attempts] if completion is not None else [],
            "cost_usd": completion.cost if completion is not None else None,
            "latency_ms": completion.latency_ms if completion is not None else None,
            "provider_mode": self.mode,
            "sources": [{"id": s.id, "score": round(s.score, 4), "title": (s.metadata or {}).get("title"),
                         "source": (s.metadata or {}).get("source")} for s in answer.sources],
        }
