"""Where the router's figures on bench/router_eval.py come from, by kind of query: for each
true domain (and the domain the router's classifier filed it under), the share of queries
within the "value" target and the models chosen, or, without cost feedback, how far the
router's cost estimates were from the true costs.

    python bench/router_domains.py value --workload mixed --seeds 3            # the quality target
    python bench/router_domains.py value --workload mixed --config domain_ridge=20
    python bench/router_domains.py spend --workload mixed --seeds 6            # usage of 1 answer in 4
    python bench/router_domains.py ideal --workload mixed --seeds 6            # a learner told the domain
    python bench/router_domains.py drift --workload mixed --seeds 6            # after the drift event
    python bench/router_domains.py bound --workload mixed --seeds 6            # answers given for free
    python bench/router_domains.py gap --workload mixed --seeds 6 --graded 0.1 # where quality is lost

``value`` runs ``Objective.parse("value")`` and counts, over queries 1,000–4,000, each
(true domain, classified domain) cell's share within the target and its four most chosen
models (maths split at the drift event). ``spend`` runs the spending limit with no cost
reported and the usage of one answer in four (as the tables' usage-only row) and shows, per
true domain, the estimated over the true cost of the strongest model (the budget's
reference) and of the chosen one, and what the chosen one cost as a share of the strongest.
``ideal`` runs, under the "value" target, learners that know each query's true domain and keep
a Beta posterior of the right-answer rate per model and domain (the quality prior worth
``strength`` answers, evidence discounted by ``forget`` per answer or not at all), choosing
by quality alone, the best model being within the target by definition: a posterior draw
(Thompson sampling), the posterior mean (greedy), or the mean unless the best draw's spread
is above 0.05 (the router's rule). What they reach bounds what reading the query can win
under the lexicographic score. ``drift`` runs the spending limit with cost feedback and
shows, per seed, the change detector's alarms per model and, in windows of 500 queries from
the workload's drift event, the models chosen for the queries of ``--domain`` (true domain;
maths by default, the mixed workload's drifting kind). ``bound`` asks what a learner could reach
if answers were free: told each query's true domain and given, before the run, ``n``
right-or-wrong answers of every model on every kind of query (or only of the two models the
budget oracle rates best per kind, the other figures told exactly), it decides as the oracles
do on the estimated figures (the budget oracle's price of cost, spending on true costs; the
model with the best estimate under the quality target). A learner of a run has 4,000 answers
in all, 1,000 of them before the measurement, each paid for in the run. ``gap`` runs the
spending limit with cost feedback and splits the quality the router falls short of the budget
oracle by (true domain, classified domain) cell. ``--graded SD`` makes the feedback a score
(``Workload.graded``). ``--config NAME=VALUE`` sets a
``BanditConfig`` field (repeatable).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import router_eval as bench
import router_scores as scores
from router_seeds import config_from

from conduit_router import Objective, Query
from conduit_router.analysis import classify_domain
from conduit_router.simulation import Environment, Report

STEPS = 4000
WARM = 1000


class Recorder:
    """Wraps a router's ``route`` to keep each decision's text and every model's estimated cost."""

    def __init__(self, router: Any) -> None:
        self.texts: list[str] = []
        self.costs: list[dict[str, float]] = []
        self._route = router.route
        router.route = self.route

    async def route(self, query: Query, **options: Any) -> Any:
        decision = await self._route(query, **options)
        self.texts.append(query.text)
        self.costs.append({decision.selected_model: decision.estimated_cost,
                           **{a.model: a.estimated_cost for a in decision.alternatives}})
        return decision


async def run(w: bench.Workload, objective: Objective, seed: int, embedder: str, config: Any, *,
              costs: bool, usage: float) -> tuple[Report, Recorder, Environment]:
    """One learning run (``router_eval.learn_on``) with its decisions recorded."""
    recorders: list[Recorder] = []
    router = await bench.learn_on(w, objective, STEPS, seed, embedder, config, costs=costs, usage=usage,
                                  before=lambda r: recorders.append(Recorder(r)))
    return router.report, recorders[0], w.environment(seed)


