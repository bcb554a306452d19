"""Does the router learn? A simulated workload built from published figures.

Seven models with their list prices and their published accuracy on five benchmarks, one
benchmark per query domain; query texts are generated per domain; an answer is right
with the model's published accuracy (a Bernoulli draw), and that is the feedback. Reports:

* quality and cost per query after warm-up against always-strongest, always-cheapest,
  random and the per-query oracle, for a few objectives;
* the same under a spending limit (``Objective(cost_budget=0.45)``: at most 45% of the priciest
  model's cost, the price of cost learned), against the best fixed price on true figures;
* the same for the quality-target rule (``Objective(quality_target=0.95)``: the cheapest model
  within 95% of the best for each query), its oracle being the rule applied to the true
  qualities, and a sweep of the target;
* cumulative regret against the oracle (and its growth exponent: < 1 is sublinear);
* where learning ends up: the weighted objectives over the last fifth of longer runs
  (``--long-steps``, 20,000 queries) against the best single model chosen in hindsight;
* how many queries it takes for traffic to leave a model whose quality drops mid-run;
* decision latency p50/p99 in-process and with Redis (features cached, embedding excluded).

Run:  python bench/router_eval.py [--steps 4000] [--embedder hash|auto] [--redis redis://...]
      [--markdown docs/benchmarks.md]   (appends a section)

Figures (accuracy %, vendors' own tables; prices USD per million input/output tokens,
list prices mid-2024; Llama prices are Groq's):

* GPT-4o, GPT-4o mini, Claude 3 Haiku, Gemini 1.5 Flash: OpenAI, "GPT-4o mini: advancing
  cost-efficient intelligence" (2024-07-18), evaluation table (MMLU, GPQA, DROP, MATH, HumanEval).
* Claude 3.5 Sonnet: Anthropic, "Claude 3.5 Sonnet" (2024-06-20), evaluation table.
* Llama 3.1 8B / 70B Instruct: Meta, "Introducing Llama 3.1" (2024-07-23), instruction-tuned table.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from conduit_router import BanditConfig, ModelSpec, Objective, Query, Router
from conduit_router.simulation import (
    Environment,
    Report,
    oracle_choice,
    run_router,
    run_static,
)

# name: (provider, $in, $out, latency ms, {benchmark: accuracy %})
PUBLISHED: dict[str, tuple[str, float, float, float, dict[str, float]]] = {
    "claude-3-5-sonnet": ("anthropic", 3.00, 15.00, 2000,
                          {"mmlu": 88.7, "gpqa": 59.4, "drop": 87.1, "math": 71.1, "humaneval": 92.0}),
    "gpt-4o": ("openai", 2.50, 10.00, 1600, {"mmlu": 88.7, "gpqa": 53.6, "drop": 83.4, "math": 76.6, "humaneval": 90.2}),
    "gpt-4o-mini": ("openai", 0.15, 0.60, 900, {"mmlu": 82.0, "gpqa": 40.2, "drop": 79.7, "math": 70.2, "humaneval": 87.2}),
    "llama-3.1-70b": ("groq", 0.59, 0.79, 700, {"mmlu": 86.0, "gpqa": 46.7, "drop": 79.6, "math": 68.0, "humaneval": 80.5}),
    "claude-3-haiku": ("anthropic", 0.25, 1.25, 800, {"mmlu": 73.8, "gpqa": 35.7, "drop": 78.4, "math": 40.9, "humaneval": 75.9}),
    "gemini-1.5-flash": ("google", 0.075, 0.30, 700, {"mmlu": 77.9, "gpqa": 38.6, "drop": 78.4, "math": 40.9, "humaneval": 71.5}),
    "llama-3.1-8b": ("groq", 0.05, 0.08, 400, {"mmlu": 73.0, "gpqa": 30.4, "drop": 59.5, "math": 51.9, "humaneval": 72.6}),
}
# Which benchmark stands for which kind of query.
DOMAIN_BENCHMARK = {"factual": "mmlu", "science": "gpqa", "reasoning": "drop", "math": "math", "code": "humaneval"}

SCIENCE_TEMPLATES = {
    "science": [
        "In quantum mechanics, why does {particle} tunnelling depend exponentially on barrier width?",
        "Which reagent converts {compound} into an aldehyde without over-oxidation, and why?",
        "A {particle} moves at 0.8c; what is its relativistic kinetic energy in terms of its rest mass?",
        "Explain the mechanism by which {enzyme} lowers the activation energy of its reaction.",
        "What is the expected splitting pattern in the 1H NMR spectrum of {compound}?",
    ],
}
SCIENCE_SLOTS = {
    "particle": ["an electron", "a proton", "an alpha particle", "a muon", "a neutron"],
    "compound": ["1-propanol", "benzyl alcohol", "2-butanol", "ethyl acetate", "cyclohexanol"],
    "enzyme": ["carbonic anhydrase", "DNA polymerase", "lysozyme", "trypsin", "RuBisCO"],
}
OUTPUT_TOKENS = {"factual": 150, "science": 450, "reasoning": 300, "math": 400, "code": 350}

OBJECTIVES = {
    "quality (0.95/0.05/0)": Objective(0.95, 0.05, 0.0),
    "cost-aware (0.92/0.08/0)": Objective(0.92, 0.08, 0.0),
    "quality-first (0.9/0.1/0)": Objective(0.9, 0.1, 0.0),
    "balanced (0.7/0.2/0.1)": Objective(0.7, 0.2, 0.1),
}

# A spending limit: at most 45% of the priciest model's cost, the price of cost learned
# (starting from the cost-aware weights); its oracle is the best fixed price on true figures.
BUDGETS = {
    "cost budget 0.45 (price learned from 0.92/0.08)": Objective(0.92, 0.08, 0.0, cost_budget=0.45),
}


# The quality-target rule: per query, the cheapest model whose quality is within t of the best.
TARGETS = {
    "95% of best, cheapest (quality_target 0.95)": Objective.parse("value"),
}
SWEEP = (0.90, 0.93, 0.97)  # further targets, default learner only

LEARNERS = {
    "router": BanditConfig(),
    "router, exploration 0.5": BanditConfig(exploration=0.5),
    # The learner before the change detector and the shared prior: for comparison.
    "previous learner (γ 0.99, ridge 2, no pooling)": BanditConfig(gamma=0.99, ridge=2.0, pooling=False,
                                                                   drift_threshold=0.0),
}

# The longer runs: the default learner, and a stronger prior on each model's own embedding
# weights (less per-query noise once evidence is plentiful; less exploration early on).
LONG_LEARNERS = {
    "router": BanditConfig(),
    "router, embedding_ridge 300": BanditConfig(embedding_ridge=300.0),
}


def models() -> list[ModelSpec]:
    specs = []
    for name, (provider, cin, cout, latency, scores) in PUBLISHED.items():
        prior = statistics.mean(scores.values()) / 100
        specs.append(ModelSpec(name, provider, cin, cout, expected_latency_ms=latency, quality_prior=round(prior, 2)))
    return specs


def environment(seed: int) -> Environment:
    quality = {name: {d: scores[b] / 100 for d, b in DOMAIN_BENCHMARK.items()}
               for name, (_, _, _, _, scores) in PUBLISHED.items()}
    return Environment(models(), quality, seed=seed, output_tokens=OUTPUT_TOKENS,
                       templates=SCIENCE_TEMPLATES, slots=SCIENCE_SLOTS)


def strongest(env: Environment) -> str:
    return max(env.models, key=lambda m: statistics.mean(env.quality[m.name].values())).name


def oracle_report(env: Environment, steps: int, objective: Objective) -> Report:
    report = Report()
    for _ in range(steps):
        text, domain = env.sample()
        report.add(env, oracle_choice(env, text, domain, objective), text, domain, objective)
    return report


async def learn(objective: Objective, steps: int, seed: int, embedder: str,
                config: BanditConfig | None = None) -> tuple[Router, Report]:
    env = environment(seed)
    router = Router(models(), objective=objective, embedder=embedder, seed=seed, config=config)
    if embedder != "hash":  # embed every text of the run in batches first: routing then hits the cache
        replay = environment(seed)
        await router.analyzer.warm([replay.sample()[0] for _ in range(steps)])
    return router, await run_router(router, env, steps)


def priced_values(env: Environment, text: str, domain: str, price: float) -> dict[str, float]:
    """Each model's value for one query when cost is priced at ``price`` per unit of quality
    (true figures): ``quality − price · cost / max_cost``."""
    costs = {m.name: env.cost(m.name, text, domain) for m in env.models}
    max_cost = max(costs.values()) or 1.0
    return {name: env.true_quality(name, domain) - price * cost / max_cost for name, cost in costs.items()}


def priced_choice(env: Environment, text: str, domain: str, price: float) -> str:
    """The best model for one query at ``price`` (see :func:`priced_values`)."""
    values = priced_values(env, text, domain, price)
    return max(values, key=values.get)


def budget_oracle(seed: int, steps: int, warm: int, budget: float, strongest_name: str) -> tuple[float, Report]:
    """The budget's oracle: the fixed price of cost (found by bisection) at which choosing with
    the true qualities and costs spends ``budget`` × the strongest model's cost after warm-up.
    (A fixed price is optimal for an average-cost limit, up to the split of one tie.)"""
    ref = run_static(environment(seed), "strongest", steps, strongest=strongest_name).window(warm)["cost"]

    def run(price: float) -> Report:
        env, report = environment(seed), Report()
        objective = Objective(1.0, max(price, 1e-12), 0.0)
        for _ in range(steps):
            text, domain = env.sample()
            report.add(env, priced_choice(env, text, domain, price), text, domain, objective)
        return report

    low, high = 0.0, 4.0
    for _ in range(40):
        mid = (low + high) / 2
        if run(mid).window(warm)["cost"] > budget * ref:
            low = mid
        else:
            high = mid
    return high, run(high)


def best_fixed_model(seeds: range, steps: int, warm: int, objective: Objective) -> tuple[str, list[dict[str, Any]]]:
    """The single model with the best mean objective after warm-up, chosen in hindsight on the
    true figures (the strongest static rule: always that model), and its windows per seed."""
    means: dict[str, float] = {}
    for seed in seeds:
        env = environment(seed)
        queries = [env.sample() for _ in range(steps)][warm:]
        for m in env.models:
            means[m.name] = means.get(m.name, 0.0) + statistics.mean(env.utility(m.name, t, d, objective) for t, d in queries)
    best = max(means, key=means.get)
    return best, [run_static(environment(seed), "strongest", steps, objective, strongest=best).window(warm)
                  for seed in seeds]


def best_fixed_by_regret(seeds: range, steps: int, warm: int, objective: Objective) -> tuple[str, list[Report]]:
    """Under a quality target: the single model with the least rule regret per query after
    warm-up over ``seeds`` (the rule's regret, not the objective's value, is what a target is
    judged by), and its reports per seed."""
    fixed = {m.name: [run_static(environment(s), "strongest", steps, objective, strongest=m.name) for s in seeds]
             for m in models()}
    best = min(fixed, key=lambda name: statistics.mean(statistics.mean(r.regret[warm:]) for r in fixed[name]))
    return best, fixed[best]


def static_within_budget(seeds: range, steps: int, warm: int, budget: float,
                         strongest_name: str) -> tuple[tuple[str, float, float], tuple[str, float, float]]:
    """The best static rules that keep to the budget, knowing each model's true mean quality and
    cost over the run (but not which query suits which model): the best single model, and the
    best random mix of two models (``a`` for a share ``p`` of the queries, ``b`` otherwise), each
    as (label, quality, cost) averaged over ``seeds``."""
    quality: dict[str, float] = {}
    cost: dict[str, float] = {}
    ref = 0.0
    for seed in seeds:
        env = environment(seed)
        queries = [env.sample() for _ in range(steps)][warm:]
        for m in env.models:
            quality[m.name] = quality.get(m.name, 0.0) + statistics.mean(env.true_quality(m.name, d) for _, d in queries)
            cost[m.name] = cost.get(m.name, 0.0) + statistics.mean(env.cost(m.name, t, d) for t, d in queries)
        ref += statistics.mean(env.cost(strongest_name, t, d) for t, d in queries)
    n = len(seeds)
    quality = {k: v / n for k, v in quality.items()}
    cost = {k: v / n for k, v in cost.items()}
    limit = budget * ref / n
    single = max((m for m in quality if cost[m] <= limit), key=lambda m: quality[m])
    best_single = (f"best static model within the budget ({single})", quality[single], cost[single])
    best_mix = best_single
    for a in quality:
        for b in quality:
            if cost[a] > limit >= cost[b]:
                share = (limit - cost[b]) / (cost[a] - cost[b])
                q = share * quality[a] + (1 - share) * quality[b]
                if q > best_mix[1]:
                    label = f"best static mix within the budget ({a} on {share:.0%} of queries at random, {b} on the rest)"
                    best_mix = (label, q, limit)
    return best_single, best_mix


def priced_regret(report: Report, seed: int, price: float) -> list[float]:
    """Per query, the value (:func:`priced_values`) of the best model at ``price`` minus that
    of the router's pick: regret against the budget's oracle."""
    env = environment(seed)
    out = []
    for chosen in report.chosen:
        text, domain = env.sample()  # the same queries, in the same order, as the run
        values = priced_values(env, text, domain, price)
        out.append(max(values.values()) - values[chosen])
    return out


def regret_exponent(regret: list[float]) -> float:
    """Slope of log cumulative regret against log steps over the second half (1 = linear)."""
    cum = np.cumsum(regret)
    n = len(cum)
    a, b = n // 4, n
    return float(math.log(cum[b - 1] / cum[a - 1]) / math.log(b / a))


async def degradation(objective: Objective, seed: int, embedder: str, warmup: int, after: int,
                      config: BanditConfig | None = None) -> dict[str, Any]:
    env = environment(seed)
    router = Router(models(), objective=objective, embedder=embedder, seed=seed, config=config)
    report = await run_router(router, env, warmup)
    share = report.window(warmup - 500)["share"]
    victim = max(share, key=share.get)
    before = share[victim]
    env.degrade(victim, {d: q * 0.5 for d, q in env.quality[victim].items()})
    report = await run_router(router, env, after, report=report)
    picks = report.chosen[warmup:]
    window = 50
    left = None
    for i in range(len(picks) - window + 1):
        if sum(1 for c in picks[i:i + window] if c == victim) / window <= before / 4:
            left = i + window
            break
    return {"model": victim, "share_before": before, "queries_to_quarter_share": left,
            "share_after": report.share(victim, warmup + after - 500)}


async def latency(store_url: str | None, embedder: str, n: int = 5000,
                  objective: Objective | None = None) -> dict[str, float]:
    store = None
    if store_url:
        from conduit.storage import RedisStateStore
        from conduit.storage.testing import unique_prefix

        store = RedisStateStore.from_url(store_url, prefix=unique_prefix("router-bench"))
    router = Router(models(), state=store, embedder=embedder, seed=1, objective=objective)
    env = environment(1)
    texts = [env.sample()[0] for _ in range(500)]
    await router.analyzer.warm(texts)  # features cached: the embedding is not part of a decision
    for text in texts[:200]:
        d = await router.route(Query(text=text))
        await router.feedback(d.query_id, quality=1.0)
    samples, cpu = [], []
    for i in range(n):
        query = Query(text=texts[i % len(texts)])
        started, started_cpu = time.perf_counter(), time.thread_time()
        d = await router.route(query)
        cpu.append(time.thread_time() - started_cpu)
        samples.append(time.perf_counter() - started)
        if i % 4 == 0:
            await router.feedback(d.query_id, quality=1.0)
    if store is not None:
        await store.clear()
        await store.close()
    ms, cpu_ms = np.array(samples) * 1000, np.array(cpu) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "cpu_p50": float(np.percentile(cpu_ms, 50)), "cpu_p99": float(np.percentile(cpu_ms, 99))}


async def long_rows(seeds: range, steps: int, embedder: str, top: str, objective: Objective,
                    configs: dict[str, BanditConfig]) -> dict[str, Any]:
    """Per seed, over the last fifth of a ``steps``-query run: each learner's objective,
    always-strongest's, the best single model's in hindsight (and its name), the oracle's."""
    warm = steps - steps // 5
    learners = {name: [(await learn(objective, steps, s, embedder, config))[1].window(warm)["utility"] for s in seeds]
                for name, config in configs.items()}
    strong = [run_static(environment(s), "strongest", steps, objective, strongest=top).window(warm)["utility"]
              for s in seeds]
    best, rows = best_fixed_model(seeds, steps, warm, objective)
    oracle = [oracle_report(environment(s), steps, objective).window(warm)["utility"] for s in seeds]
    return {"learners": learners, "strongest": strong, "best": [r["utility"] for r in rows], "best_name": best,
            "oracle": oracle}


