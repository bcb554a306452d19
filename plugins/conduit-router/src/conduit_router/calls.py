"""Calling the routed model: fallback down the decision's ranking, implicit feedback, streaming.

:func:`complete` tries the selected model, then the alternatives in the order the
decision ranked them. A model whose circuit breaker is open is skipped; a provider error
or timeout counts as quality 0 for that model (and against its breaker) and the next one
is tried; an empty answer also falls through to the next model. Whatever answers gets
implicit feedback (see :mod:`conduit_router.feedback`), its latency and its cost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from conduit.telemetry import span
from conduit_router.analysis import estimate_tokens
from conduit_router.errors import AllModelsFailedError
from conduit_router.feedback import answer_problem
from conduit_router.models import Completion, Query, RoutingDecision, Usage
from conduit_router.providers.base import ChatRequest, ProviderError, validate_chat

__all__ = ["RoutedStream", "build_messages", "complete", "open_stream"]

logger = logging.getLogger("conduit.router")


def build_messages(query: Query, messages: Any = None, system: str | None = None) -> list[dict[str, Any]]:
    """The chat messages for a query: ``messages`` as given, else the query text as one user turn."""
    if messages is None:
        messages = [{"role": "user", "content": query.text}]
    elif not isinstance(messages, list):
        raise ValueError("messages must be a list of {role, content} objects")
    if system is not None:
        if not isinstance(system, str):
            raise ValueError("system must be a string")
        messages = [{"role": "system", "content": system}, *messages]
    return messages


def _callable_models(router: Any, decision: RoutingDecision,
                     attempts: list[tuple[str, str]]) -> Iterator[tuple[Any, Any, Any]]:
    """``(spec, client, breaker)`` for each model in the decision's order that may be called now;
    the others are noted in ``attempts``."""
    for name in [decision.selected_model] + [a.model for a in decision.alternatives]:
        spec = router.model(name)
        client = router.provider(spec.provider)
        if client is None:
            attempts.append((name, "no_client"))
            continue
        breaker = router.breakers[name]
        if not breaker.can_execute():
            attempts.append((name, "circuit_open"))
            continue
        yield spec, client, breaker


async def _failed(router: Any, decision: RoutingDecision, name: str, breaker: Any, exc: ProviderError,
                  attempts: list[tuple[str, str]]) -> None:
    """Book a failed call: a missing key is the deployment's fault; anything else the model's."""
    attempts.append((name, exc.kind))
    if exc.kind == "not_configured":
        breaker.record_success()  # the model is fine; this deployment cannot reach it
        return
    breaker.record_failure()
    await router.record_failure(decision, name, exc.kind)
    logger.warning("router: %s failed (%s); falling back", name, exc)


def _usage(result_usage: Usage, request: ChatRequest, text: str) -> Usage:
    """The provider's usage, or an estimate when it reported none."""
    if result_usage.input_tokens or result_usage.output_tokens:
        return result_usage
    return Usage(estimate_tokens(request.prompt_text()), estimate_tokens(text) if text else 0)


async def complete(router: Any, query: Query, *, messages: Any = None, system: str | None = None,
                   max_tokens: int | None = None, temperature: float | None = None,
                   use_cache: bool = True) -> Completion:
    """See :meth:`conduit_router.Router.complete`."""
    msgs = build_messages(query, messages, system)
    validate_chat("auto", msgs, temperature, max_tokens)  # reject bad input before routing
    decision = await router.route(query)
    attempts: list[tuple[str, str]] = []
    for spec, client, breaker in _callable_models(router, decision, attempts):
        name = spec.name
        request = validate_chat(name, msgs, temperature, max_tokens)
        try:
            with span("router.provider_call", {"gen_ai.system": spec.provider, "gen_ai.request.model": name}):
                result = await client.chat(request, use_cache=use_cache)
        except ProviderError as exc:
            await _failed(router, decision, name, breaker, exc, attempts)
            continue
        breaker.record_success()
        usage = _usage(result.usage, request, result.text)
        cost = spec.cost(usage.input_tokens, usage.output_tokens)
        problem = answer_problem(result.text)
        await router.record_answer(decision, name, problem=problem, latency_ms=None if result.cached else result.latency_ms,
                                   cost=0.0 if result.cached else cost, cached=result.cached,
                                   tokens=(usage.input_tokens, usage.output_tokens))
        if problem == "empty":
            attempts.append((name, "empty"))
            continue
        attempts.append((name, "ok" if not result.cached else "cached"))
        return Completion(text=result.text, model=name, usage=usage, cost=0.0 if result.cached else cost,
                          latency_ms=result.latency_ms, decision=decision, attempts=tuple(attempts),
                          cached=result.cached, finish_reason=result.finish_reason)
    raise AllModelsFailedError(attempts)


