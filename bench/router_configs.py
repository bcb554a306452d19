"""A learner setting measured on both workloads of bench/router_eval.py, in one line each: how
far the router gets from the best static mix towards the budget oracle under a spending
limit (with cost feedback), what it spends, its quality (as a share of the oracle's) on
queries 1,000-2,000 and on the last 1,000, and, under the "value" quality target, its share
within the target and its cost; then its weighted objective at 0.92/0.08.

    python bench/router_configs.py --seeds 3                              # the default learner
    python bench/router_configs.py --seeds 3 --config exploration=0.5     # tempered sampling
    python bench/router_configs.py --seeds 3 --embedder auto              # MiniLM features
    python bench/router_configs.py --seeds 3 --ideal                      # the idealised learners only
    python bench/router_configs.py --seeds 6 --ideal --strength 10        # ... with a prior worth 10 answers
    python bench/router_configs.py --seeds 6 --usage                      # and the spend on usage alone
    python bench/router_configs.py --seeds 12 --first-seed 12             # seeds 12-23: a fresh set
    python bench/router_configs.py --seeds 6 --per-seed                   # and each seed's line
    python bench/router_configs.py --seeds 6 --graded 0.1                 # feedback as a score, spread 0.1

``--config NAME=VALUE`` sets a ``BanditConfig`` field (repeatable). ``--ideal`` instead runs
reference learners that know each query's true domain
(:func:`router_scores.ideal_learner`: a Beta posterior per model and domain, the router's
pacer), deciding by Thompson sampling, by the posterior mean, or by tempered sampling: what
a learner could win if it read the query perfectly. ``--usage`` adds what the spending limit
spends with no cost reported and the usage of one answer in four (the line's ``usage``).
``--graded SD`` gives each answer's quality as a score (its model's true quality plus
Gaussian noise of spread SD, within [0, 1]: a judge's score) instead of right or wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import router_eval as bench
import router_scores as scores
from router_seeds import config_from

from conduit_router import Objective

STEPS = 4000


def _gap(f: dict, window: scores.Window, w: bench.Workload) -> float:
    mix = scores.best_mix(f["singles"], w.budget * f["reference"].cost, lambda x: x.quality)[1]
    return (window.quality - mix.quality) / max(1e-9, f["budget_oracle"]["after"].quality - mix.quality)


USAGE_RUN = f"router, no cost feedback, usage of 1 answer in {round(1 / bench.USAGE_SHARE)}"


async def learner_line(name: str, seeds: range, embedder: str, config: object, label: str, usage: bool,
                       per_seed: bool = False, graded: float | None = None) -> None:
    w = bench.WORKLOADS[name](STEPS).graded(graded)
    bench.RUNS = {k: v for k, v in bench.RUNS.items()
                  if (v[2] == 0.0 and (v[1] or v[0] != "budget")) or (usage and k == USAGE_RUN)}
    rows: dict[str, list[float]] = {"gap": [], "spend": [], "early": [], "late": [], "within": [], "cost": [],
                                    "util": [], "usage": []}
    for seed in seeds:
        f = await bench.seed_figures(w, seed, STEPS, embedder, config)  # type: ignore[arg-type]
        run = f["runs"]["router, cost feedback"]
        rows["gap"].append(_gap(f, run["after"], w))
        rows["spend"].append(run["after"].cost / f["reference"].cost)
        rows["early"].append(run["early"].quality / f["budget_oracle"]["early"].quality)
        rows["late"].append(run["late"].quality / f["budget_oracle"]["late"].quality)
        value = f["runs"]["value"]["after"]
        rows["within"].append(value.within)
        rows["cost"].append(value.cost / f["reference"].cost)
        rows["util"].append(f["runs"]["weighted"]["after"].utility)
        if usage:
            rows["usage"].append(f["runs"][USAGE_RUN]["after"].cost / f["reference"].cost)
        if per_seed:
            print(f"{name:9s} seed {seed:<3d} gap {rows['gap'][-1]:6.1%} spend {rows['spend'][-1]:.1%} "
                  f"early {rows['early'][-1]:.1%} late {rows['late'][-1]:.1%}"
                  + (f" usage spend {rows['usage'][-1]:.1%}" if usage else ""), flush=True)
    m = {k: statistics.mean(v) for k, v in rows.items() if v}
    print(f"{name:9s} {label:40s} gap {m['gap']:6.1%} spend {m['spend']:.1%} early {m['early']:.1%} "
          f"late {m['late']:.1%} | within {m['within']:.1%} cost {m['cost']:.1%} | objective {m['util']:.4f}"
          + (f" | usage spend {m['usage']:.1%} ({min(rows['usage']):.1%}–{max(rows['usage']):.1%})" if usage else ""),
          flush=True)


def ideal_lines(name: str, seeds: range, strength: float) -> None:
    w = bench.WORKLOADS[name](STEPS)
    warm = STEPS // 4
    budget = Objective(*bench.BUDGET_WEIGHTS, 0.0, cost_budget=w.budget)
    gaps: dict[str, list[float]] = {}
    for seed in seeds:
        env = w.environment(seed)
        t = scores.trace(env, STEPS, w.events(env, STEPS))
        singles = scores.per_model(t, warm, STEPS, bench.WEIGHTED, 0.95)
        mix = scores.best_mix(singles, w.budget * singles[w.strongest].cost, lambda x: x.quality)[1]
        _, choices = scores.budget_oracle(t, warm, STEPS, w.budget, w.strongest, bench.WEIGHTED)
        oracle = scores.chosen_window(t, choices, warm, STEPS, bench.WEIGHTED, 0.95)
        for mode in ("thompson", "greedy", "tempered 0.5", "tempered 0.25"):
            prior = [m.quality_prior or 0.6 for m in env.models]
            got = scores.chosen_window(t, scores.ideal_learner(t, budget, seed, prior, mode, strength=strength),
                                       warm, STEPS, bench.WEIGHTED, 0.95)
            gaps.setdefault(mode, []).append((got.quality - mix.quality) / max(1e-9, oracle.quality - mix.quality))
    print(f"{name:9s} idealised learner (prior worth {strength:g} answers), share of the way from the best "
          "static mix to the budget oracle: "
          + ", ".join(f"{mode} {statistics.mean(v):.0%}" for mode, v in gaps.items()), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (the seeds follow it)")
    parser.add_argument("--embedder", default="hash")
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--ideal", action="store_true")
    parser.add_argument("--strength", type=float, default=3.0, help="--ideal: answers the quality prior is worth")
    parser.add_argument("--usage", action="store_true", help="also the spend with the usage of 1 answer in 4 only")
    parser.add_argument("--per-seed", action="store_true", help="a line per seed before the mean")
    parser.add_argument("--graded", type=float, default=None, metavar="SD",
                        help="feedback as a score (true quality plus noise of this spread) instead of right or wrong")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for workload in ("published", "mixed"):
        if args.ideal:
            ideal_lines(workload, seeds, args.strength)
        else:
            label = " ".join([args.embedder, *args.config] + ([f"graded {args.graded:g}"] if args.graded else []))
            asyncio.run(learner_line(workload, seeds, args.embedder, config_from(args.config), label, args.usage,
                                     args.per_seed, args.graded))
