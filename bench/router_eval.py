"""Does the router learn? Simulated workloads, one built from published figures.

Two workloads (``--workload published`` and/or ``mixed``): seven models with their list
prices and their published accuracy on five benchmarks, one benchmark per query domain; and
the "mixed" workload of bench/router_workloads.py (six models, six domains of different
strengths, answer lengths by model, a drift event). Query texts are generated per domain;
an answer is right with the model's true quality (a Bernoulli draw), and that is the
feedback. For each workload, over ``--seeds`` seeds (means with the lowest and highest seed):

* a spending limit (``Objective(quality=0.92, cost=0.08, cost_budget=b)``) with cost
  feedback, with only the usage (token counts) of one answer in four, and with neither,
  against the budget oracle (the best fixed price of cost on true figures), the best single
  model within the budget, the best two-model mix at the budget's spend (both chosen in
  hindsight per seed), and an idealised learner told each query's true domain; the share of
  the way from that mix to the oracle, and the quality early in the run against late;
* the quality target (``"value"``), judged lexicographically (first the share of queries
  within the target, then the cost), against every single model, the best two-model mix
  at the router's spend and the rule's oracle;
* a weighted objective (0.92/0.08) against the best single model, the best mix at the same
  spend and the per-query oracle;
* decision latency p50/p99 in-process and with Redis (features cached, embedding excluded).

``--graded SD`` makes each answer's feedback a score instead (its model's true quality plus
Gaussian noise of spread SD, within [0, 1]: what a judge model's grade gives).

``--detail`` gives the earlier, longer report on the published workload (learner variants,
the target sweep, cumulative regret, degradation, ``--long-steps`` runs).

Run:  python bench/router_eval.py [--steps 4000] [--seeds 6] [--embedder hash|auto] [--redis redis://...]
      [--workload published|mixed] [--markdown docs/benchmarks.md]   (appends a section)

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
import re
import statistics
import sys
import time
from collections.abc import Callable
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import router_scores as scores
from router_workloads import Workload, mixed_workload

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
    for name, (provider, cin, cout, latency, accuracy) in PUBLISHED.items():
        prior = statistics.mean(accuracy.values()) / 100
        specs.append(ModelSpec(name, provider, cin, cout, expected_latency_ms=latency, quality_prior=round(prior, 2)))
    return specs


def environment(seed: int) -> Environment:
    quality = {name: {d: accuracy[b] / 100 for d, b in DOMAIN_BENCHMARK.items()}
               for name, (_, _, _, _, accuracy) in PUBLISHED.items()}
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
                  objective: Objective | None = None, pause: float = 0.0) -> dict[str, float]:
    """Decision latency over ``n`` decisions (``pause`` seconds idle after each: a worker
    that is not saturated); feedback, with the answer's usage, on every 4th."""
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
        await router.feedback(d.query_id, quality=1.0, output_tokens=300)
    samples, cpu, feedback = [], [], []
    for i in range(n):
        query = Query(text=texts[i % len(texts)])
        started, started_cpu = time.perf_counter(), time.thread_time()
        d = await router.route(query)
        cpu.append(time.thread_time() - started_cpu)
        samples.append(time.perf_counter() - started)
        if i % 4 == 0:
            started = time.perf_counter()
            await router.feedback(d.query_id, quality=1.0, output_tokens=200 + i % 300)
            feedback.append(time.perf_counter() - started)
        if pause:
            await asyncio.sleep(pause)
    if store is not None:
        await store.clear()
        await store.close()
    ms, cpu_ms, feedback_ms = np.array(samples) * 1000, np.array(cpu) * 1000, np.array(feedback) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "cpu_p50": float(np.percentile(cpu_ms, 50)), "cpu_p99": float(np.percentile(cpu_ms, 99)),
            "feedback_p99": float(np.percentile(feedback_ms, 99))}