async def long_table(out: Any, seeds: range, steps: int, embedder: str, top: str) -> None:
    """Where learning ends up: the weighted objectives over a longer run."""
    out(f"Where it ends up: the objective over the last {steps // 5} of {steps} queries, mean over the "
        "seeds, against always-strongest, the best single model chosen in hindsight on the true figures "
        "of those queries, and the per-query oracle; \"beats\": seeds on which the learner's objective is "
        "above the best single model's.")
    out("")
    out("| objective | " + " | ".join(f"{name} | beats" for name in LONG_LEARNERS) +
        " | always-strongest | best single model in hindsight | per-query oracle |")
    out("|---|" + "---|---|" * len(LONG_LEARNERS) + "---|---|---|")
    for label, objective in OBJECTIVES.items():
        r = await long_rows(seeds, steps, embedder, top, objective, LONG_LEARNERS)
        cells = []
        for mine in r["learners"].values():
            wins = sum(m > b for m, b in zip(mine, r["best"]))
            cells.append(f"{statistics.mean(mine):.4f} | {wins} of {len(mine)}")
        out(f"| {label} | " + " | ".join(cells) + f" | {statistics.mean(r['strongest']):.4f} | "
            f"{statistics.mean(r['best']):.4f} ({r['best_name']}) | {statistics.mean(r['oracle']):.4f} |")
    out("")