async def value(w: bench.Workload, seeds: range, embedder: str, config: Any) -> None:
    total: collections.Counter[tuple[str, str]] = collections.Counter()
    within: collections.Counter[tuple[str, str]] = collections.Counter()
    picks: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for seed in seeds:
        report, recorder, _ = await run(w, Objective.parse("value"), seed, embedder, config, costs=True, usage=0.0)
        for i in range(WARM, STEPS):
            domain = report.domains[i]
            if w.drift_step is not None and domain == "math":
                domain += " (before the drift)" if i < w.drift_step else " (after)"
            key = (domain, classify_domain(recorder.texts[i])[0])
            total[key] += 1
            within[key] += report.within_target[i]
            picks[key][report.chosen[i]] += 1
    n = sum(total.values())
    print(f"{w.name}: within the target on {sum(within.values()) / n:.1%} of queries {WARM}-{STEPS}, seeds "
          f"{seeds.start}-{seeds.stop - 1}")
    print("true domain | classified as | share of queries | within the target | chosen")
    for key in sorted(total):
        chosen = ", ".join(f"{m} {c / total[key]:.0%}" for m, c in picks[key].most_common(4))
        print(f"{key[0]} | {key[1]} | {total[key] / n:.1%} | {within[key] / total[key]:.1%} | {chosen}")


async def drift(w: bench.Workload, seeds: range, embedder: str, config: Any, domain: str) -> None:
    budget = Objective(*bench.BUDGET_WEIGHTS, 0.0, cost_budget=w.budget)
    start = w.drift_step if w.drift_step is not None else WARM
    for seed in seeds:
        router = await bench.learn_on(w, budget, STEPS, seed, embedder, config)
        report: Report = router.report  # type: ignore[attr-defined]
        alarms = {m: s.dr for m, s in router.backend.cached().items() if s.dr}
        print(f"seed {seed}: alarms {alarms or 'none'}")
        for lo in range(start, STEPS, 500):
            picks = collections.Counter(c for c, d in zip(report.chosen[lo:lo + 500], report.domains[lo:lo + 500])
                                        if d == domain)
            n = sum(picks.values()) or 1
            print(f"  {domain} queries {lo}-{min(lo + 500, STEPS)}: "
                  + ", ".join(f"{m} {c / n:.0%}" for m, c in picks.most_common(3)))


async def gap(w: bench.Workload, seeds: range, embedder: str, config: Any) -> None:
    budget = Objective(*bench.BUDGET_WEIGHTS, 0.0, cost_budget=w.budget)
    short: collections.Counter[tuple[str, str]] = collections.Counter()
    count: collections.Counter[tuple[str, str]] = collections.Counter()
    for seed in seeds:
        report, recorder, _ = await run(w, budget, seed, embedder, config, costs=True, usage=0.0)
        env = w.environment(seed)
        t = scores.trace(env, STEPS, w.events(env, STEPS))
        _, oracle = scores.budget_oracle(t, WARM, STEPS, w.budget, w.strongest, bench.WEIGHTED)
        chosen = t.index(report.chosen)
        for i in range(WARM, STEPS):
            domain = report.domains[i]
            if w.drift_step is not None and domain == "math":
                domain += " (before the drift)" if i < w.drift_step else " (after)"
            key = (domain, classify_domain(recorder.texts[i])[0])
            short[key] += float(t.quality[i, oracle[i]] - t.quality[i, chosen[i]])
            count[key] += 1
    total = sum(short.values())
    print(f"{w.name}: the budget oracle's quality over the router's, queries {WARM}-{STEPS}, seeds "
          f"{seeds.start}-{seeds.stop - 1}, spending limit {w.budget:.0%} with cost feedback: "
          f"{total / sum(count.values()):.4f} per query")
    print("true domain | classified as | share of queries | share of the quality short of the oracle")
    for key in sorted(short, key=lambda k: -short[k]):
        print(f"{key[0]} | {key[1]} | {count[key] / sum(count.values()):.1%} | {short[key] / total:.0%}")


