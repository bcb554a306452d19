"""The router's data types: models on offer, queries, constraints, objectives and decisions.

Plain dataclasses (no pydantic): each validates itself in ``__post_init__`` and raises
:class:`ValueError` naming the field and the allowed range, which the HTTP service turns
into a 4xx with that reason. ``to_dict()`` gives the JSON shape the service answers with.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "DOMAINS",
    "Alternative",
    "Completion",
    "FeedbackResult",
    "ModelSpec",
    "Objective",
    "Query",
    "QueryConstraints",
    "QueryFeatures",
    "RoutingDecision",
    "Usage",
]

DOMAINS: tuple[str, ...] = ("code", "math", "reasoning", "creative", "factual", "conversation", "science")
"""The domains the query analyser tells apart (their one-hot is part of the bandit's context)."""

MAX_QUERY_CHARS = 200_000


def _finite(name: str, value: Any, *, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a finite number, got {value!r:.40}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float (10**400)
        finite = False
    if not finite:
        raise ValueError(f"{name} must be a finite number, got {value!r:.40}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low:g}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high:g}, got {value!r}")
    return float(value)


def _relative(name: str, value: Any, meaning: str = "a share of the best candidate's quality such as 0.95") -> float:
    """A share (of the best candidate's quality, by default): a finite number with 0 < value <= 1."""
    try:
        share = _finite(name, value)
    except ValueError:
        share = math.nan
    if not 0 < share <= 1:
        raise ValueError(f"{name} must be a number in (0, 1], {meaning}; got {value!r:.40}")
    return share


@dataclass(frozen=True)
class ModelSpec:
    """A model the router may pick.

    ``provider`` names the client that calls it (``openai``, ``anthropic``, ``google``,
    ``groq`` or any OpenAI-compatible provider registered with the router); costs are list
    prices in USD per million tokens; ``expected_latency_ms`` seeds the latency model;
    ``quality_prior`` (0..1) seeds the quality model for a cold start; ``max_context`` is
    the context window in tokens (queries that do not fit are never sent to it).
    """

    name: str
    provider: str
    input_cost_per_mtok: float
    output_cost_per_mtok: float
    expected_latency_ms: float | None = None
    quality_prior: float | None = None
    max_context: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("ModelSpec.name must be a non-empty string")
        if not isinstance(self.provider, str) or not self.provider.strip():
            raise ValueError(f"ModelSpec {self.name!r}: provider must be a non-empty string")
        _finite(f"{self.name}: input_cost_per_mtok", self.input_cost_per_mtok, low=0)
        _finite(f"{self.name}: output_cost_per_mtok", self.output_cost_per_mtok, low=0)
        if self.expected_latency_ms is not None:
            _finite(f"{self.name}: expected_latency_ms", self.expected_latency_ms, low=1)
        if self.quality_prior is not None:
            _finite(f"{self.name}: quality_prior", self.quality_prior, low=0, high=1)
        if self.max_context is not None and (isinstance(self.max_context, bool) or not isinstance(self.max_context, int)
                                             or self.max_context < 1):
            raise ValueError(f"{self.name}: max_context must be a positive integer, got {self.max_context!r}")

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        """USD for a call with these token counts at list price."""
        return (input_tokens * self.input_cost_per_mtok + output_tokens * self.output_cost_per_mtok) / 1e6

    @property
    def blended_price(self) -> float:
        """USD per million tokens for a 3:1 input:output mix (how price tables rank models)."""
        return (3 * self.input_cost_per_mtok + self.output_cost_per_mtok) / 4

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelSpec field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider,
            "input_cost_per_mtok": self.input_cost_per_mtok,
            "output_cost_per_mtok": self.output_cost_per_mtok,
            "expected_latency_ms": self.expected_latency_ms,
            "quality_prior": self.quality_prior,
            "max_context": self.max_context,
        }


@dataclass(frozen=True)
class QueryConstraints:
    """Hard limits a routing decision must respect; candidates that break one are dropped
    before sampling. ``max_cost`` is USD for this query (estimated), ``max_latency_ms`` the
    predicted latency, ``min_quality`` the predicted (posterior mean) quality in 0..1.

    ``min_relative_quality`` (0 < t <= 1) is relative, not a filter: this decision keeps the
    candidates whose sampled quality is at least ``t`` times the best candidate's and picks
    the cheapest of them (the objective's ``quality_target`` for this one query; see
    :class:`Objective`)."""

    max_cost: float | None = None
    max_latency_ms: float | None = None
    min_quality: float | None = None
    allowed_models: tuple[str, ...] | None = None
    min_relative_quality: float | None = None

    FIELDS: ClassVar[tuple[str, ...]] = ("max_cost", "max_latency_ms", "min_quality", "allowed_models",
                                         "min_relative_quality")

    def __post_init__(self) -> None:
        if self.max_cost is not None:
            _finite("constraints.max_cost", self.max_cost, low=0)
        if self.max_latency_ms is not None:
            _finite("constraints.max_latency_ms", self.max_latency_ms, low=0)
            if self.max_latency_ms <= 0:
                raise ValueError("constraints.max_latency_ms must be > 0")
        if self.min_quality is not None:
            _finite("constraints.min_quality", self.min_quality, low=0, high=1)
        if self.min_relative_quality is not None:
            object.__setattr__(self, "min_relative_quality",
                               _relative("constraints.min_relative_quality", self.min_relative_quality))
        if self.allowed_models is not None:
            models = self.allowed_models
            if isinstance(models, str) or not isinstance(models, Iterable):
                raise ValueError("constraints.allowed_models must be a list of model names")
            names = tuple(models)
            if not names or not all(isinstance(n, str) and n for n in names):
                raise ValueError("constraints.allowed_models must be a non-empty list of model names")
            object.__setattr__(self, "allowed_models", names)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> QueryConstraints | None:
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise ValueError(f"constraints must be an object with {', '.join(cls.FIELDS)}")
        unknown = sorted(set(data) - set(cls.FIELDS))
        if unknown:
            raise ValueError(f"unknown constraint(s) {', '.join(unknown)}; use {', '.join(cls.FIELDS)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "max_cost": self.max_cost,
            "max_latency_ms": self.max_latency_ms,
            "min_quality": self.min_quality,
            "allowed_models": list(self.allowed_models) if self.allowed_models is not None else None,
        }
        if self.min_relative_quality is not None:
            data["min_relative_quality"] = self.min_relative_quality
        return data


@dataclass(frozen=True)
class Query:
    """One query to route: its text, optional constraints, and who asked (for retry detection)."""

    text: str
    constraints: QueryConstraints | None = None
    user_id: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"query text must be a string, got {type(self.text).__name__}")
        if not self.text.strip():
            raise ValueError("query text is empty; send the user's question as text")
        if len(self.text) > MAX_QUERY_CHARS:
            raise ValueError(f"query text has {len(self.text)} characters; the limit is {MAX_QUERY_CHARS}")
        if isinstance(self.constraints, Mapping):
            object.__setattr__(self, "constraints", QueryConstraints.from_dict(self.constraints))
        if self.constraints is not None and not isinstance(self.constraints, QueryConstraints):
            raise ValueError("constraints must be a QueryConstraints (or a mapping of its fields)")
        if self.user_id is not None and (not isinstance(self.user_id, str) or not self.user_id or len(self.user_id) > 256):
            raise ValueError("user_id must be a non-empty string of at most 256 characters")
        if not isinstance(self.id, str) or not 1 <= len(self.id) <= 128:
            raise ValueError("query id must be a string of 1 to 128 characters")


