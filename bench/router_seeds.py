"""The router seed by seed, on the workload of bench/router_eval.py: for one objective and one
learner configuration, each seed's quality and cost against always-strongest, its objective
value against the best single model in hindsight (under a quality target, the rule's regret
per query against the single model with the least), and the change detector's alarms; with
``--degradation``, how many queries traffic takes to leave a degraded model.

router_eval.py reports means over three seeds; this shows the spread behind them, and checks
a learner setting or a longer horizon without editing code:

    python bench/router_seeds.py                                   # cost_budget 0.45, 12 seeds
    python bench/router_seeds.py --objective quality=0.92,cost=0.08
    python bench/router_seeds.py --config drift_threshold=6 --config drift_keep=20
    python bench/router_seeds.py --objective quality=0.95,cost=0.05 --seeds 2 --steps 16000 --warmup 12000
    python bench/router_seeds.py --config drift_keep=60 --degradation --seeds 6
    python bench/router_seeds.py --embedder auto --seeds 6                   # MiniLM features

``--objective`` takes what ``router_objective`` takes; ``--config NAME=VALUE`` sets a
``BanditConfig`` field (repeatable). The objective column is the mean after warm-up of
w_q·quality − w_c·cost/max_cost − w_l·latency/max_latency on true figures (under a budget,
at the objective's starting weights); under a budget the last column is the price of cost
the pacer ended with.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import router_eval as bench
from conduit_router import BanditConfig, Objective
from conduit_router.simulation import run_static


def config_from(items: list[str]) -> BanditConfig:
    fields = {f.name: f.type for f in dataclasses.fields(BanditConfig)}
    values: dict[str, object] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or name not in fields:
            raise SystemExit(f"--config {item!r}: give NAME=VALUE with NAME one of {', '.join(fields)}")
        values[name] = raw.lower() in ("1", "true", "yes") if fields[name] in ("bool", bool) else \
            int(raw) if fields[name] in ("int", int) else float(raw)
    return BanditConfig(**values)  # type: ignore[arg-type]


async def main(args: argparse.Namespace) -> None:
    objective = Objective.parse(args.objective)
    config = config_from(args.config)
    warm = args.warmup if args.warmup is not None else args.steps // 4
    top = bench.strongest(bench.environment(0))
    changed = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
               if getattr(config, f.name) != f.default}
    print(f"objective {objective.to_dict()}, learner {changed or 'default'}, {args.steps} queries, "
          f"measured after {warm}")
    target = objective.quality_target is not None
    score = "rule regret / query (lower is better)" if target else "objective"
    paced = objective.cost_budget is not None
    print(f"| seed | quality, % of strongest | cost, % of strongest's | {score} | best single model's {score} "
          "| drift alarms |" + (" degradation: queries until traffic left |" if args.degradation else "")
          + (" final price of cost |" if paced else ""))
    print("|---:|---:|---:|---:|---|---:|" + ("---:|" if args.degradation else "") + ("---:|" if paced else ""))
    qs, cs, us, fs = [], [], [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        router, report = await bench.learn(objective, args.steps, seed, args.embedder, config)
        mine = report.window(warm)
        ref = run_static(bench.environment(seed), "strongest", args.steps, strongest=top).window(warm)
        qs.append(mine["quality"] / ref["quality"])
        cs.append(mine["cost"] / ref["cost"])
        if target:
            us.append(statistics.mean(report.regret[warm:]))
            best, reports = bench.best_fixed_by_regret(range(seed, seed + 1), args.steps, warm, objective)
            fs.append(statistics.mean(reports[0].regret[warm:]))
        else:
            us.append(mine["utility"])
            best, rows = bench.best_fixed_model(range(seed, seed + 1), args.steps, warm, objective)
            fs.append(rows[0]["utility"])
        alarms = sum(s.dr for s in router.backend.cached().values())
        line = f"| {seed} | {qs[-1]:.1%} | {cs[-1]:.1%} | {us[-1]:.4f} | {fs[-1]:.4f} ({best}) | {alarms} |"
        if args.degradation:
            d = await bench.degradation(objective, seed, args.embedder, warmup=1000, after=1500, config=config)
            line += f" {d['queries_to_quarter_share'] if d['queries_to_quarter_share'] is not None else '> 1500'} |"
        if paced and router.budget is not None:
            line += f" {router.budget.price:.4f} |"
        print(line, flush=True)
    tail = (" |" if args.degradation else "") + (" |" if paced else "")
    print(f"| mean | {statistics.mean(qs):.1%} | {statistics.mean(cs):.1%} | {statistics.mean(us):.4f} | "
          f"{statistics.mean(fs):.4f} | |" + tail)
    print(f"| range | {min(qs):.1%}–{max(qs):.1%} | {min(cs):.1%}–{max(cs):.1%} | | | |" + tail)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objective", default="quality=0.92,cost=0.08,cost_budget=0.45")
    parser.add_argument("--config", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--warmup", type=int, default=None, help="queries before measuring (default: steps / 4)")
    parser.add_argument("--embedder", default="hash", help="hash (fast) or auto (MiniLM from conduit-onnx)")
    parser.add_argument("--degradation", action="store_true", help="also run bench/router_eval.py's degradation per seed")
    asyncio.run(main(parser.parse_args()))