class RoutedStream:
    """A streamed answer: ``decision`` and ``model`` are known up front; iterate for text.

    When the stream ends, implicit feedback is recorded and ``completion`` is set. A
    failure before the first chunk falls back to the next model (in :func:`open_stream`);
    one after it ends the stream with the :class:`ProviderError`.
    """

    def __init__(self, router: Any, decision: RoutingDecision, model: str, request: ChatRequest,
                 first: Any, rest: AsyncIterator[Any], started: float, attempts: list[tuple[str, str]]) -> None:
        self.router = router
        self.decision = decision
        self.model = model
        self.request = request
        self._first = first
        self._rest = rest
        self._started = started
        self.attempts = attempts
        self.completion: Completion | None = None
        self.finish_reason: str | None = None

    @property
    def query_id(self) -> str:
        return self.decision.query_id

    async def __aiter__(self) -> AsyncIterator[str]:
        parts: list[str] = []
        usage = Usage()
        chunk = self._first
        router, name = self.router, self.model
        try:
            while chunk is not None:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.input_tokens or usage.input_tokens,
                                  chunk.usage.output_tokens or usage.output_tokens)
                self.finish_reason = chunk.finish_reason or self.finish_reason
                if chunk.text:
                    parts.append(chunk.text)
                    yield chunk.text
                chunk = await anext(self._rest, None)
        except ProviderError as exc:
            router.breakers[name].record_failure()
            await router.record_failure(self.decision, name, exc.kind)
            self.attempts.append((name, exc.kind))
            raise
        finally:
            aclose = getattr(self._rest, "aclose", None)
            if aclose is not None and self.completion is None:
                await aclose()
        text = "".join(parts)
        latency = (time.perf_counter() - self._started) * 1000
        spec = router.model(name)
        usage = _usage(usage, self.request, text)
        cost = spec.cost(usage.input_tokens, usage.output_tokens)
        router.breakers[name].record_success()
        await router.record_answer(self.decision, name, problem=answer_problem(text), latency_ms=latency, cost=cost,
                                   tokens=(usage.input_tokens, usage.output_tokens))
        self.attempts.append((name, "ok"))
        self.completion = Completion(text=text, model=name, usage=usage, cost=cost, latency_ms=latency,
                                     decision=self.decision, attempts=tuple(self.attempts),
                                     finish_reason=self.finish_reason)


async def open_stream(router: Any, query: Query, *, messages: Any = None, system: str | None = None,
                      max_tokens: int | None = None, temperature: float | None = None) -> RoutedStream:
    """See :meth:`conduit_router.Router.stream`."""
    msgs = build_messages(query, messages, system)
    validate_chat("auto", msgs, temperature, max_tokens)
    decision = await router.route(query)
    attempts: list[tuple[str, str]] = []
    for spec, client, breaker in _callable_models(router, decision, attempts):
        request = validate_chat(spec.name, msgs, temperature, max_tokens, stream=True)
        started = time.perf_counter()
        chunks = client.stream(request)
        try:
            first = await anext(chunks, None)
        except ProviderError as exc:
            await _failed(router, decision, spec.name, breaker, exc, attempts)
            continue
        return RoutedStream(router, decision, spec.name, request, first, chunks, started, attempts)
    raise AllModelsFailedError(attempts)