@dataclass(frozen=True)
class Objective:
    """How much quality, cost and latency weigh in a decision (normalised to sum to 1).

    A candidate's score is ``quality * q - cost * c - latency * l`` where ``q`` is the
    sampled quality (0..1), ``c`` the estimated cost divided by the priciest catalogue
    model's cost for the same query, and ``l`` the predicted latency divided by the slowest
    one's, so each term lies in 0..1 whatever the prices' scale.

    ``quality_target`` (0 < t <= 1) replaces the weighted sum by a rule: "nearly the best
    quality, as cheaply as possible". Per decision, each candidate's quality for this query
    is drawn once from its posterior (clipped to 0..1); the candidates whose draw is at least
    ``t`` times the best draw are kept, and the cheapest of them is chosen, "cheap" meaning
    the smallest ``c * cost/max_cost + l * latency/max_latency`` (cost alone when both weights
    are 0; ties go to the higher draw). The quality weight plays no part then. The preset
    ``"value"`` is ``quality_target=0.95`` with cost alone deciding.

    ``cost_budget`` (0 < b <= 1) is a spending limit: on average, spend at most ``b`` times
    what the priciest catalogue model would have cost for the same queries, and within it
    the best quality the weights allow. The cost weight is then not fixed but a price the
    router learns (:class:`~conduit_router.budget.BudgetPacer`): it rises while decisions
    spend above the budget and falls while they spend below it, starting from
    ``cost / quality`` (0.1 when the cost weight is 0). ``"cost_budget=0.45"`` alone means
    quality against the learned price of cost. It cannot be combined with a quality target.
    """

    quality: float = 0.7
    cost: float = 0.2
    latency: float = 0.1
    quality_target: float | None = None
    cost_budget: float | None = None

    PRESETS: ClassVar[dict[str, tuple[float, float, float]]] = {
        "balanced": (0.7, 0.2, 0.1),
        "quality": (0.9, 0.07, 0.03),
        "cost": (0.5, 0.45, 0.05),
        "speed": (0.5, 0.1, 0.4),
    }
    TARGET_PRESETS: ClassVar[dict[str, tuple[float, float, float, float]]] = {
        "value": (0.0, 1.0, 0.0, 0.95),
    }
    FIELDS: ClassVar[tuple[str, ...]] = ("quality", "cost", "latency", "quality_target", "cost_budget")

    def __post_init__(self) -> None:
        q = _finite("objective.quality", self.quality, low=0)
        c = _finite("objective.cost", self.cost, low=0)
        lat = _finite("objective.latency", self.latency, low=0)
        target = None if self.quality_target is None else _relative("objective.quality_target", self.quality_target)
        budget = None if self.cost_budget is None else _relative("objective.cost_budget", self.cost_budget,
                                                                 "the share of what the priciest model would cost "
                                                                 "that may be spent on average, such as 0.5")
        if budget is not None and target is not None:
            raise ValueError("objective: cost_budget and quality_target exclude each other (a quality target "
                             "already takes the cheapest model near the best); give one of them")
        total = q + c + lat
        if budget is not None and total <= 0:  # a budget alone: quality against the learned price of cost
            q, total = 1.0, 1.0
        if target is None and (total <= 0 or q <= 0):
            raise ValueError("objective.quality must be > 0 (a router that ignores quality only needs a price list)")
        if total <= 0:  # a quality target alone: cost decides among the candidates that reach it
            q, c, lat, total = 0.0, 1.0, 0.0, 1.0
        object.__setattr__(self, "quality", q / total)
        object.__setattr__(self, "cost", c / total)
        object.__setattr__(self, "latency", lat / total)
        object.__setattr__(self, "quality_target", target)
        object.__setattr__(self, "cost_budget", budget)

    @property
    def rule(self) -> str:
        """``"weighted"`` (the weighted sum), ``"quality_target"`` (cheapest near the best) or
        ``"cost_budget"`` (the weighted sum with a learned price of cost)."""
        if self.quality_target is not None:
            return "quality_target"
        return "weighted" if self.cost_budget is None else "cost_budget"

    def priced(self, price: float) -> Objective:
        """The weighted objective with cost priced at ``price`` per unit of quality weight
        (what a cost budget decides with; see :class:`~conduit_router.budget.BudgetPacer`)."""
        return Objective(self.quality, self.quality * price, self.latency)

    def cheapness(self) -> tuple[float, float]:
        """The weights of cost and latency in "cheapest" under a quality target (sum 1)."""
        total = self.cost + self.latency
        return (1.0, 0.0) if total <= 0 else (self.cost / total, self.latency / total)

    @classmethod
    def parse(cls, value: Objective | Mapping[str, Any] | str | None) -> Objective:
        """An Objective from itself, a mapping, a preset name, ``"quality=0.8,cost=0.2"``,
        ``"quality_target=0.95"`` or ``"cost_budget=0.5"`` (optionally with weights) or None."""
        if value is None:
            return cls()
        if isinstance(value, Objective):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(cls.FIELDS))
            if unknown:
                raise ValueError(f"unknown objective field(s) {', '.join(map(str, unknown))}; use "
                                 f"{', '.join(cls.FIELDS)}")
            return cls(**{k: value[k] for k in value})
        if isinstance(value, str):
            text = value.strip().lower()
            if text in cls.PRESETS:
                return cls(*cls.PRESETS[text])
            if text in cls.TARGET_PRESETS:
                return cls(*cls.TARGET_PRESETS[text])
            presets = ", ".join([*cls.PRESETS, *cls.TARGET_PRESETS])
            fields: dict[str, float] = {"quality": 0.0, "cost": 0.0, "latency": 0.0}
            for part in filter(None, (p.strip() for p in text.split(","))):
                key, sep, number = part.partition("=")
                key = key.strip()
                if not sep or key not in cls.FIELDS:
                    raise ValueError(f"objective {value!r}: expected a preset ({presets}), "
                                     "'quality=0.7,cost=0.2,latency=0.1', 'quality_target=0.95' or 'cost_budget=0.5'")
                try:
                    fields[key] = float(number)
                except ValueError:
                    raise ValueError(f"objective {value!r}: {key} is not a number") from None
            return cls(**fields)
        raise ValueError(f"objective must be an Objective, a mapping, or a string, not {type(value).__name__}")

    def to_dict(self) -> dict[str, float]:
        data = {"quality": round(self.quality, 6), "cost": round(self.cost, 6), "latency": round(self.latency, 6)}
        if self.quality_target is not None:
            data["quality_target"] = self.quality_target
        if self.cost_budget is not None:
            data["cost_budget"] = self.cost_budget
        return data


