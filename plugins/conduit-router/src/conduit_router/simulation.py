"""A simulated workload to measure whether the router learns: models with known per-domain
quality, queries generated from templates, and feedback drawn from the true quality.

Used by the tests and by ``bench/router_eval.py``::

    env = Environment(models, quality={"small": {"code": 0.4, ...}, ...}, seed=1)
    report = await run_router(router, env, 600)
    baseline = run_static(env, "cheapest", 600)

A query's true domain (the template's) decides its true quality; the router only sees
the text, so its own domain guess may be wrong, as in life. Feedback is a Bernoulli
draw of the true quality (an answer is right or wrong).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conduit_router.models import DOMAINS, ModelSpec, Objective, Query

__all__ = [
    "SYNTHETIC_MODELS",
    "SYNTHETIC_QUALITY",
    "TEMPLATES",
    "Environment",
    "Report",
    "lexicographic_better",
    "oracle_choice",
    "run_router",
    "run_static",
    "synthetic_environment",
]

_SLOTS: dict[str, list[str]] = {
    "lang": ["Python", "JavaScript", "Rust", "Go", "Java", "TypeScript", "C++", "SQL"],
    "task": ["reverses a linked list", "parses a CSV file", "deduplicates a list while keeping order",
             "finds the longest palindrome in a string", "merges two sorted arrays", "retries an HTTP call with backoff",
             "validates an email address with a regex", "computes a moving average", "flattens a nested dict",
             "implements an LRU cache"],
    "error": ["a KeyError", "a null pointer exception", "a segfault", "an index out of range error",
              "a borrow checker error", "a deadlock", "a type error"],
    "n": [str(n) for n in (7, 12, 15, 23, 36, 48, 64, 99, 120, 365)],
    "fn": ["x^2 sin(x)", "e^(3x)", "ln(x^2 + 1)", "x^3 - 4x", "1/(1+x^2)", "sqrt(x) cos(x)"],
    "topic": ["the ocean", "autumn leaves", "a lighthouse keeper", "the first day of school", "a robot learning to paint",
              "a city at night", "an old bookshop", "the moon landing"],
    "form": ["poem", "short story", "haiku", "song", "limerick", "fable"],
    "country": ["France", "Japan", "Brazil", "Kenya", "Canada", "Australia", "Egypt", "Norway"],
    "thing": ["the telephone", "penicillin", "the printing press", "the World Wide Web", "the steam engine", "radio"],
    "issue": ["remote work", "nuclear power", "universal basic income", "a four-day work week", "self-driving cars",
              "carbon taxes"],
    "greet": ["hi there!", "hello, how are you today?", "thanks, that was helpful", "good morning!",
              "hey, what's up?", "tell me about yourself", "I'm feeling a bit tired today"],
}

TEMPLATES: dict[str, list[str]] = {
    "code": ["Write a {lang} function that {task}.", "Why does my {lang} code throw {error} when it {task}?",
             "Implement a {lang} class that {task}, with unit tests.",
             "Debug this: my {lang} script {task} but returns wrong results.",
             "Refactor this {lang} snippet that {task} so it is more efficient."],
    "math": ["Solve for x: {n}x + {n} = {n}.", "What is the derivative of {fn}?", "Compute the integral of {fn} from 0 to 1.",
             "What is the probability of rolling at least one six in {n} dice throws?",
             "Prove that the sum of the first {n} odd numbers is a perfect square.", "Calculate {n} * {n} + {n}."],
    "reasoning": ["What are the pros and cons of {issue}? Analyze the trade-offs.",
                  "Why did {thing} change society so much? Explain the causes and consequences.",
                  "Compare the arguments for and against {issue}, step by step.",
                  "Should a small company adopt {issue}? Evaluate the strategy and decide.",
                  "A farmer has {n} sheep and all but {n} run away. Reason step by step: how many are left?"],
    "creative": ["Write a {form} about {topic}.", "Compose a whimsical {form} featuring {topic}.",
                 "Draft a {form} that imagines {topic} in the year 3000.", "Write a {form} with a twist about {topic}."],
    "factual": ["What is the capital of {country}?", "Who invented {thing}?", "When was {thing} invented?",
                "What is the population of {country}?", "Where is {country} located?",
                "What is the history of {thing}?"],
    "conversation": ["{greet}", "{greet} Can we chat for a bit?", "{greet}", "lol ok {greet}"],
}


def _fill(template: str, rng: random.Random, slots: Mapping[str, list[str]]) -> str:
    out = template
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        out = out[:start] + rng.choice(slots[out[start + 1:end]]) + out[end + 1:]
    return out


@dataclass
class Environment:
    """Models, their true per-domain quality (0..1), and a query generator.

    ``mix`` weights the domains (uniform by default); ``output_tokens`` is the answer
    length per domain used for the true cost, times ``verbosity`` per model (1 for a model
    not named: some models write longer answers than others); ``latency_ms`` per model (their
    ``expected_latency_ms`` otherwise); ``templates`` and ``slots`` replace or extend
    :data:`TEMPLATES` (domains need not be the analyser's: the router only sees text);
    ``graded`` makes the feedback a score (the true quality plus Gaussian noise of that
    standard deviation, as a judge's score) instead of right or wrong.
    """

    models: Sequence[ModelSpec]
    quality: dict[str, dict[str, float]]
    seed: int = 0
    mix: Mapping[str, float] | None = None
    output_tokens: Mapping[str, int] = field(default_factory=lambda: {
        "code": 350, "math": 250, "reasoning": 400, "creative": 350, "factual": 100, "conversation": 60})

    latency_ms: Mapping[str, float] | None = None
    templates: Mapping[str, list[str]] | None = None
    slots: Mapping[str, list[str]] | None = None
    verbosity: Mapping[str, float] | None = None
    graded: float | None = None

    def output_length(self, domain: str, model: str | None = None) -> int:
        """Answer tokens for a query of ``domain`` (by ``model``, when given)."""
        scale = (self.verbosity or {}).get(model, 1.0) if model is not None else 1.0
        return int(self.output_tokens.get(domain, 200) * scale)

    def __post_init__(self) -> None:
        self._templates = {**TEMPLATES, **(self.templates or {})}
        self._slots = {**_SLOTS, **(self.slots or {})}
        self.rng = random.Random(self.seed)  # queries: the same sequence for every policy
        self.outcomes = random.Random(self.seed + 1)  # feedback draws and random choices
        present = list(dict.fromkeys(d for q in self.quality.values() for d in q))
        self._domains = [d for d in DOMAINS if d in present] + [d for d in present if d not in DOMAINS]
        weights = self.mix or {d: 1.0 for d in self._domains}
        self._weights = [weights.get(d, 0.0) for d in self._domains]
        self.by_name = {m.name: m for m in self.models}
        if self.graded is not None and not (self.graded > 0 and math.isfinite(self.graded)):
            raise ValueError(f"graded must be a positive spread of the scores, got {self.graded!r}")
        for name in self.quality:
            if name not in self.by_name:
                raise ValueError(f"quality given for unknown model {name!r}")

    def sample(self) -> tuple[str, str]:
        """A query text and its true domain."""
        domain = self.rng.choices(self._domains, weights=self._weights)[0]
        return _fill(self.rng.choice(self._templates[domain]), self.rng, self._slots), domain

    def true_quality(self, model: str, domain: str) -> float:
        return self.quality[model][domain]

    def feedback(self, model: str, domain: str) -> float:
        """One observed quality: 1 (a good answer) with the model's true probability, else 0;
        with ``graded``, the true quality plus Gaussian noise of that spread, within [0, 1]."""
        if self.graded is not None:
            return min(1.0, max(0.0, self.true_quality(model, domain) + self.outcomes.gauss(0.0, self.graded)))
        return 1.0 if self.outcomes.random() < self.true_quality(model, domain) else 0.0

    def cost(self, model: str, text: str, domain: str) -> float:
        return self.by_name[model].cost(max(1, len(text) // 4), self.output_length(domain, model))

    def latency(self, model: str) -> float:
        if self.latency_ms and model in self.latency_ms:
            return float(self.latency_ms[model])
        return float(self.by_name[model].expected_latency_ms or 1000.0)

    def utility(self, model: str, text: str, domain: str, objective: Objective) -> float:
        """The objective's value of answering with ``model`` (true quality, true cost).

        Under a quality target it is minus the rule's loss: the quality short of the target
        (``t`` × the best true quality for this query) plus the cheapness term
        (``c · cost/max_cost + l · latency/max_latency``)."""
        max_cost = max(self.cost(m.name, text, domain) for m in self.models) or 1.0
        max_lat = max(self.latency(m.name) for m in self.models) or 1.0
        if objective.quality_target is not None:
            return -self.shortfall(model, domain, objective.quality_target) - self.cheapness(model, text, domain, objective)
        return (objective.quality * self.true_quality(model, domain)
                - objective.cost * self.cost(model, text, domain) / max_cost
                - objective.latency * self.latency(model) / max_lat)

    def cheapness(self, model: str, text: str, domain: str, objective: Objective) -> float:
        """What "cheapest" minimises under a quality target (true cost and latency, 0..1)."""
        max_cost = max(self.cost(m.name, text, domain) for m in self.models) or 1.0
        max_lat = max(self.latency(m.name) for m in self.models) or 1.0
        w_cost, w_latency = objective.cheapness()
        return w_cost * self.cost(model, text, domain) / max_cost + w_latency * self.latency(model) / max_lat

    def shortfall(self, model: str, domain: str, target: float) -> float:
        """How far ``model``'s true quality falls below ``target`` × the best model's (0 when within)."""
        best = max(self.true_quality(m.name, domain) for m in self.models)
        return max(0.0, target * best - self.true_quality(model, domain))

    def regret(self, model: str, text: str, domain: str, objective: Objective) -> float:
        """What answering with ``model`` lost against the per-query oracle (:func:`oracle_choice`).

        Weighted objective: the oracle's objective value minus the model's. Quality target,
        judged lexicographically (first reach the target, then pay least): 1 for a query
        whose answer misses the target, else the cheapness paid above the oracle's (0..1,
        never more than one miss; 0 exactly when the model is as cheap as the oracle's)."""
        best = oracle_choice(self, text, domain, objective)
        if objective.quality_target is None:
            return self.utility(best, text, domain, objective) - self.utility(model, text, domain, objective)
        if self.shortfall(model, domain, objective.quality_target) > 0:
            return 1.0
        extra = self.cheapness(model, text, domain, objective) - self.cheapness(best, text, domain, objective)
        return max(0.0, extra)

    def degrade(self, model: str, to: float | Mapping[str, float]) -> None:
        """From now on ``model``'s quality is ``to`` (for every domain, or per domain)."""
        for domain in self.quality[model]:
            self.quality[model][domain] = to[domain] if isinstance(to, Mapping) else float(to)


def oracle_choice(env: Environment, text: str, domain: str, objective: Objective) -> str:
    """The model with the best true objective value for this query; under a quality target,
    the rule applied to the true qualities (the cheapest model within the target, ties to
    the better one)."""
    if objective.quality_target is not None:
        within = [m for m in env.models if env.shortfall(m.name, domain, objective.quality_target) == 0.0]
        return min(within, key=lambda m: (env.cheapness(m.name, text, domain, objective),
                                          -env.true_quality(m.name, domain))).name
    return max(env.models, key=lambda m: env.utility(m.name, text, domain, objective)).name


@dataclass
class Report:
    """What a run did, step by step (lists are per query, in order)."""

    chosen: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    utility: list[float] = field(default_factory=list)
    regret: list[float] = field(default_factory=list)
    decision_seconds: list[float] = field(default_factory=list)
    within_target: list[bool] = field(default_factory=list)  # under a quality target: did the pick reach it

    def window(self, start: int = 0, end: int | None = None) -> dict[str, Any]:
        """Means over steps ``start:end``."""
        sl = slice(start, end)
        n = len(self.chosen[sl]) or 1
        share: dict[str, float] = {}
        for name in self.chosen[sl]:
            share[name] = share.get(name, 0.0) + 1 / n
        return {
            "quality": sum(self.quality[sl]) / n,
            "cost": sum(self.cost[sl]) / n,
            "utility": sum(self.utility[sl]) / n,
            "share": share,
            "within_target": sum(self.within_target[sl]) / n if self.within_target else None,
        }

    def share(self, model: str, start: int = 0, end: int | None = None, domain: str | None = None) -> float:
        picks = [c for c, d in zip(self.chosen[start:end], self.domains[start:end]) if domain is None or d == domain]
        return sum(1 for c in picks if c == model) / (len(picks) or 1)

    def add(self, env: Environment, model: str, text: str, domain: str, objective: Objective) -> None:
        self.chosen.append(model)
        self.domains.append(domain)
        self.quality.append(env.true_quality(model, domain))
        self.cost.append(env.cost(model, text, domain))
        self.utility.append(env.utility(model, text, domain, objective))
        self.regret.append(env.regret(model, text, domain, objective))
        if objective.quality_target is not None:
            self.within_target.append(env.shortfall(model, domain, objective.quality_target) == 0.0)


def lexicographic_better(a: Mapping[str, Any], b: Mapping[str, Any], *, tie: float = 0.01) -> bool:
    """Under a quality target, is the :meth:`Report.window` ``a`` better than ``b``? First by
    the share of queries within the target (more is better; shares less than ``tie`` apart
    tie), then by the cost per query (less is better)."""
    if abs(a["within_target"] - b["within_target"]) > tie:
        return bool(a["within_target"] > b["within_target"])
    return bool(a["cost"] < b["cost"])


async def run_router(router: Any, env: Environment, steps: int, *, events: Mapping[int, Any] | None = None,
                     report: Report | None = None, costs: bool = True, usage: float = 0.0) -> Report:
    """Route ``steps`` queries from ``env`` and give feedback drawn from the true quality,
    with the answer's latency and (``costs``) its true cost, as a deployment that reads
    its providers' usage would. Without costs, ``usage`` is the share of answers (every
    ``1/usage``-th) whose length in tokens is reported instead (0: none).

    ``events`` maps a step number to a callable run before it (e.g. a degradation).
    """
    report = report or Report()
    for step in range(steps):
        if events and step in events:
            events[step]()
        text, domain = env.sample()
        started = time.perf_counter()
        decision = await router.route(Query(text=text))
        report.decision_seconds.append(time.perf_counter() - started)
        model = decision.selected_model
        report.add(env, model, text, domain, router.objective)
        tokens = env.output_length(domain, model) if not costs and usage > 0 and (step * usage) % 1 + usage >= 1 \
            else None
        await router.feedback(decision.query_id, quality=env.feedback(model, domain), latency_ms=env.latency(model),
                              cost=env.cost(model, text, domain) if costs else None, output_tokens=tokens)
    return report


def run_static(env: Environment, policy: str, steps: int, objective: Objective | None = None, *,
               strongest: str | None = None, events: Mapping[int, Any] | None = None) -> Report:
    """A static baseline over ``steps`` queries: ``"cheapest"``, ``"strongest"`` or ``"random"``.

    The strongest model is ``strongest`` or the one with the best mean true quality.
    """
    objective = objective or Objective()
    report = Report()
    if policy == "cheapest":
        fixed: str | None = min(env.models, key=lambda m: m.blended_price).name
    elif policy == "strongest":
        fixed = strongest or max(env.models, key=lambda m: sum(env.quality[m.name].values())).name
    elif policy == "random":
        fixed = None
    else:
        raise ValueError(f"policy must be cheapest, strongest or random; got {policy!r}")
    for step in range(steps):
        if events and step in events:
            events[step]()
        text, domain = env.sample()
        model = fixed or env.outcomes.choice(list(env.models)).name
        report.add(env, model, text, domain, objective)
    return report


# A small workload whose models differ by domain: the cheap one is as good as the others on
# easy queries and poor on hard ones; the premium one is good everywhere and costs 50x.
SYNTHETIC_MODELS = (
    ModelSpec("small", "openai", 0.10, 0.40, expected_latency_ms=400, quality_prior=0.6),
    ModelSpec("medium", "openai", 0.80, 3.20, expected_latency_ms=900, quality_prior=0.75),
    ModelSpec("large", "anthropic", 5.00, 20.0, expected_latency_ms=2000, quality_prior=0.9),
)
SYNTHETIC_QUALITY = {
    "small": {"conversation": 0.90, "factual": 0.85, "creative": 0.80, "code": 0.45, "math": 0.35, "reasoning": 0.50},
    "medium": {"conversation": 0.90, "factual": 0.88, "creative": 0.85, "code": 0.75, "math": 0.65, "reasoning": 0.75},
    "large": {"conversation": 0.92, "factual": 0.92, "creative": 0.90, "code": 0.92, "math": 0.90, "reasoning": 0.90},
}


def synthetic_environment(seed: int = 0) -> Environment:
    """The :data:`SYNTHETIC_MODELS` workload (a fresh copy of the qualities: degrade at will)."""
    return Environment(SYNTHETIC_MODELS, {m: dict(q) for m, q in SYNTHETIC_QUALITY.items()}, seed=seed)
