"""Scoring for bench/router_eval.py: a run's queries replayed as a trace of true figures, and
from it the static rules in hindsight (every single model, the best two-model mix at a given
spend), the oracles (a budget's best fixed price, the quality target's rule on true
figures) and the lexicographic score of a quality target.

A trace holds, per query of a run, each model's true quality, cost and latency (after the
workload's drift event where it has one), so every static rule and oracle is exact and
cheap: no simulation is re-run for them. A random mix of two models is scored by its
expectation (share ``p`` of one model's figures plus ``1 - p`` of the other's).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from conduit_router import Objective
from conduit_router.simulation import Environment

__all__ = ["Trace", "Window", "best_lexicographic", "best_mix", "best_single", "budget_oracle", "chosen_window",
           "lexicographic_better", "per_model", "sampled_quality", "spread", "target_oracle", "trace"]

@dataclass
class Trace:
    """True figures per query (rows) and model (columns) of one run."""

    names: list[str]
    quality: np.ndarray
    cost: np.ndarray
    latency: np.ndarray
    domains: list[str]

    def index(self, chosen: Sequence[str]) -> np.ndarray:
        where = {n: i for i, n in enumerate(self.names)}
        return np.array([where[c] for c in chosen])


def trace(env: Environment, steps: int, events: dict[int, Any] | None = None) -> Trace:
    """Replay ``steps`` queries of ``env`` (the same sequence a run sees), applying ``events``."""
    names = [m.name for m in env.models]
    quality, cost, latency, domains = [], [], [], []
    for step in range(steps):
        if events and step in events:
            events[step]()
        text, domain = env.sample()
        quality.append([env.true_quality(n, domain) for n in names])
        cost.append([env.cost(n, text, domain) for n in names])
        latency.append([env.latency(n) for n in names])
        domains.append(domain)
    return Trace(names, np.array(quality), np.array(cost), np.array(latency), domains)


@dataclass
class Window:
    """Means over a window of queries for one policy (a single model, a mix, a router)."""

    quality: float
    cost: float
    utility: float
    within: float


def _utility(t: Trace, objective: Objective) -> np.ndarray:
    """Every model's weighted objective value per query (true figures)."""
    max_cost = t.cost.max(axis=1, keepdims=True)
    max_lat = t.latency.max(axis=1, keepdims=True)
    return objective.quality * t.quality - objective.cost * t.cost / max_cost - objective.latency * t.latency / max_lat


def _within(t: Trace, target: float) -> np.ndarray:
    return t.quality >= target * t.quality.max(axis=1, keepdims=True) - 1e-12


def per_model(t: Trace, start: int, end: int, objective: Objective, target: float) -> dict[str, Window]:
    """Always-that-model over queries ``start:end``."""
    u, w = _utility(t, objective), _within(t, target)
    sl = slice(start, end)
    return {n: Window(float(t.quality[sl, i].mean()), float(t.cost[sl, i].mean()), float(u[sl, i].mean()),
                      float(w[sl, i].mean())) for i, n in enumerate(t.names)}


def chosen_window(t: Trace, chosen: Sequence[str] | np.ndarray, start: int, end: int, objective: Objective,
                  target: float) -> Window:
    """A policy's window from its choices (model names, or column indices)."""
    idx = np.asarray(chosen) if isinstance(chosen, np.ndarray) else t.index(chosen)
    rows = np.arange(len(idx))
    u, w = _utility(t, objective), _within(t, target)
    sl = slice(start, end)
    return Window(float(t.quality[rows, idx][sl].mean()), float(t.cost[rows, idx][sl].mean()),
                  float(u[rows, idx][sl].mean()), float(w[rows, idx][sl].mean()))


def best_single(models: dict[str, Window], better: Callable[[Window], Any]) -> tuple[str, Window]:
    """The single model that ``better`` ranks highest."""
    name = max(models, key=lambda n: better(models[n]))
    return name, models[name]


def best_mix(models: dict[str, Window], spend: float, value: Callable[[Window], float]) -> tuple[str, Window]:
    """The random mix of at most two models with the highest ``value`` among those spending at
    most ``spend`` per query (a single model is a mix too); its label and expected window."""
    def mix(a: Window, b: Window, p: float) -> Window:
        return Window(*(p * getattr(a, f) + (1 - p) * getattr(b, f) for f in ("quality", "cost", "utility", "within")))

    best: tuple[str, Window] | None = None
    for a, wa in models.items():
        if wa.cost <= spend and (best is None or value(wa) > value(best[1])):
            best = (f"always {a}", wa)
        for b, wb in models.items():
            if wa.cost > spend >= wb.cost:
                p = (spend - wb.cost) / (wa.cost - wb.cost)
                candidate = mix(wa, wb, p)
                if best is None or value(candidate) > value(best[1]):
                    best = (f"{a} on {p:.0%} of queries, {b} on the rest", candidate)
    if best is None:
        cheapest = min(models, key=lambda n: models[n].cost)
        return f"always {cheapest} (nothing spends less)", models[cheapest]
    return best