@dataclass(frozen=True)
class QueryFeatures:
    """What the analyser learned about a query.

    ``embedding`` is the unit-norm text embedding (MiniLM, or hashed character n-grams),
    ``context`` the small vector the bandit conditions on (projected embedding, domain
    one-hot, complexity, length, bias).
    """

    token_estimate: int
    complexity: float
    domain: str
    embedding: tuple[float, ...] = field(repr=False)
    context: tuple[float, ...] = field(repr=False)
    embedder: str = "hash"
    domain_scores: Mapping[str, float] = field(default_factory=dict, repr=False)

    def to_dict(self, *, vectors: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "token_estimate": self.token_estimate,
            "complexity": round(self.complexity, 4),
            "domain": self.domain,
            "embedder": self.embedder,
            "embedding_dim": len(self.embedding),
        }
        if vectors:
            data["context"] = list(self.context)
        return data


@dataclass(frozen=True)
class Alternative:
    """A candidate that was scored for a decision (the selected one included)."""

    model: str
    score: float
    expected_quality: float
    estimated_cost: float
    expected_latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "score": round(self.score, 6),
            "expected_quality": round(self.expected_quality, 4),
            "estimated_cost": self.estimated_cost,
            "expected_latency_ms": round(self.expected_latency_ms, 1),
        }