async def latency_table(out: Any, args: argparse.Namespace, objectives: dict[str, Objective | None]) -> None:
    """The decision-latency table: each store × objective back to back, then each store with
    a spending limit at one decision every 50 ms (a worker that is not saturated)."""
    out("Decision latency (route(), features cached, embedding excluded, 5000 decisions back to back, "
        "feedback with usage on every 4th; "
        f"three runs each, 1-minute load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start):")
    out("")
    out("| state, objective | wall p50 (3 runs) | wall p99 (3 runs) | CPU p50 | CPU p99 | feedback wall p99 |")
    out("|---|---|---|---|---|---|")
    stores = [("in-process (memory)", None)] + ([(f"Redis ({args.redis.split('@')[-1]})", args.redis)]
                                                if args.redis else [])
    budget = Objective(*BUDGET_WEIGHTS, 0.0, cost_budget=0.45)
    rows = [(f"{store}, {label}", url, objective, {}) for store, url in stores for label, objective in objectives.items()]
    rows += [(f"{store}, cost budget 0.45, one decision every 50 ms (600)", url, budget, {"n": 600, "pause": 0.05})
             for store, url in stores]
    for name, url, objective, pacing in rows:
        runs = [await latency(url, args.embedder, objective=objective, **pacing) for _ in range(3)]
        out(f"| {name} | " + " / ".join(f"{r['p50']:.3f}" for r in runs) + " ms | "
            + " / ".join(f"{r['p99']:.3f}" for r in runs) + " ms | "
            + " | ".join(f"{statistics.median(r[key] for r in runs):.3f} ms" for key in ("cpu_p50", "cpu_p99", "feedback_p99"))
            + " |")
    out("")


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
    out("| objective | seed | degraded model | share before | queries until share ≤ ¼ of before (window 50) "
        "| share over last 500 |")
    out("|---|---|---|---|---|---|")
    for label, objective in {**OBJECTIVES, **BUDGETS, **TARGETS}.items():
        for seed in seeds:
            d = await degradation(objective, seed, args.embedder, warmup=max(1000, warm), after=1500)
            out(f"| {label} | {seed} | {d['model']} | {d['share_before']:.0%} | "
                f"{d['queries_to_quarter_share'] if d['queries_to_quarter_share'] is not None else '> 1500'} | "
                f"{d['share_after']:.1%} |")
    out("")
    await latency_table(out, args, {"balanced": None, "quality_target 0.95": TARGETS[next(iter(TARGETS))],
                                     "cost budget 0.45": BUDGETS[next(iter(BUDGETS))]})
    out("Wall-clock time includes the scheduler: on a shared machine (load above the core count) a decision is "
        "sometimes preempted for a few ms, which sets the wall p99; CPU time is this thread's own work "
        "(with Redis, the round trip is waiting, not CPU).")
    out("")
    return "\n".join(lines)


def published_workload(steps: int) -> Workload:
    """The published-figures workload (no drift event) as a :class:`Workload`."""
    return Workload("published", "published figures: seven models, five benchmarks", models, environment,
                    budget=0.45, strongest=strongest(environment(0)))


WORKLOADS = {"published": published_workload, "mixed": mixed_workload}
BUDGET_WEIGHTS = (0.92, 0.08)  # the weights a budget's price of cost starts from
WEIGHTED = Objective(0.92, 0.08, 0.0)
USAGE_SHARE = 0.25  # without cost feedback: the share of answers whose token counts are reported


async def learn_on(w: Workload, objective: Objective, steps: int, seed: int, embedder: str,
                   config: BanditConfig | None = None, *, costs: bool = True, usage: float = 0.0,
                   before: Callable[[Router], object] | None = None) -> Router:
    """One learning run on workload ``w`` (its drift event included); returns the router with
    its report as ``router.report``. ``before`` is called with the router before the run."""
    env = w.environment(seed)
    router = Router(w.models(), objective=objective, embedder=embedder, seed=seed, config=config)
    if before is not None:
        before(router)
    if embedder != "hash":  # embed every text of the run in batches first: routing then hits the cache
        replay = w.environment(seed)
        await router.analyzer.warm([replay.sample()[0] for _ in range(steps)])
    report = await run_router(router, env, steps, events=w.events(env, steps), costs=costs, usage=usage)
    router.report = report  # type: ignore[attr-defined]
    return router


RUNS = {  # label: (objective kind, costs reported, usage share)
    "router, cost feedback": ("budget", True, 0.0),
    f"router, no cost feedback, usage of 1 answer in {round(1 / USAGE_SHARE)}": ("budget", False, USAGE_SHARE),
    "router, neither cost nor usage reported": ("budget", False, 0.0),
    "value": ("value", True, 0.0),
    "weighted": ("weighted", True, 0.0),
}