def budget_oracle(t: Trace, start: int, end: int, budget: float, reference: str,
                  objective: Objective, quality: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """The fixed price of cost at which choosing per query with true figures spends ``budget`` ×
    the ``reference`` model's cost over ``start:end`` (bisection); the price and its choices.
    ``quality``: choose on these figures instead of the true ones (the spend stays true)."""
    sl = slice(start, end)
    limit = budget * t.cost[sl, t.names.index(reference)].mean()
    rel = t.cost / t.cost.max(axis=1, keepdims=True)
    judged = t.quality if quality is None else quality

    def choose(price: float) -> np.ndarray:
        return np.argmax(judged - price * rel, axis=1)

    def spend(price: float) -> float:
        idx = choose(price)
        return float(t.cost[np.arange(len(idx)), idx][sl].mean())

    low, high = 0.0, 8.0
    for _ in range(40):
        mid = (low + high) / 2
        if spend(mid) > limit:
            low = mid
        else:
            high = mid
    return high, choose(high)


def sampled_quality(t: Trace, answers: int, rng: np.random.Generator,
                    only: Collection[tuple[str, int, float]] | None = None) -> np.ndarray:
    """Estimated figures of the trace: each model's quality on each kind of query (and, after a
    drift event, on each new figure) replaced by the share of ``answers`` right-or-wrong answers
    drawn from it that were right; ``only``: the (domain, model column, true quality) figures to
    estimate, the rest kept exact (None: every figure). One estimate per distinct figure."""
    drawn: dict[tuple[str, int, float], float] = {}
    out = np.empty_like(t.quality)
    for row, domain in enumerate(t.domains):
        for m, q in enumerate(t.quality[row].tolist()):
            key = (domain, m, q)
            if key not in drawn:
                drawn[key] = rng.binomial(answers, q) / answers if only is None or key in only else q
            out[row, m] = drawn[key]
    return out


def target_oracle(t: Trace, target: float) -> np.ndarray:
    """The quality target's rule on true figures: per query the cheapest model within it."""
    within = _within(t, target)
    return np.argmin(np.where(within, t.cost, np.inf), axis=1)


def best_lexicographic(models: dict[str, Window], tie: float = 0.01) -> tuple[str, Window]:
    """The quality target's score: the most queries within the target (shares less than
    ``tie`` apart tie), then the least cost."""
    top = max(w.within for w in models.values())
    name = min((n for n, w in models.items() if w.within >= top - tie), key=lambda n: models[n].cost)
    return name, models[name]


def lexicographic_better(a: Window, b: Window, tie: float = 0.01) -> bool:
    """Is ``a`` better than ``b`` by the quality target's score (see :func:`best_lexicographic`)?"""
    if abs(a.within - b.within) > tie:
        return a.within > b.within
    return a.cost < b.cost


def spread(values: Sequence[float], fmt: str = "{:.1%}") -> str:
    """``mean (min–max)`` of per-seed values."""
    return f"{fmt.format(statistics.mean(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def ideal_learner(t: Trace, objective: Objective, seed: int, prior: Sequence[float], mode: str = "thompson",
                  strength: float = 3.0, forget: float | None = None) -> np.ndarray:
    """A reference learner that the router cannot be: it knows each query's true domain and
    learns, per model and domain, a Beta posterior of the right-answer rate from the same
    kind of feedback (a Bernoulli draw of the true quality), deciding on
    ``quality − price · cost/max_cost`` with the router's own pacer for a spending limit (or
    the objective's fixed weights without one). ``mode``: ``"thompson"`` (a posterior draw),
    ``"greedy"`` (the posterior mean), ``"unsettled"`` (the mean, unless the best draw's
    spread is above 0.05: the router's quality-target rule) or ``"tempered S"`` (the mean plus
    S posterior standard deviations of noise). The quality prior is worth ``strength``
    answers; ``forget`` (None: never) discounts a model's evidence for a domain towards it
    at each answer. How far it gets bounds what reading the query better can win on a
    workload."""
    from conduit_router.budget import BudgetPacer

    rng = np.random.default_rng(seed)
    domains = sorted(set(t.domains))
    column = {d: i for i, d in enumerate(domains)}
    p0 = np.asarray(prior, dtype=float)
    a0, b0 = p0 * strength, (1 - p0) * strength
    a = np.tile(a0[:, None], (1, len(domains)))
    b = np.tile(b0[:, None], (1, len(domains)))
    pacer = BudgetPacer(objective) if objective.cost_budget is not None else None
    rel = t.cost / t.cost.max(axis=1, keepdims=True)
    chosen = np.empty(len(t.domains), dtype=int)
    for step, domain in enumerate(t.domains):
        d = column[domain]
        weights = pacer.current() if pacer is not None else objective
        mean = a[:, d] / (a[:, d] + b[:, d])
        sd = np.sqrt(mean * (1 - mean) / (a[:, d] + b[:, d] + 1))
        if mode in ("thompson", "unsettled"):
            q = rng.beta(a[:, d], b[:, d])
            if mode == "unsettled" and sd[int(np.argmax(q))] <= 0.05:
                q = mean
        elif mode == "greedy":
            q = mean
        else:
            q = mean + float(mode.removeprefix("tempered ")) * sd * rng.standard_normal(len(mean))
        i = int(np.argmax(weights.quality * q - weights.cost * rel[step]))
        chosen[step] = i
        if pacer is not None:
            pacer.record(float(t.cost[step, i]), float(t.cost[step].max()))
        right = rng.random() < t.quality[step, i]
        if forget is not None:
            a[i, d] = a0[i] + forget * (a[i, d] - a0[i])
            b[i, d] = b0[i] + forget * (b[i, d] - b0[i])
        a[i, d] += right
        b[i, d] += 1 - right
    return chosen