async def spend(w: bench.Workload, seeds: range, embedder: str, config: Any) -> None:
    budget = Objective(*bench.BUDGET_WEIGHTS, 0.0, cost_budget=w.budget)
    sums: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for seed in seeds:
        report, recorder, env = await run(w, budget, seed, embedder, config, costs=False, usage=bench.USAGE_SHARE)
        for i in range(WARM, STEPS):
            text, domain, estimates = recorder.texts[i], report.domains[i], recorder.costs[i]
            s = sums[domain]
            s["reference estimated"] += estimates[w.strongest]
            s["reference"] += env.cost(w.strongest, text, domain)
            s["chosen estimated"] += estimates[report.chosen[i]]
            s["chosen"] += report.cost[i]
    every: collections.Counter[str] = collections.Counter()
    for s in sums.values():
        every.update(s)
    reference = every["reference"]
    print(f"{w.name}: spending limit {w.budget:.0%} without cost feedback, usage of 1 answer in "
          f"{round(1 / bench.USAGE_SHARE)}, queries {WARM}-{STEPS}, seeds {seeds.start}-{seeds.stop - 1}")
    print("true domain | share of the reference's cost | reference estimated / true | chosen estimated / true "
          "| chosen / reference (true)")
    for domain, s in sorted(sums.items(), key=lambda kv: -kv[1]["reference"]):
        print(f"{domain} | {s['reference'] / reference:.1%} | {s['reference estimated'] / s['reference']:.3f} | "
              f"{s['chosen estimated'] / s['chosen']:.3f} | {s['chosen'] / s['reference']:.3f}")
    print(f"all | 100% | {every['reference estimated'] / reference:.3f} | "
          f"{every['chosen estimated'] / every['chosen']:.3f} | {every['chosen'] / reference:.3f} (estimated: "
          f"{every['chosen estimated'] / every['reference estimated']:.3f})")


IDEAL = (("Thompson sampling", "thompson", 3.0, None), ("greedy", "greedy", 3.0, None),
         ("the router's rule", "unsettled", 3.0, None), ("greedy, forgetting 0.99", "greedy", 3.0, 0.99),
         ("greedy, prior worth 20, forgetting 0.99", "greedy", 20.0, 0.99),
         ("greedy, prior worth 20, forgetting 0.995", "greedy", 20.0, 0.995),
         ("greedy, prior worth 50, forgetting 0.99", "greedy", 50.0, 0.99))
QUALITY_ONLY = Objective(1.0, 0.0, 0.0)  # the best model is within the target by definition


def ideal(w: bench.Workload, seeds: range) -> None:
    target = Objective.parse("value").quality_target or 0.95
    shares: dict[str, list[float]] = collections.defaultdict(list)
    names: set[str] = set()
    for seed in seeds:
        env = w.environment(seed)
        t = scores.trace(env, STEPS, w.events(env, STEPS))
        singles = scores.per_model(t, WARM, STEPS, bench.WEIGHTED, target)
        best = max(singles, key=lambda name: singles[name].within)
        names.add(best)
        shares["best single model in hindsight"].append(singles[best].within)
        prior = [m.quality_prior or 0.6 for m in env.models]
        for label, mode, strength, forget in IDEAL:
            chosen = scores.ideal_learner(t, QUALITY_ONLY, seed, prior, mode, strength, forget)
            shares[label].append(scores.chosen_window(t, chosen, WARM, STEPS, bench.WEIGHTED, target).within)
    print(f"{w.name}: share of queries {WARM}-{STEPS} within the value target, seeds {seeds.start}-{seeds.stop - 1}")
    for label, values in shares.items():
        print(f"{label} | {scores.spread(values)}")
    print(f"(the best single model by seed: {', '.join(sorted(names))})")


BOUND_ANSWERS = (30, 100, 300, 1000)
BOUND_DRAWS = 20


def _contested(t: scores.Trace, price: float, keep: int) -> set[tuple[str, int, float]]:
    """Per kind of query (and per figure, after a drift event) the ``keep`` models the budget
    oracle rates best at its price: the (domain, model column, true quality) whose figures decide."""
    rel = t.cost / t.cost.max(axis=1, keepdims=True)
    groups: dict[tuple[str, tuple[float, ...]], list[int]] = collections.defaultdict(list)
    for row, domain in enumerate(t.domains):
        groups[(domain, tuple(t.quality[row].tolist()))].append(row)
    out = set()
    for (domain, quality), rows in groups.items():
        value = (t.quality[rows] - price * rel[rows]).mean(axis=0)
        out.update((domain, int(m), quality[m]) for m in np.argsort(-value)[:keep])
    return out