async def seed_figures(w: Workload, seed: int, steps: int, embedder: str, config: BanditConfig | None) -> dict[str, Any]:
    """Everything one seed of workload ``w`` contributes to the tables."""
    warm = steps // 4
    budget = Objective(*BUDGET_WEIGHTS, 0.0, cost_budget=w.budget)
    value = Objective.parse("value")
    target = value.quality_target or 0.95
    objectives = {"budget": budget, "value": value, "weighted": WEIGHTED}
    env = w.environment(seed)
    t = scores.trace(env, steps, w.events(env, steps))
    out: dict[str, Any] = {"runs": {}}
    for label, (kind, costs, usage) in RUNS.items():
        router = await learn_on(w, objectives[kind], steps, seed, embedder, config, costs=costs, usage=usage)
        report: Report = router.report  # type: ignore[attr-defined]
        obj = WEIGHTED if kind == "budget" else objectives[kind]
        out["runs"][label] = {
            "after": scores.chosen_window(t, report.chosen, warm, steps, obj, target),
            "early": scores.chosen_window(t, report.chosen, warm, 2 * warm, obj, target),
            "late": scores.chosen_window(t, report.chosen, steps - warm, steps, obj, target),
        }
    singles = scores.per_model(t, warm, steps, WEIGHTED, target)
    out["singles"] = singles
    out["reference"] = singles[w.strongest]
    price, choices = scores.budget_oracle(t, warm, steps, w.budget, w.strongest, WEIGHTED)
    out["budget_price"] = price
    out["budget_oracle"] = {"after": scores.chosen_window(t, choices, warm, steps, WEIGHTED, target),
                            "early": scores.chosen_window(t, choices, warm, 2 * warm, WEIGHTED, target),
                            "late": scores.chosen_window(t, choices, steps - warm, steps, WEIGHTED, target)}
    prior = [m.quality_prior or 0.6 for m in env.models]
    ideal = scores.ideal_learner(t, budget, seed, prior)
    out["budget_ideal"] = {"after": scores.chosen_window(t, ideal, warm, steps, WEIGHTED, target)}
    out["target_oracle"] = scores.chosen_window(t, scores.target_oracle(t, target), warm, steps, WEIGHTED, target)
    utility = scores._utility(t, WEIGHTED)
    out["weighted_oracle"] = scores.chosen_window(t, np.argmax(utility, axis=1), warm, steps, WEIGHTED, target)
    return out


def _pct(values: list[float]) -> str:
    return scores.spread(values)


def _labels(labels: list[str]) -> str:
    """The static rules chosen per seed, named briefly when they differ only in their shares."""
    distinct = sorted(set(labels))
    if len(distinct) <= 2:
        return "; ".join(distinct)
    pairs = sorted({re.sub(r" on \d+% of queries, ", " + ", label).replace(" on the rest", "") for label in distinct})
    return "; ".join(pairs) + ", shares by seed"


