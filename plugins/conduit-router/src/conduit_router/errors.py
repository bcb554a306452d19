"""The router's errors, each an HTTP error of the kernel so the service maps them by itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from conduit.framework.errors import (
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)

__all__ = ["AllModelsFailedError", "FeedbackConflictError", "NoEligibleModelError", "UnknownQueryError"]


class NoEligibleModelError(UnprocessableEntityError):  # type: ignore[misc, valid-type]
    """Every model was excluded by the query's constraints (or is cooling down): 422."""

    def __init__(self, excluded: Mapping[str, str]) -> None:
        reasons = "; ".join(f"{m}: {why}" for m, why in excluded.items())
        super().__init__("No model satisfies the constraints",
                         f"every model was excluded ({reasons}); relax max_cost, max_latency_ms, min_quality or "
                         "allowed_models", code="no_eligible_model")
        self.excluded = dict(excluded)


class UnknownQueryError(NotFoundError):  # type: ignore[misc, valid-type]
    """Feedback names a query id the router never routed, or one older than its retention: 404."""

    def __init__(self, query_id: str) -> None:
        super().__init__("Unknown query", f"no routing decision with query_id {query_id[:80]!r} is known (it was "
                         "never routed here, or is older than the decision retention)", code="unknown_query")


class FeedbackConflictError(ConflictError):  # type: ignore[misc, valid-type]
    """Quality feedback for this query was already recorded: 409."""

    def __init__(self, query_id: str) -> None:
        super().__init__("Feedback already recorded", f"quality feedback for query_id {query_id[:80]!r} was already "
                         "recorded; each answer is rated once", code="feedback_exists")


class AllModelsFailedError(ServiceUnavailableError):  # type: ignore[misc, valid-type]
    """Every candidate model failed or could not be called: 503 with what happened to each."""

    def __init__(self, attempts: Sequence[tuple[str, str]]) -> None:
        tried = ", ".join(f"{m} ({outcome})" for m, outcome in attempts) or "none"
        super().__init__("No model could answer", f"every candidate failed: {tried}; if they are 'not_configured', "
                         "set the provider's API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, GROQ_API_KEY)",
                         headers={"Retry-After": "5"}, code="all_models_failed")
        self.attempts = list(attempts)