@dataclass(frozen=True)
class RoutingDecision:
    """The router's answer: which model, how sure, why, and what else was considered.

    ``confidence`` is the posterior probability that the selected model is the best of the
    candidates under the objective (the share of Thompson draws it wins). ``alternatives``
    lists the other candidates best first (their sampled scores), the fallback order of
    :meth:`Router.complete`. ``excluded`` maps each model dropped by a constraint or an
    open circuit breaker to the reason.
    """

    query_id: str
    selected_model: str
    confidence: float
    features: QueryFeatures
    reasoning: str
    alternatives: tuple[Alternative, ...] = ()
    expected_quality: float = 0.0
    estimated_cost: float = 0.0
    expected_latency_ms: float = 0.0
    excluded: Mapping[str, str] = field(default_factory=dict)
    policy: str = "thompson"

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "selected_model": self.selected_model,
            "confidence": round(self.confidence, 4),
            "expected_quality": round(self.expected_quality, 4),
            "estimated_cost": self.estimated_cost,
            "expected_latency_ms": round(self.expected_latency_ms, 1),
            "reasoning": self.reasoning,
            "features": self.features.to_dict(),
            "alternatives": [a.to_dict() for a in self.alternatives],
            "excluded": dict(self.excluded),
            "policy": self.policy,
        }


@dataclass(frozen=True)
class Usage:
    """Tokens a provider reported (or the router estimated when it reported none)."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "total_tokens": self.total_tokens}


@dataclass(frozen=True)
class Completion:
    """What :meth:`Router.complete` returns: the answer, who gave it, and what it cost.

    ``attempts`` lists ``(model, outcome)`` for every model tried, in order, so a fallback
    is visible; ``decision`` is the routing decision (``decision.query_id`` is the id to
    send feedback for).
    """

    text: str
    model: str
    usage: Usage
    cost: float
    latency_ms: float
    decision: RoutingDecision
    attempts: tuple[tuple[str, str], ...] = ()
    cached: bool = False
    finish_reason: str | None = None

    @property
    def query_id(self) -> str:
        return self.decision.query_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "text": self.text,
            "model": self.model,
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "latency_ms": round(self.latency_ms, 1),
            "cached": self.cached,
            "finish_reason": self.finish_reason,
            "attempts": [{"model": m, "outcome": o} for m, o in self.attempts],
            "decision": self.decision.to_dict(),
        }


@dataclass(frozen=True)
class FeedbackResult:
    """What :meth:`Router.feedback` did with a report."""

    query_id: str
    model: str
    reward: float | None
    latency_recorded: bool
    cost_recorded: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "model": self.model,
            "reward": None if self.reward is None else round(self.reward, 4),
            "latency_recorded": self.latency_recorded,
            "cost_recorded": self.cost_recorded,
        }