async def workload_section(out: Any, w: Workload, seeds: range, steps: int, embedder: str,
                           config: BanditConfig | None) -> None:
    """The tables for one workload: a spending limit, the quality target, a weighted objective."""
    warm = steps // 4
    figures = [await seed_figures(w, s, steps, embedder, config) for s in seeds]
    env = w.environment(0)
    event = (f"; drift event at query {w.drift_step}" if w.drift_step is not None and w.drift_step < steps else "")
    out(f"### Workload \"{w.name}\": {w.title}")
    out("")
    out(f"{len(env.models)} models; {steps} queries per run, seeds {seeds.start}–{seeds.stop - 1}, measured after "
        f"{warm} queries{event}; embedder {embedder}; figures are means over the seeds with the lowest and highest "
        f"seed in brackets; \"% of strongest\": of always-{w.strongest}'s quality and cost over the same queries.")
    out("")

    def rel(f: dict[str, Any], win: scores.Window, key: str) -> float:
        return getattr(win, key) / getattr(f["reference"], key)

    # --- spending limit
    out(f"Spending limit `Objective(quality=0.92, cost=0.08, cost_budget={w.budget})` (quality against a learned "
        f"price of cost, spending at most {w.budget:.0%} of always-{w.strongest}'s cost):")
    out("")
    out("| policy | quality, % of strongest | cost, % of strongest's | share of the way from the best static mix "
        "to the oracle | quality % of oracle's, queries " f"{warm}–{2 * warm} | the same, last {warm} |")
    out("|---|---|---|---|---|---|")
    mixes = [scores.best_mix(f["singles"], w.budget * f["reference"].cost, lambda x: x.quality) for f in figures]
    singles_in = [scores.best_single({n: v for n, v in f["singles"].items()
                                      if v.cost <= w.budget * f["reference"].cost} or f["singles"],
                                     lambda x: x.quality) for f in figures]
    for label in [k for k, v in RUNS.items() if v[0] == "budget"]:
        wins = [f["runs"][label] for f in figures]
        gaps = [(r["after"].quality - m[1].quality) / max(1e-9, f["budget_oracle"]["after"].quality - m[1].quality)
                for r, m, f in zip(wins, mixes, figures)]
        early = [r["early"].quality / f["budget_oracle"]["early"].quality for r, f in zip(wins, figures)]
        late = [r["late"].quality / f["budget_oracle"]["late"].quality for r, f in zip(wins, figures)]
        out(f"| {label} | {_pct([rel(f, r['after'], 'quality') for f, r in zip(figures, wins)])} | "
            f"{_pct([rel(f, r['after'], 'cost') for f, r in zip(figures, wins)])} | {_pct(gaps)} | {_pct(early)} | "
            f"{_pct(late)} |")
    ideal = [f["budget_ideal"]["after"] for f in figures]
    gaps = [(i.quality - m[1].quality) / max(1e-9, f["budget_oracle"]["after"].quality - m[1].quality)
            for i, m, f in zip(ideal, mixes, figures)]
    out(f"| reference: an idealised learner told each query's true domain (Beta posterior per model and domain, "
        f"the same pacer) | {_pct([rel(f, i, 'quality') for f, i in zip(figures, ideal)])} | "
        f"{_pct([rel(f, i, 'cost') for f, i in zip(figures, ideal)])} | {_pct(gaps)} | | |")
    prices = ", ".join(f"{f['budget_price']:.3f}" for f in figures)
    oracle = [f["budget_oracle"]["after"] for f in figures]
    out(f"| budget oracle (best fixed price of cost on true figures: {prices}) | "
        f"{_pct([rel(f, o, 'quality') for f, o in zip(figures, oracle)])} | "
        f"{_pct([rel(f, o, 'cost') for f, o in zip(figures, oracle)])} | 100% | | |")
    out(f"| best two-model mix at the budget's spend, in hindsight per seed ({_labels([m[0] for m in mixes])}) | "
        f"{_pct([rel(f, m[1], 'quality') for f, m in zip(figures, mixes)])} | "
        f"{_pct([rel(f, m[1], 'cost') for f, m in zip(figures, mixes)])} | 0% | | |")
    out(f"| best single model within the budget ({', '.join(sorted({s[0] for s in singles_in}))}) | "
        f"{_pct([rel(f, s[1], 'quality') for f, s in zip(figures, singles_in)])} | "
        f"{_pct([rel(f, s[1], 'cost') for f, s in zip(figures, singles_in)])} | | | |")
    out("")

    # --- quality target
    value_runs = [f["runs"]["value"]["after"] for f in figures]
    best_singles = [scores.best_lexicographic(f["singles"]) for f in figures]
    target_mixes = [scores.best_mix(f["singles"], r.cost, lambda x: x.within) for f, r in zip(figures, value_runs)]
    out("Quality target `\"value\"` (`quality_target=0.95`: per query the cheapest model within 95% of the best), "
        "judged lexicographically: first the share of queries whose answer is within the target, then the cost "
        "(shares less than a point apart tie). \"Beats\": seeds on which the router's score is above the rule's.")
    out("")
    out("| policy | within the target | quality, % of strongest | cost, % of strongest's | router beats it |")
    out("|---|---|---|---|---|")

    def target_row(label: str, rows: list[scores.Window], beats: bool = True) -> None:
        won = sum(scores.lexicographic_better(r, x) for r, x in zip(value_runs, rows))
        out(f"| {label} | {_pct([x.within for x in rows])} | {_pct([rel(f, x, 'quality') for f, x in zip(figures, rows)])} | "
            f"{_pct([rel(f, x, 'cost') for f, x in zip(figures, rows)])} | "
            + (f"{won} of {len(rows)} seeds |" if beats else "|"))

    target_row("router, value", value_runs, beats=False)
    target_row(f"best single model by the score, in hindsight per seed ({', '.join(sorted({b[0] for b in best_singles}))})",
               [b[1] for b in best_singles])
    mix_names = _labels([m[0] for m in target_mixes])
    target_row(f"best two-model mix at the router's spend, by the share within ({mix_names})",
               [m[1] for m in target_mixes])
    for name in figures[0]["singles"]:
        target_row(f"always {name}", [f["singles"][name] for f in figures])
    target_row("the rule on true figures (oracle)", [f["target_oracle"] for f in figures])
    out("")

    # --- a weighted objective
    weighted_runs = [f["runs"]["weighted"]["after"] for f in figures]
    w_single = [scores.best_single(f["singles"], lambda x: x.utility) for f in figures]
    w_mix = [scores.best_mix(f["singles"], r.cost, lambda x: x.utility) for f, r in zip(figures, weighted_runs)]
    out("Weighted objective 0.92/0.08 (objective = 0.92·quality − 0.08·cost/max_cost per query, true figures):")
    out("")
    out("| policy | objective | quality, % of strongest | cost, % of strongest's |")
    out("|---|---|---|---|")
    for label, rows in [("router, 0.92/0.08", weighted_runs),
                        (f"best single model in hindsight ({', '.join(sorted({b[0] for b in w_single}))})",
                         [b[1] for b in w_single]),
                        (f"best two-model mix at the router's spend ({_labels([m[0] for m in w_mix])})",
                         [m[1] for m in w_mix]),
                        ("per-query oracle", [f["weighted_oracle"] for f in figures])]:
        out(f"| {label} | {scores.spread([x.utility for x in rows], '{:.4f}')} | "
            f"{_pct([rel(f, x, 'quality') for f, x in zip(figures, rows)])} | "
            f"{_pct([rel(f, x, 'cost') for f, x in zip(figures, rows)])} |")
    out("")