async def main(args: argparse.Namespace) -> str:
    lines: list[str] = []
    out = lines.append
    steps, warm = args.steps, args.steps // 4
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    env0 = environment(0)
    top = strongest(env0)
    out(f"Workload: {len(PUBLISHED)} models, {len(DOMAIN_BENCHMARK)} domains "
        f"({', '.join(f'{d}={b.upper()}' for d, b in DOMAIN_BENCHMARK.items())}); {steps} queries per run, "
        f"{args.seeds} seeds (from {args.first_seed}), warm-up {warm} queries; embedder {args.embedder}; strongest model: {top}.")
    out("")
    out("| policy | quality | % of strongest | cost / query | % of strongest's cost | objective |")
    out("|---|---|---|---|---|---|")
    results: dict[tuple[str, str], Any] = {}
    target_reports: dict[tuple[str, str], list[Report]] = {}
    for label, objective in {**OBJECTIVES, **BUDGETS, **TARGETS}.items():
        for learner, config in LEARNERS.items():
            rows = []
            regrets = []
            reports: list[Report] = []
            for seed in seeds:
                _, report = await learn(objective, steps, seed, args.embedder, config)
                rows.append(report.window(warm))
                regrets.append(report.regret)
                reports.append(report)
            results[label, learner] = (rows, regrets)
            target_reports[label, learner] = reports
    reference = [run_static(environment(s), "strongest", steps, strongest=top).window(warm) for s in seeds]
    ref_q = statistics.mean(r["quality"] for r in reference)
    ref_c = statistics.mean(r["cost"] for r in reference)

    def row(name: str, rows: list[dict[str, Any]], objective: Objective) -> None:
        q = statistics.mean(r["quality"] for r in rows)
        c = statistics.mean(r["cost"] for r in rows)
        util = statistics.mean(r["utility"] for r in rows)
        out(f"| {name} | {q:.3f} | {q / ref_q:.1%} | ${c:.6f} | {c / ref_c:.1%} | {util:.3f} |")

    for label, objective in OBJECTIVES.items():
        for learner in LEARNERS:
            row(f"{learner}, {label}", results[label, learner][0], objective)
        for policy in ("strongest", "cheapest", "random"):
            rows = [run_static(environment(s), policy, steps, objective, strongest=top).window(warm)
                    for s in seeds]
            row(f"always-{policy}" if policy != "random" else "random", rows, objective)
        best, rows = best_fixed_model(seeds, steps, warm, objective)
        row(f"best single model in hindsight (always {best})", rows, objective)
        row("per-query oracle", [oracle_report(environment(s), steps, objective).window(warm)
                                 for s in seeds], objective)
    budget_prices: dict[tuple[str, int], float] = {}
    for label, objective in BUDGETS.items():
        assert objective.cost_budget is not None
        for learner in LEARNERS:
            rows = results[label, learner][0]
            q = statistics.mean(r["quality"] for r in rows)
            c = statistics.mean(r["cost"] for r in rows)
            out(f"| {learner}, {label} | {q:.3f} | {q / ref_q:.1%} | ${c:.6f} | {c / ref_c:.1%} | – |")
        oracle_rows = []
        for s in seeds:
            price, report = budget_oracle(s, steps, warm, objective.cost_budget, top)
            budget_prices[label, s] = price
            oracle_rows.append(report.window(warm))
        q = statistics.mean(r["quality"] for r in oracle_rows)
        c = statistics.mean(r["cost"] for r in oracle_rows)
        prices = ", ".join(f"{budget_prices[label, s]:.3f}" for s in seeds)
        out(f"| budget oracle (best fixed price of cost on true figures: {prices}) | {q:.3f} | {q / ref_q:.1%} | "
            f"${c:.6f} | {c / ref_c:.1%} | – |")
        for name, q, c in static_within_budget(seeds, steps, warm, objective.cost_budget, top):
            out(f"| {name} | {q:.3f} | {q / ref_q:.1%} | ${c:.6f} | {c / ref_c:.1%} | – |")
    out("")
    out("Objective = w_q·quality − w_c·cost/max_cost − w_l·latency/max_latency per query (true qualities), "
        "mean after warm-up; each block uses its own objective. Under a cost budget the router learns the "
        "cost weight (the price of cost) that keeps its spending at the budget; its oracle spends "
        "at most the budget after warm-up (as close as a fixed price gets) with the best fixed price and true figures.")
    out("")
    out("Quality target (the cheapest model whose quality is at least t × the best model's for the query; "
        "the oracle applies that rule to the true qualities; \"within target\": share of queries whose pick "
        "reaches t × the best true quality; regret: the quality short of the target plus the cost above the "
        "oracle's, as a share of the priciest model's, per query):")
    out("")
    out("| policy | quality | % of strongest | cost / query | % of strongest's cost | within target | regret / query |")
    out("|---|---|---|---|---|---|---|")

    def target_row(name: str, reports: list[Report]) -> None:
        rows = [r.window(warm) for r in reports]
        q = statistics.mean(r["quality"] for r in rows)
        c = statistics.mean(r["cost"] for r in rows)
        within = statistics.mean(r["within_target"] for r in rows)
        regret = statistics.mean(statistics.mean(r.regret[warm:]) for r in reports)
        out(f"| {name} | {q:.3f} | {q / ref_q:.1%} | ${c:.6f} | {c / ref_c:.1%} | {within:.1%} | {regret:.4f} |")

    for label, objective in TARGETS.items():
        for learner in LEARNERS:
            target_row(f"{learner}, {label}", target_reports[label, learner])
        for policy in ("strongest", "cheapest", "random"):
            target_row(f"always-{policy}" if policy != "random" else "random",
                       [run_static(environment(s), policy, steps, objective, strongest=top) for s in seeds])
        best, reports = best_fixed_by_regret(seeds, steps, warm, objective)
        target_row(f"best single model in hindsight by the rule's regret (always {best})", reports)
        target_row("per-query oracle (the rule on true qualities)",
                   [oracle_report(environment(s), steps, objective) for s in seeds])
    out("")
    out("The target swept (default learner; objective cost alone decides among the models within the target):")
    out("")
    out("| quality_target | router quality | router cost | router within target | oracle quality | oracle cost |")
    out("|---|---|---|---|---|---|")
    for t in sorted((*SWEEP, 0.95)):
        objective = Objective(0.0, 1.0, 0.0, quality_target=t)
        if t == 0.95:
            mine = [r.window(warm) for r in target_reports[next(iter(TARGETS)), "router"]]
        else:
            mine = [(await learn(objective, steps, s, args.embedder))[1].window(warm) for s in seeds]
        oracle = [oracle_report(environment(s), steps, objective).window(warm) for s in seeds]

        def pct(rows: list[dict[str, Any]], key: str, ref: float) -> str:
            return f"{statistics.mean(r[key] for r in rows) / ref:.1%}"
        out(f"| {t:.2f} | {pct(mine, 'quality', ref_q)} | {pct(mine, 'cost', ref_c)} | "
            f"{statistics.mean(r['within_target'] for r in mine):.1%} | {pct(oracle, 'quality', ref_q)} | "
            f"{pct(oracle, 'cost', ref_c)} |")
    out("")
    out("Cumulative regret against the per-query oracle (objective units, mean over seeds; for the quality "
        "target, the rule's regret defined above; for a cost budget, quality − price·cost/max_cost at the "
        "budget oracle's price against that oracle's pick):")
    out("")
    out("| learner, objective | " + " | ".join(f"after {n}" for n in (steps // 8, steps // 4, steps // 2, steps)) +
        " | growth exponent (1 = linear) |")
    out("|---|" + "---|" * 5)
    for (label, learner), (_, regrets) in results.items():
        if label in BUDGETS:  # against the budget's oracle, at its price
            regrets = [priced_regret(report, s, budget_prices[label, s])
                       for report, s in zip(target_reports[label, learner],
                                            seeds)]
        cums = [np.cumsum(r) for r in regrets]
        points = [statistics.mean(float(c[n - 1]) for c in cums) for n in (steps // 8, steps // 4, steps // 2, steps)]
        exponent = statistics.mean(regret_exponent(r) for r in regrets)
        out(f"| {learner}, {label} | " + " | ".join(f"{p:.1f}" for p in points) + f" | {exponent:.2f} |")
    out("")
    if args.long_steps:
        await long_table(out, seeds, args.long_steps, args.embedder, top)
    out("Degradation (default learner): after warm-up the model with the most traffic loses half its accuracy "
        "on every domain.")
    out("")
    out("| objective | seed | degraded model | share before | queries until share ≤ ¼ of before (window 50) | share over last 500 |")
    out("|---|---|---|---|---|---|")
    for label, objective in {**OBJECTIVES, **BUDGETS, **TARGETS}.items():
        for seed in seeds:
            d = await degradation(objective, seed, args.embedder, warmup=max(1000, warm), after=1500)
            out(f"| {label} | {seed} | {d['model']} | {d['share_before']:.0%} | "
                f"{d['queries_to_quarter_share'] if d['queries_to_quarter_share'] is not None else '> 1500'} | "
                f"{d['share_after']:.1%} |")
    out("")
    out("Decision latency (route(), features cached, embedding excluded, 5000 decisions, feedback on every 4th; "
        f"three runs each, 1-minute load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start):")
    out("")
    out("| state, objective | wall p50 (3 runs) | wall p99 (3 runs) | CPU p50 | CPU p99 |")
    out("|---|---|---|---|---|")
    stores = [("in-process (memory)", None)] + ([(f"Redis ({args.redis.split('@')[-1]})", args.redis)] if args.redis else [])
    for (name, url), (objective_name, objective) in [(store, o) for store in stores for o in
                                                     (("balanced", None), ("quality_target 0.95", TARGETS[next(iter(TARGETS))]),
                                                      ("cost budget 0.45", BUDGETS[next(iter(BUDGETS))]))]:
        name = f"{name}, {objective_name}"
        runs = [await latency(url, args.embedder, objective=objective) for _ in range(3)]
        p50 = " / ".join(f"{r['p50']:.3f}" for r in runs)
        p99 = " / ".join(f"{r['p99']:.3f}" for r in runs)
        cpu50 = statistics.median(r["cpu_p50"] for r in runs)
        cpu99 = statistics.median(r["cpu_p99"] for r in runs)
        out(f"| {name} | {p50} ms | {p99} ms | {cpu50:.3f} ms | {cpu99:.3f} ms |")
    out("")
    out("Wall-clock time includes the scheduler: on a shared machine (load above the core count) a decision is "
        "sometimes preempted for a few ms, which sets the wall p99; CPU time is this thread's own work "
        "(with Redis, the round trip is waiting, not CPU).")
    out("")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1 "
                        "(another range checks that the figures do not hang on the chosen seeds)")
    parser.add_argument("--long-steps", type=int, default=20000, help="queries of the longer runs that show where "
                        "learning ends up (0: skip them)")
    parser.add_argument("--long-only", action="store_true", help="only the longer runs' table")
    parser.add_argument("--embedder", default="hash", help="hash (fast) or auto (MiniLM from conduit-onnx)")
    parser.add_argument("--redis", default=None, help="redis:// URL for the shared-state latency run")
    parser.add_argument("--markdown", default=None, help="append the results as a section of this file")
    args = parser.parse_args()
    started = time.time()
    if args.long_only:
        lines: list[str] = []
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        asyncio.run(long_table(lines.append, seeds, args.long_steps, args.embedder, strongest(environment(0))))
        print("\n".join(lines))
        sys.exit(0)
    text = asyncio.run(main(args))
    print(text)
    if args.markdown:
        header = (f"\n## LLM router: learning on a published-figures workload\n\n"
                  f"`python bench/router_eval.py --steps {args.steps} --seeds {args.seeds} --first-seed {args.first_seed} --embedder {args.embedder}"
                  f" --long-steps {args.long_steps}"
                  + (f" --redis {args.redis}" if args.redis else "") + f"` on {platform.machine()} "
                  f"({platform.python_implementation()} {platform.python_version()}), "
                  f"{time.time() - started:.0f} s. Sources of the figures: see the docstring of bench/router_eval.py.\n\n")
        with Path(args.markdown).open("a", encoding="utf-8") as fh:
            fh.write(header + text + "\n")
    sys.exit(0)
