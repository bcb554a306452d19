"""The Router: analyse a query, pick a model by contextual Thompson sampling, learn from feedback.

::

    router = Router()                                   # default catalogue, memory state
    decision = await router.route(Query(text="What is 2+2?"))
    await router.feedback(decision.query_id, rating=5)
    answer = await router.complete(Query(text="Write a haiku"))   # routes, calls, learns

``state`` is a state store or a ``redis://`` URL; with Redis, posteriors, decisions,
feature and response caches and retry detection are shared by every worker and host.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from conduit.ml.resilience import CircuitBreaker, CircuitState
from conduit.storage import MemoryStateStore, StateStore, StoreError, create_state_store
from conduit_router import telemetry
from conduit_router.analysis import expected_output_tokens
from conduit_router.bandit import (
    BanditConfig,
    Scored,
    ThompsonSampler,
    predicted_latency,
)
from conduit_router.budget import BudgetPacer
from conduit_router.catalogue import check_catalogue, default_catalogue
from conduit_router.embedding import RETRY_SIMILARITY, HashedEmbedder
from conduit_router.errors import (
    FeedbackConflictError,
    NoEligibleModelError,
    UnknownQueryError,
)
from conduit_router.features import QueryAnalyzer, domain_cell, domain_slice
from conduit_router.feedback import (
    IMPLICIT_SUCCESS_WEIGHT,
    SLOW_ANSWER_QUALITY,
    RetryDetector,
    explicit_reward,
)
from conduit_router.history import History, create_history
from conduit_router.lengths import AnswerLengths
from conduit_router.models import (
    DOMAINS,
    Alternative,
    FeedbackResult,
    ModelSpec,
    Objective,
    Query,
    QueryFeatures,
    RoutingDecision,
)
from conduit_router.outage import OutageLog
from conduit_router.posteriors import LocalPosteriors, ModelStats, PosteriorBackend

__all__ = ["Router"]

logger = logging.getLogger("conduit.router")

_LOCAL_DECISIONS = 50_000


def _is_redis(store: Any) -> bool:
    return hasattr(store, "client") and hasattr(store.client, "register_script")


def resolve_store(state: Any) -> StateStore:
    """A state store from a store, a URL (``redis://``, ``memory://``) or None (memory)."""
    if state is None:
        return MemoryStateStore()
    if isinstance(state, str):
        return create_state_store(state, environ={})
    for method in ("get", "set", "incr", "delete"):
        if not callable(getattr(state, method, None)):
            raise ValueError("state must be a conduit state store (MemoryStateStore, RedisStateStore), a redis:// "
                             "URL, or None")
    return state


class Router:
    """Routes queries to models and learns which model suits which query.

    ``models``: the catalogue (ModelSpec list; the configured default otherwise).
    ``state``: a state store or ``redis://`` URL (memory otherwise). ``objective``: an
    :class:`Objective`, a mapping of weights, a preset name, ``"quality=..,cost=.."`` or
    ``"quality_target=0.95"`` (the cheapest model within 95% of the best, per query) or
    ``"cost_budget=0.5"`` (spend at most half of what the priciest model would, on average:
    :attr:`budget` learns the price of cost that keeps to it).
    ``embedder``: ``"auto"``/None (MiniLM when conduit-onnx is installed, else hashed
    n-grams), ``"hash"``, or an object with ``embed``. ``seed`` makes sampling repeatable.
    ``policy``: ``"thompson"`` (learns) or a static baseline: ``"strongest"``,
    ``"cheapest"``, ``"random"``. ``providers`` maps provider names to clients for
    :meth:`complete` (defaults read API keys from the environment). ``history``: a
    :class:`~conduit_router.history.History` or a URL for one (None: no history).
    ``latency_tolerance_ms``: past this an answer counts as slow (a query's
    ``max_latency_ms`` overrides it).
    """

    def __init__(
        self,
        models: Sequence[ModelSpec] | None = None,
        *,
        state: Any = None,
        objective: Any = None,
        embedder: Any = None,
        seed: int | None = None,
        policy: str = "thompson",
        config: BanditConfig | None = None,
        providers: Mapping[str, Any] | None = None,
        history: History | str | None = None,
        latency_tolerance_ms: float = 15_000.0,
        decision_ttl: float = 86_400.0,
        breaker_failures: int = 3,
        breaker_cooldown: float = 30.0,
        refresh_interval: float = 0.5,
    ) -> None:
        self.models: tuple[ModelSpec, ...] = check_catalogue(models) if models is not None else default_catalogue()
        self._by_name = {m.name: m for m in self.models}
        self.objective = Objective.parse(objective)
        self.budget = BudgetPacer(self.objective) if self.objective.cost_budget is not None else None
        self.config = config or BanditConfig()
        self.sampler = ThompsonSampler(self.config, seed=seed, policy=policy)
        self.store = resolve_store(state)
        self._owns_store = isinstance(state, str)
        # One outage log for every Redis user of this router: one warning per outage, one line at its end.
        self.outages = OutageLog(logger, "Redis")
        self.analyzer = QueryAnalyzer(embedder, store=self.store, outages=self.outages)
        # How long each model's answers run, from the usage seen: one regression per classified domain.
        self.lengths = AnswerLengths(cells=domain_slice(self.analyzer.dimension))
        self._backend: PosteriorBackend | None = None
        self._shared_lengths: Any = None  # the answer lengths in Redis, for every worker and host
        self._refresh_interval = refresh_interval
        self._retry: RetryDetector | None = None
        if latency_tolerance_ms <= 0 or decision_ttl <= 0:
            raise ValueError("latency_tolerance_ms and decision_ttl must be > 0")
        self.latency_tolerance_ms = float(latency_tolerance_ms)
        self.decision_ttl = float(decision_ttl)
        self.history: History | None = create_history(history) if isinstance(history, str) else history
        self.breakers = {
            m.name: CircuitBreaker(failure_threshold=breaker_failures, success_threshold=1, timeout=breaker_cooldown,
                                   name=f"model {m.name}")
            for m in self.models
        }
        from conduit_router.providers import check_clients

        self._providers = check_clients(providers or {})
        self._shared_budget: Any = None  # the spending limit's state in Redis, for every worker and host
        if self.budget is not None and _is_redis(self.store):
            from conduit_router.shared_budget import SharedBudget, budget_key

            self._shared_budget = SharedBudget(self.budget, self.store, budget_key(self.store, self.budget, self.models),
                                               outages=self.outages)
        for client in self._providers.values():  # every worker and host reuses each other's answers
            self._share_cache(client)
        self._decisions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._rated: OrderedDict[str, None] = OrderedDict()  # once-guards while the store is down
        self._stale_records: OrderedDict[str, None] = OrderedDict()  # decisions of another context layout, warned of
        self._counts = {m.name: {"decisions": 0, "estimated_spend": 0.0, "spend": 0.0, "answers": 0, "failures": 0}
                        for m in self.models}
        self._domain_counts = {d: 0 for d in DOMAINS}
        self._feedback_counts = {"explicit": 0, "implicit": 0}
        self._target_decisions = 0  # decided by a quality target (the objective's or a query's)

    def __repr__(self) -> str:
        return f"Router({len(self.models)} models, policy={self.sampler.policy!r}, store={type(self.store).__name__})"

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def policy(self) -> str:
        return self.sampler.policy

    @property
    def backend(self) -> PosteriorBackend:
        """Where posteriors live: Redis (shared, atomic) for a Redis store, this process otherwise."""
        if self._backend is None:
            dim = self.analyzer.dimension
            if _is_redis(self.store):
                from conduit_router.redis_posteriors import RedisPosteriors

                self._backend = RedisPosteriors(self.store, self.analyzer.space, dim, gamma=self.config.gamma,
                                                latency_gamma=self.config.latency_gamma, drift=self.config.drift,
                                                refresh_interval=self._refresh_interval, outages=self.outages,
                                                legacy_space=self.analyzer.legacy_space, on_read=self._refit)
            else:
                self._backend = LocalPosteriors(dim, gamma=self.config.gamma, latency_gamma=self.config.latency_gamma,
                                                drift=self.config.drift)
        return self._backend

    @property
    def shared_lengths(self) -> Any:
        """The answer lengths' figures in Redis (:mod:`conduit_router.shared_lengths`), or None
        when the state is in memory (the lengths are then this process's)."""
        if self._shared_lengths is None and _is_redis(self.store):
            from conduit_router.shared_lengths import SharedLengths, lengths_key

            self._shared_lengths = SharedLengths(self.lengths, self.store, lengths_key(self.store, self.analyzer.space),
                                                 self.analyzer.dimension, refresh_interval=self._refresh_interval,
                                                 outages=self.outages)
        return self._shared_lengths

    @property
    def retry_detector(self) -> RetryDetector:
        if self._retry is None:
            kind = "hash" if isinstance(self.analyzer.embedder, HashedEmbedder) else "default"
            self._retry = RetryDetector(self.store, RETRY_SIMILARITY[kind])
        return self._retry

    def model(self, name: str) -> ModelSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise ValueError(f"unknown model {name!r}; the catalogue has {', '.join(self._by_name)}") from None

    def priciest_cost(self, input_tokens: float, output_tokens: float) -> float:
        """USD the priciest model of the catalogue would charge for these token counts."""
        return max(m.cost(input_tokens, output_tokens) for m in self.models)

    @staticmethod
    def _query(query: Query | str) -> Query:
        if isinstance(query, str):
            return Query(text=query)
        if not isinstance(query, Query):
            raise ValueError(f"route() takes a Query or a string, not {type(query).__name__}")
        return query

    # --- routing -------------------------------------------------------------------------------

    def _estimates(self, features: QueryFeatures, x: np.ndarray, stats: Mapping[str, ModelStats],
                   cell: int) -> tuple[dict[str, float], dict[str, float]]:
        out_tokens = expected_output_tokens(features.domain, features.complexity)
        base = out_tokens * self.lengths.base(x, cell)
        costs = {m.name: m.cost(features.token_estimate, base * self.lengths.verbosity(m.name)) for m in self.models}
        latencies = {m.name: predicted_latency(m, stats.get(m.name)) for m in self.models}
        return costs, latencies

    def _candidates(
        self, query: Query, features: QueryFeatures, x: np.ndarray, stats: Mapping[str, ModelStats],
        costs: Mapping[str, float], latencies: Mapping[str, float], exclude: Iterable[str],
    ) -> tuple[list[ModelSpec], dict[str, str]]:
        c = query.constraints
        excluded: dict[str, str] = {}
        if c is not None and c.allowed_models is not None:
            unknown = [n for n in c.allowed_models if n not in self._by_name]
            if unknown:
                raise ValueError(f"allowed_models names unknown model(s) {', '.join(unknown)}; the catalogue has "
                                 f"{', '.join(self._by_name)}")
        skip = set(exclude)
        needed = features.token_estimate + expected_output_tokens(features.domain, features.complexity)
        kept: list[ModelSpec] = []
        expected: dict[str, float] | None = None  # the posterior means, for a min_quality
        for m in self.models:
            if m.name in skip:
                excluded[m.name] = "excluded by the caller"
            elif c is not None and c.allowed_models is not None and m.name not in c.allowed_models:
                excluded[m.name] = "not in allowed_models"
            elif m.max_context is not None and needed > m.max_context:
                excluded[m.name] = f"needs ~{needed} tokens, context is {m.max_context}"
            elif self.breakers[m.name].state is CircuitState.OPEN:
                excluded[m.name] = "cooling down after failures"
            elif c is not None and c.max_cost is not None and costs[m.name] > c.max_cost:
                excluded[m.name] = f"estimated cost ${costs[m.name]:.6f} > max_cost ${c.max_cost:.6f}"
            elif c is not None and c.max_latency_ms is not None and latencies[m.name] > c.max_latency_ms:
                excluded[m.name] = f"predicted latency {latencies[m.name]:.0f} ms > max_latency_ms {c.max_latency_ms:.0f}"
            elif c is not None and c.min_quality is not None:
                if expected is None:
                    expected = dict(zip(self._by_name, self._predicted(list(self._by_name), x, stats)[0]))
                mean = expected[m.name]
                if mean < c.min_quality:
                    excluded[m.name] = f"expected quality {mean:.2f} < min_quality {c.min_quality:.2f}"
                else:
                    kept.append(m)
            else:
                kept.append(m)
        return kept, excluded

    async def route(self, query: Query | str, *, exclude: Iterable[str] = ()) -> RoutingDecision:
        """Pick a model for ``query`` (see the module docstring); ``exclude`` names models to skip."""
        query = self._query(query)
        features = await self.analyzer.analyze(query.text)
        x = np.asarray(features.context)
        backend = self.backend
        stats = await backend.snapshot(self._by_name)
        lengths = self.shared_lengths
        if lengths is not None:
            await lengths.refresh()
        cell = DOMAINS.index(features.domain)  # the one-hot's 1 in x: read once, not off x again
        costs, latencies = self._estimates(features, x, stats, cell)
        candidates, excluded = self._candidates(query, features, x, stats, costs, latencies, exclude)
        if not candidates:
            raise NoEligibleModelError(excluded)
        target = self._quality_target(query)
        objective = self.objective if self.budget is None else self.budget.current()
        max_cost = max(costs.values())
        scored = self.sampler.choose(x, candidates, costs, latencies, stats, objective,
                                     max_cost=max_cost, max_latency=max(latencies.values()),
                                     catalogue=self.models, quality_target=target, paced=self.budget is not None,
                                     cell=cell)
        best = scored[0]
        if self._shared_budget is not None:
            await self._shared_budget.record(best.cost, max_cost)
        elif self.budget is not None:
            self.budget.record(best.cost, max_cost)
        decision = RoutingDecision(
            query_id=query.id,
            selected_model=best.spec.name,
            confidence=best.win_share if self.policy == "thompson" else 1.0,
            features=features,
            reasoning=self._reasoning(best, scored, features, excluded, target),
            alternatives=tuple(Alternative(s.spec.name, s.score, s.mean_quality, s.cost, s.latency_ms)
                               for s in scored[1:]),
            expected_quality=best.mean_quality,
            estimated_cost=best.cost,
            expected_latency_ms=best.latency_ms,
            excluded=excluded,
            policy=self.policy,
        )
        # How likely this choice was (the share of posterior draws it wins): the answer's
        # length then counts as 1/propensity answers in its model's verbosity (lengths.py).
        propensity = best.win_share if self.policy == "thompson" and target is None else 1.0
        await self._remember(query, decision, x, max_cost, propensity)
        counts = self._counts[best.spec.name]
        counts["decisions"] += 1
        counts["estimated_spend"] += best.cost
        self._domain_counts[features.domain] += 1
        if target is not None:
            self._target_decisions += 1
        telemetry.record_decision(best.spec.name, features.domain, cost_usd=best.cost,
                                  latency_ms=best.latency_ms, confidence=decision.confidence)
        if query.user_id is not None:
            retried = await self.retry_detector.observe(query.user_id, query.id, np.asarray(features.embedding))
            if retried is not None:
                await self._implicit(retried, "retry", 0.0, 1.0)
        # Shared state found stale above is read now, beside the next requests, not in this one.
        backend.start_due()
        if lengths is not None:
            lengths.start_due()
        return decision

    def _quality_target(self, query: Query) -> float | None:
        """The query's ``min_relative_quality``, else the objective's ``quality_target`` (None: weighted sum)."""
        c = query.constraints
        if c is not None and c.min_relative_quality is not None:
            return c.min_relative_quality
        return self.objective.quality_target

    def _reasoning(self, best: Scored, scored: list[Scored], features: QueryFeatures, excluded: Mapping[str, str],
                   target: float | None = None) -> str:
        parts = [f"{features.domain} query (~{features.token_estimate} tokens, complexity {features.complexity:.2f})"]
        if self.policy != "thompson":
            parts.append(f"static policy '{self.policy}' picks {best.spec.name}")
        elif target is not None:
            kept = sum(1 for s in scored if s.score >= target)
            top = max(scored, key=lambda s: s.score)
            parts.append(f"{best.spec.name}: the cheapest of {kept} candidate(s) within {target:.0%} of the best "
                         f"sampled quality (best: {top.spec.name}); expected quality {best.mean_quality:.2f} ± "
                         f"{best.std_quality:.2f}, ~${best.cost:.6f}, ~{best.latency_ms:.0f} ms; " + (
                             f"within the target with probability {best.win_share:.0%}"
                             if self.config.target_confidence > 0 else
                             f"chosen in {best.win_share:.0%} of posterior draws"))
            if len(scored) > 1 and self.config.target_confidence == 0:
                runner = max(scored[1:], key=lambda s: s.win_share)
                parts.append(f"runner-up {runner.spec.name} ({runner.win_share:.0%})")
        else:
            parts.append(f"{best.spec.name}: expected quality {best.mean_quality:.2f} ± {best.std_quality:.2f}, "
                         f"~${best.cost:.6f}, ~{best.latency_ms:.0f} ms; best in {best.win_share:.0%} of posterior draws")
            if len(scored) > 1:
                runner = max(scored[1:], key=lambda s: s.win_share)
                parts.append(f"runner-up {runner.spec.name} ({runner.win_share:.0%})")
        if excluded:
            parts.append(f"{len(excluded)} excluded by constraints")
        return "; ".join(parts)

    # --- decision records (shared through the store) -------------------------------------------

    async def _remember(self, query: Query, decision: RoutingDecision, x: np.ndarray, max_cost: float,
                        propensity: float = 1.0) -> None:
        c = query.constraints
        record = {
            "m": decision.selected_model, "x": [round(v, 7) for v in x.tolist()], "d": decision.features.domain,
            "c": decision.estimated_cost, "u": query.user_id, "ts": time.time(), "mc": max_cost,
            "i": decision.features.token_estimate,
            "o": expected_output_tokens(decision.features.domain, decision.features.complexity),
            "p": propensity,
            "tol": c.max_latency_ms if c is not None and c.max_latency_ms is not None else self.latency_tolerance_ms,
        }
        await self._put_record(decision.query_id, record)
        if self.history is not None:
            self.history.record_decision({
                "query_id": decision.query_id, "ts": record["ts"], "user_id": query.user_id,
                "model": decision.selected_model, "confidence": decision.confidence, "domain": decision.features.domain,
                "token_estimate": decision.features.token_estimate, "estimated_cost": decision.estimated_cost,
                "policy": decision.policy, "reasoning": decision.reasoning,
            })

    async def _put_record(self, query_id: str, record: dict[str, Any]) -> None:
        self._decisions[query_id] = record
        self._decisions.move_to_end(query_id)
        while len(self._decisions) > _LOCAL_DECISIONS:
            self._decisions.popitem(last=False)
        if not isinstance(self.store, MemoryStateStore):
            try:
                await self.store.set(f"router:decision:{query_id}", orjson.dumps(record), ttl=self.decision_ttl)
            except StoreError as exc:  # feedback for it must reach this worker while Redis is away
                self.outages.failed("decision write", exc)
            else:
                self.outages.recovered()

    async def _record(self, query_id: str) -> dict[str, Any]:
        if not isinstance(query_id, str) or not 1 <= len(query_id) <= 128:
            raise ValueError("query_id must be the string id from a routing decision")
        record = self._decisions.get(query_id)
        if record is not None and time.time() - record["ts"] <= self.decision_ttl:
            return record
        if not isinstance(self.store, MemoryStateStore):
            try:
                raw = await self.store.get(f"router:decision:{query_id}")
            except StoreError as exc:
                self.outages.failed("decision read", exc)
                raw = None
            else:
                self.outages.recovered()
            if raw is not None:
                return dict(orjson.loads(raw))
        raise UnknownQueryError(query_id)

    def _context(self, query_id: str, record: Mapping[str, Any]) -> list[float] | None:
        """The decision's context vector, or None (with a warning, once per query) when it was
        recorded over another context layout, by an earlier version sharing the store: quality
        feedback for it cannot be learned from, latency and cost still count."""
        x = record.get("x")
        if isinstance(x, list) and len(x) == self.analyzer.dimension:
            return x
        if query_id not in self._stale_records:
            self._stale_records[query_id] = None
            while len(self._stale_records) > _LOCAL_DECISIONS:
                self._stale_records.popitem(last=False)
            logger.warning("router: decision %s was recorded with a %s-value context vector where this router uses %d "
                           "(an earlier version's query domains); feedback on its quality is not learned from",
                           query_id, len(x) if isinstance(x, list) else "missing", self.analyzer.dimension)
        return None

    async def _once(self, key: str) -> bool:
        """True the first time ``key`` is claimed by any worker sharing the store."""
        try:
            first = await self.store.incr(f"router:once:{key}", 1, ttl=self.decision_ttl) == 1
        except StoreError as exc:
            if not isinstance(self.store, MemoryStateStore):
                self.outages.failed("feedback guard", exc)
            if key in self._rated:
                return False
            self._rated[key] = None
            while len(self._rated) > _LOCAL_DECISIONS:
                self._rated.popitem(last=False)
            return True
        self.outages.recovered()
        return first

    # --- learning ------------------------------------------------------------------------------

    async def observe(self, model: str, x: Sequence[float] | np.ndarray | None, quality: float | None, *,
                      weight: float = 1.0, latency_ms: float | None = None) -> None:
        """Fold one observation into ``model``'s posterior (the low-level learning call)."""
        spec = self.model(model)
        if quality is not None and not 0 <= quality <= 1:
            raise ValueError(f"quality must be in [0, 1], got {quality!r}")
        if not weight > 0:
            raise ValueError(f"weight must be > 0, got {weight!r}")
        log_latency = math.log(max(latency_ms, 1.0)) if latency_ms is not None else None
        vec = None if x is None else np.asarray(x, dtype=np.float64)
        if vec is not None and vec.shape != (self.analyzer.dimension,):
            raise ValueError(f"x must be a context vector of {self.analyzer.dimension} values (the analyser's), "
                             f"got shape {vec.shape}")
        expected = spread = None
        cell = 0
        if vec is not None and quality is not None and weight >= 1.0:
            # The change detector hears full-weight evidence only: an answer that merely
            # arrived (weight < 1, reward 1) says little about quality and would read as drift.
            # It keeps its sums per domain, so a drop on one kind of query is not diluted.
            # The same answers, against the prediction and its spread, teach the noise.
            means, stds = self._predicted([spec.name], vec, self.backend.cached())
            expected, spread = means[0], (stds[0] / self.sampler.noise) ** 2
            cell = domain_cell(vec)
        await self.backend.update(spec.name, vec, quality, weight, log_latency, expected, cell, spread)
        self._refit(self.backend.cached())

    def _predicted(self, names: Sequence[str], x: np.ndarray,
                   stats: Mapping[str, ModelStats]) -> tuple[list[float], list[float]]:
        """Each named model's posterior mean quality for context ``x`` and its spread (as a
        decision predicts them)."""
        self.sampler.posteriors(self.models, stats, x.shape[0])
        return self.sampler.predict(x, names)

    def _refit(self, stats: Mapping[str, ModelStats]) -> None:
        """Fit the posteriors to statistics that just changed (an update, a read of the shared
        ones), so that the next decision finds them fitted instead of fitting them itself."""
        self.sampler.posteriors(self.models, stats, self.analyzer.dimension)

    async def feedback(
        self,
        query_id: str,
        *,
        quality: float | None = None,
        rating: float | None = None,
        success: bool | None = None,
        latency_ms: float | None = None,
        cost: float | None = None,
        output_tokens: int | None = None,
    ) -> FeedbackResult:
        """Tell the router how an answer went; it updates what it believes about that model.

        ``quality`` 0..1, ``rating`` 1..5 and ``success`` (thumbs up/down) are averaged
        into one reward, accepted once per query (409 after); ``latency_ms`` teaches the
        latency model; ``cost`` (USD actually spent) is added to the model's spend;
        ``output_tokens`` (the answer's length in tokens, from the provider's usage) and
        ``cost`` teach the model's answer length (:mod:`conduit_router.lengths`).
        """
        reward = explicit_reward(quality, rating, success)
        if latency_ms is not None and (isinstance(latency_ms, bool) or not isinstance(latency_ms, (int, float))
                                       or not math.isfinite(latency_ms) or latency_ms <= 0):
            raise ValueError(f"latency_ms must be a positive number of milliseconds, got {latency_ms!r}")
        if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float))
                                 or not math.isfinite(cost) or cost < 0):
            raise ValueError(f"cost must be a non-negative number of US dollars, got {cost!r}")
        if output_tokens is not None and (isinstance(output_tokens, bool) or not isinstance(output_tokens, (int, float))
                                          or not math.isfinite(output_tokens) or output_tokens < 0):
            raise ValueError(f"output_tokens must be a non-negative number of tokens, got {output_tokens!r}")
        if reward is None and latency_ms is None and cost is None and output_tokens is None:
            raise ValueError("feedback needs at least one of quality (0..1), rating (1..5), success (true/false), "
                             "latency_ms, cost or output_tokens")
        record = await self._record(query_id)
        model = record["m"]
        if reward is not None and not await self._once(f"feedback:{query_id}"):
            raise FeedbackConflictError(query_id)
        x = self._context(query_id, record) if reward is not None else None
        if x is not None or latency_ms is not None:
            await self.observe(model, x, reward if x is not None else None, latency_ms=latency_ms)
        if cost is not None and model in self._counts:
            self._counts[model]["spend"] += float(cost)
            await self._settle(query_id, record, float(cost))
        if (output_tokens is not None or cost is not None) and await self._once(f"usage:{query_id}"):
            await self._learn_length(record, output_tokens, cost)  # an answer's length is learned once
        self._feedback_counts["explicit"] += 1
        kind = "quality" if quality is not None else "rating" if rating is not None else \
            "thumbs" if success is not None else "latency" if latency_ms is not None else \
            "cost" if cost is not None else "usage"
        telemetry.record_feedback(kind, "explicit")
        self._log_feedback(query_id, model, "explicit", kind, reward, latency_ms, cost)
        return FeedbackResult(query_id, model, reward, latency_ms is not None, cost is not None)

    async def _learn_length(self, record: Mapping[str, Any], output_tokens: float | None, cost: float | None,
                            model: str | None = None) -> None:
        """Teach the answer length of the decision's model (``model``: the one that answered)
        from the answer's tokens, or from its cost at the model's prices; in Redis when shared."""
        name = model or record.get("m")
        prior, x = record.get("o"), record.get("x")
        if name not in self._by_name or not isinstance(prior, (int, float)) or not isinstance(x, list) \
                or len(x) != self.analyzer.dimension:
            return  # recorded by a version that did not keep the prior, or over another context layout
        if output_tokens is None and cost is not None:
            output_tokens = self._tokens_for(self._by_name[name], record.get("i"), cost)
        if output_tokens is None:
            return
        weight = self._inverse_propensity(record, name)
        if self.shared_lengths is not None:
            await self.shared_lengths.observe(name, x, float(prior), float(output_tokens), weight=weight)
        else:
            self.lengths.observe(name, x, float(prior), float(output_tokens), weight=weight)

    @staticmethod
    def _inverse_propensity(record: Mapping[str, Any], model: str) -> float:
        """1 / the probability that the decision chose ``model`` (1 for a fallback's answer,
        or a decision recorded without it)."""
        p = record.get("p")
        if model != record.get("m") or not isinstance(p, (int, float)) or not 0 < p <= 1:
            return 1.0
        return 1.0 / p

    @staticmethod
    def _tokens_for(spec: ModelSpec, input_tokens: Any, cost: float) -> float | None:
        """The answer tokens that ``cost`` implies for ``spec`` (None when its output is free)."""
        if spec.output_cost_per_mtok <= 0 or not isinstance(input_tokens, (int, float)):
            return None
        return max(0.0, (cost - spec.cost(input_tokens, 0)) * 1e6 / spec.output_cost_per_mtok)

    async def _implicit(self, query_id: str, kind: str, quality: float, weight: float) -> bool:
        """Count an implicit signal against a past decision, once per (query, kind)."""
        try:
            record = await self._record(query_id)
        except UnknownQueryError:
            return False
        if not await self._once(f"implicit:{kind}:{query_id}"):
            return False
        x = self._context(query_id, record)
        if x is not None:
            await self.observe(record["m"], x, quality, weight=weight)
        self._feedback_counts["implicit"] += 1
        telemetry.record_feedback(kind, "implicit")
        self._log_feedback(query_id, record["m"], "implicit", kind, quality, None, None)
        return True

    async def _settle(self, query_id: str, record: Mapping[str, Any], cost: float, *, same: bool = True,
                      tokens: tuple[int, int] | None = None) -> None:
        """Tell the spending limit what a decision actually cost (once per query); with the
        answer's ``tokens``, what the priciest model would have charged for them too."""
        if self.budget is None:
            return
        estimated, recorded = record.get("c"), record.get("mc")
        if not isinstance(estimated, (int, float)) or not isinstance(recorded, (int, float)):
            return  # recorded by a version that did not keep them
        if not await self._once(f"cost:{query_id}"):
            return
        settle = self._shared_budget.settle if self._shared_budget is not None else self.budget.settle
        result = settle(float(estimated), cost, float(recorded), same_model=same,
                        max_actual=None if tokens is None else self.priciest_cost(*tokens))
        if result is not None:
            await result

    def _log_feedback(self, query_id: str, model: str, source: str, kind: str, reward: float | None,
                      latency_ms: float | None, cost: float | None) -> None:
        if self.history is not None:
            self.history.record_feedback({"query_id": query_id, "ts": time.time(), "model": model, "source": source,
                                          "kind": kind, "reward": reward, "latency_ms": latency_ms, "cost": cost})

    async def record_answer(self, decision: RoutingDecision, model: str, *, problem: str | None, latency_ms: float | None,
                            cost: float | None, cached: bool = False, tokens: tuple[int, int] | None = None) -> None:
        """Implicit feedback for an answer ``model`` gave to ``decision``'s query (used by complete);
        ``tokens``: the answer's (input, output) token counts, at which a spending limit prices
        the priciest model."""
        record = await self._record(decision.query_id)
        if record["m"] != model:  # a fallback answered: its choice had no propensity of its own
            record = {**record, "m": model, "p": None}
            await self._put_record(decision.query_id, record)
        counts = self._counts[model]
        counts["answers"] += 1
        if cost is not None:
            counts["spend"] += cost
            # A cached answer cost nothing, but the priciest model's estimate stands.
            await self._settle(decision.query_id, record, cost, same=decision.selected_model == model and not cached,
                               tokens=None if cached else tokens)
        if cached:
            return
        if tokens is not None and problem is None:
            await self._learn_length(record, tokens[1], None, model)
        if problem is not None:
            quality, weight, kind = 0.0, 1.0, problem
        elif latency_ms is not None and latency_ms > record.get("tol", self.latency_tolerance_ms):
            quality, weight, kind = SLOW_ANSWER_QUALITY, IMPLICIT_SUCCESS_WEIGHT, "slow"
        else:
            quality, weight, kind = 1.0, IMPLICIT_SUCCESS_WEIGHT, "answered"
        x = self._context(decision.query_id, record)
        if x is not None or latency_ms is not None:
            await self.observe(model, x, quality if x is not None else None, weight=weight, latency_ms=latency_ms)
        self._feedback_counts["implicit"] += 1
        telemetry.record_feedback(kind, "implicit")
        self._log_feedback(decision.query_id, model, "implicit", kind, quality, latency_ms, cost)

    async def record_failure(self, decision: RoutingDecision, model: str, kind: str) -> None:
        """Implicit feedback for a failed call (error, timeout): quality 0 for ``model``."""
        self._counts[model]["failures"] += 1
        record = await self._record(decision.query_id)
        x = self._context(decision.query_id, record)
        if x is not None:
            await self.observe(model, x, 0.0, weight=1.0)
        self._feedback_counts["implicit"] += 1
        telemetry.record_feedback(kind, "implicit")
        self._log_feedback(decision.query_id, model, "implicit", kind, 0.0, None, None)

    # --- calling models ------------------------------------------------------------------------

    def provider(self, name: str) -> Any:
        """The client for provider ``name`` (created from the environment on first use)."""
        client = self._providers.get(name)
        if client is None:
            from conduit_router.providers import PROVIDER_CLASSES

            cls = PROVIDER_CLASSES.get(name)
            if cls is None:
                return None
            client = self._providers[name] = cls(name=name)
            self._share_cache(client)
        return client

    def _share_cache(self, client: Any) -> None:
        cache = getattr(client, "cache", None)
        if cache is not None and hasattr(cache, "share"):
            cache.share(self.store)

    async def complete(self, query: Query | str, **options: Any) -> Any:
        """Route ``query``, call the chosen model (falling back to the next best on failure),
        record implicit feedback, and return a :class:`~conduit_router.models.Completion`.

        Options: ``messages`` (OpenAI-style; default one user message with the query
        text), ``system``, ``max_tokens``, ``temperature``, ``use_cache``.
        """
        from conduit_router.calls import complete

        return await complete(self, self._query(query), **options)

    async def stream(self, query: Query | str, **options: Any) -> Any:
        """Like :meth:`complete` but streamed: a :class:`~conduit_router.calls.RoutedStream`
        whose ``decision`` and ``model`` are known before the first chunk."""
        from conduit_router.calls import open_stream

        return await open_stream(self, self._query(query), **options)

    # --- reporting -----------------------------------------------------------------------------

    def estimated_quality(self, model: str, domain: str | None = None) -> float:
        """Posterior mean quality of ``model`` for a typical query of ``domain`` (all domains,
        weighted by the traffic seen, when None)."""
        spec = self.model(model)
        dim = self.analyzer.dimension
        post = self.sampler.posteriors(self.models, self.backend.cached(), dim)[spec.name]
        domains = [domain] if domain is not None else list(DOMAINS)
        weights = [1.0] if domain is not None else [self._domain_counts[d] or 0.0 for d in DOMAINS]
        if sum(weights) == 0:
            weights = [1.0] * len(domains)
        total = 0.0
        for d, w in zip(domains, weights):
            x = np.zeros(dim)
            x[domain_slice(dim).start + DOMAINS.index(d)] = 1.0
            x[-3], x[-2], x[-1] = 0.35, 0.3, 1.0
            total += w * min(1.0, max(0.0, float(x @ post.mean)))
        return total / sum(weights)

    def stats(self) -> dict[str, Any]:
        """Decisions, traffic share, spend and estimated quality per model (this process's
        counts; posteriors as last seen, shared ones included)."""
        total = sum(c["decisions"] for c in self._counts.values())
        cached = self.backend.cached()
        models: dict[str, Any] = {}
        for m in self.models:
            counts = self._counts[m.name]
            stats = cached.get(m.name)
            models[m.name] = {
                "provider": m.provider,
                "decisions": counts["decisions"],
                "traffic_share": round(counts["decisions"] / total, 4) if total else 0.0,
                "estimated_spend": round(counts["estimated_spend"], 8),
                "spend": round(counts["spend"], 8),
                "answers": counts["answers"],
                "failures": counts["failures"],
                "estimated_quality": round(self.estimated_quality(m.name), 4),
                "observations": 0 if stats is None else stats.u,
                "drifts": 0 if stats is None else stats.dr,
                "expected_latency_ms": round(predicted_latency(m, stats), 1),
                "breaker": self.breakers[m.name].state.value,
            }
        return {
            "policy": self.policy,
            "objective": self.objective.to_dict(),
            "rule": self.objective.rule,
            "budget": None if self.budget is None else self.budget.to_dict(),
            "answer_lengths": self.lengths.to_dict(),
            "feedback_noise": round(self.sampler.noise, 4),
            "decisions": total,
            "decisions_with_quality_target": self._target_decisions,
            "domains": dict(self._domain_counts),
            "feedback": dict(self._feedback_counts),
            "shared_state": bool(getattr(self.backend, "shared", False)),
            "models": models,
            "features": self.analyzer.stats(),
            "redis": self.outages.to_dict() if not isinstance(self.store, MemoryStateStore) else None,
            "providers": {name: c.metrics.to_dict() for name, c in self._providers.items()},
        }

    async def refresh(self) -> None:
        """Re-read shared posteriors and answer lengths now (``stats()`` then shows other
        workers' learning)."""
        await self.backend.snapshot(self._by_name, wait=True)
        if self.shared_lengths is not None:
            await self.shared_lengths.refresh(force=True)

    async def reset(self) -> None:
        """Forget everything learned about every model (posteriors only)."""
        await self.backend.reset(self._by_name)
        self.sampler.forget()

    async def aclose(self) -> None:
        """Deliver pending updates, flush history, close provider clients, and close the
        state store if the router opened it from a URL."""
        if self._backend is not None:
            await self._backend.close()
        if self._shared_lengths is not None:
            await self._shared_lengths.close()
        if self._owns_store:
            await self.store.close()
        if self.history is not None:
            await self.history.close()
        for client in self._providers.values():
            await client.aclose()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