async def compare(args: argparse.Namespace) -> str:
    """The report: each workload's tables, then decision latency."""
    lines: list[str] = []
    out = lines.append
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    config = None
    for name in [] if args.latency_only else args.workload:
        await workload_section(out, WORKLOADS[name](args.steps).graded(args.graded), seeds, args.steps, args.embedder,
                               config)
    if args.latency:
        await latency_table(out, args, {"balanced": None, "value": Objective.parse("value"),
                                        "cost budget 0.45": Objective(*BUDGET_WEIGHTS, 0.0, cost_budget=0.45)})
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1 "
                        "(another range checks that the figures do not hang on the chosen seeds)")
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS), default=None,
                        help="published and/or mixed (default: both)")
    parser.add_argument("--no-latency", dest="latency", action="store_false", help="skip the decision-latency table")
    parser.add_argument("--detail", action="store_true", help="the earlier, longer report on the published workload "
                        "(learner variants, target sweep, regret, degradation; --seeds 3 there)")
    parser.add_argument("--long-steps", type=int, default=20000, help="--detail: queries of the longer runs that show "
                        "where learning ends up (0: skip them)")
    parser.add_argument("--long-only", action="store_true", help="only the longer runs' table")
    parser.add_argument("--latency-only", action="store_true", help="only the decision-latency table (in a process "
                        "of its own: the learning tables' figures replay exactly, the latency figures do not)")
    parser.add_argument("--embedder", default="hash", help="hash (fast) or auto (MiniLM from conduit-onnx)")
    parser.add_argument("--redis", default=None, help="redis:// URL for the shared-state latency run")
    parser.add_argument("--markdown", default=None, help="append the results as a section of this file")
    parser.add_argument("--graded", type=float, default=None, metavar="SD", help="feedback as a score (the true "
                        "quality plus Gaussian noise of this spread, within [0, 1]) instead of right or wrong")
    args = parser.parse_args()
    args.workload = args.workload or ["published", "mixed"]
    started = time.time()
    if args.long_only:
        lines: list[str] = []
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        asyncio.run(long_table(lines.append, seeds, args.long_steps, args.embedder, strongest(environment(0))))
        print("\n".join(lines))
        sys.exit(0)
    text = asyncio.run(main(args) if args.detail else compare(args))
    print(text)
    if args.markdown:
        command = " ".join(["python bench/router_eval.py", *sys.argv[1:]])
        header = (f"\n`{command.replace(f' --markdown {args.markdown}', '')}` on {platform.machine()} "
                  f"({platform.python_implementation()} {platform.python_version()}), {time.time() - started:.0f} s. "
                  "Sources of the figures: the docstrings of bench/router_eval.py and bench/router_workloads.py.\n\n")
        with Path(args.markdown).open("a", encoding="utf-8") as fh:
            fh.write(header + text + "\n")
    sys.exit(0)