def bound(w: bench.Workload, seeds: range) -> None:
    """What a learner could reach if it were given answers for free: told each query's true
    domain and, before the run, ``n`` right-or-wrong answers of every model on every kind of
    query (or only of the two the oracle rates best per kind, the rest told exactly), it
    decides as the oracles do on the estimated figures. A learner of a run has 4,000 answers,
    1,000 before the measurement, each paid for."""
    target = Objective.parse("value").quality_target or 0.95
    gap: dict[tuple[str, int], list[float]] = collections.defaultdict(list)
    reach: dict[tuple[str, int], list[bool]] = collections.defaultdict(list)
    within: dict[tuple[str, int], list[float]] = collections.defaultdict(list)
    beats: dict[tuple[str, int], list[bool]] = collections.defaultdict(list)
    best_names: set[str] = set()
    best_within: list[float] = []
    for seed in seeds:
        env = w.environment(seed)
        t = scores.trace(env, STEPS, w.events(env, STEPS))
        rows, sl = np.arange(STEPS), slice(WARM, STEPS)
        singles = scores.per_model(t, WARM, STEPS, bench.WEIGHTED, target)
        reference = singles[w.strongest]
        _, mix = scores.best_mix(singles, w.budget * reference.cost, lambda x: x.quality)
        price, oracle = scores.budget_oracle(t, WARM, STEPS, w.budget, w.strongest, bench.WEIGHTED)
        oracle_quality = float(t.quality[rows, oracle][sl].mean())
        contested = _contested(t, price, 2)
        best_name, best = scores.best_lexicographic(singles)
        best_names.add(best_name)
        best_within.append(best.within)
        ok = t.quality >= target * t.quality.max(axis=1, keepdims=True) - 1e-12
        for n in BOUND_ANSWERS:
            rng = np.random.default_rng([seed, n])
            for _ in range(BOUND_DRAWS):
                for label, only in (("every", None), ("two", contested)):
                    estimate = scores.sampled_quality(t, n, rng, only)
                    _, chosen = scores.budget_oracle(t, WARM, STEPS, w.budget, w.strongest, bench.WEIGHTED, estimate)
                    share = (float(t.quality[rows, chosen][sl].mean()) - mix.quality) / max(1e-9, oracle_quality - mix.quality)
                    gap[(label, n)].append(share)
                    reach[(label, n)].append(share >= 0.8)
                    if label == "every":
                        pick = np.argmax(estimate, axis=1)
                        win = scores.Window(float(t.quality[rows, pick][sl].mean()), float(t.cost[rows, pick][sl].mean()),
                                            0.0, float(ok[rows, pick][sl].mean()))
                        within[("every", n)].append(win.within)
                        beats[("every", n)].append(scores.lexicographic_better(win, best))
    draws = f"{len(seeds)} seeds × {BOUND_DRAWS} draws of the free answers"
    print(f"{w.name}: a spending limit of {w.budget:.0%}, queries {WARM}-{STEPS}, {draws}; share of the way from the "
          "best static mix to the budget oracle (mean, lowest and highest draw), and the draws reaching 80%")
    print("free answers per model and kind | every model's figures estimated | only the two best per kind "
          "estimated, the rest told")
    for n in BOUND_ANSWERS:
        cells = [f"{statistics.fmean(gap[(k, n)]):.1%} ({min(gap[(k, n)]):.0%}–{max(gap[(k, n)]):.0%}), "
                 f"{statistics.fmean(reach[(k, n)]):.0%} reach 80%" for k in ("every", "two")]
        print(f"{n} | " + " | ".join(cells))
    print(f"{w.name}: the quality target {target:.0%}, {draws}; the model with the best estimate per query, "
          f"against the best single model by the score ({', '.join(sorted(best_names))}: "
          f"{statistics.fmean(best_within):.1%} within)")
    print("free answers per model and kind | within the target | draws beating the best single model")
    for n in BOUND_ANSWERS:
        print(f"{n} | {statistics.fmean(within[('every', n)]):.1%} | {statistics.fmean(beats[('every', n)]):.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("value", "spend", "ideal", "drift", "bound", "gap"))
    parser.add_argument("--domain", default="math", help="drift: the true domain whose choices are shown")
    parser.add_argument("--workload", choices=tuple(bench.WORKLOADS), default="mixed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--embedder", default="hash")
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--graded", type=float, default=None, metavar="SD",
                        help="feedback as a score (true quality plus noise of this spread) instead of right or wrong")
    args = parser.parse_args()
    work = bench.WORKLOADS[args.workload](STEPS).graded(args.graded)
    if args.what == "ideal":
        ideal(work, range(args.seeds))
    elif args.what == "bound":
        bound(work, range(args.seeds))
    elif args.what == "drift":
        asyncio.run(drift(work, range(args.seeds), args.embedder, config_from(args.config), args.domain))
    else:
        job = {"value": value, "spend": spend, "gap": gap}[args.what]
        asyncio.run(job(work, range(args.seeds), args.embedder, config_from(args.config)))
