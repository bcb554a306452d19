"""One spending limit for every worker and host: the pacer's state in Redis.

:class:`~conduit_router.budget.BudgetPacer` learns the price of cost from the decisions it
sees. Per process, each worker paced its own share, so a worker that got the expensive
queries and one that got the cheap ones each held the budget alone, and what one learned
the other did not. With a Redis state store the pacer's state (the price ``λ``, the decision
count, the running mean of the priciest model's cost, the recent spending) lives in one hash,
and every decision and settlement updates it in one Lua script: the same arithmetic as
``BudgetPacer.record`` and ``settle``, atomic, so concurrent workers never lose an update.
The script returns the new state, which the local pacer takes over, so ``current()`` (the
objective the next decision uses) needs no round trip of its own.

When Redis does not answer, the update is made on the local pacer and routing goes on (the
router's outage log says so once); the shared state carries on from where Redis left it when
it is back.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

from conduit_router.budget import BudgetPacer
from conduit_router.outage import OutageLog

__all__ = ["RECORD_SCRIPT", "SETTLE_SCRIPT", "SharedBudget"]

logger = logging.getLogger("conduit.router")

_FIELDS = ("price", "decisions", "max_mean", "spent", "priciest", "settled")

# KEYS[1]: the hash. ARGV: cost, max_cost, budget, step, window, min_price, max_price, start_price.
RECORD_SCRIPT = """
local h = redis.call('HMGET', KEYS[1], 'price', 'decisions', 'max_mean', 'spent', 'priciest', 'settled')
local cost, max_cost, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local step, window = tonumber(ARGV[4]), tonumber(ARGV[5])
local min_price, max_price = tonumber(ARGV[6]), tonumber(ARGV[7])
local price = tonumber(h[1]) or tonumber(ARGV[8])
local n = (tonumber(h[2]) or 0) + 1
local mm = tonumber(h[3]) or 0
local spent, priciest, settled = tonumber(h[4]) or 0, tonumber(h[5]) or 0, tonumber(h[6]) or 0
mm = mm + (max_cost - mm) / math.min(n, window)
local g = (cost - budget * max_cost) / mm
if g > 1 then g = 1 elseif g < -1 then g = -1 end
price = math.min(max_price, math.max(min_price, price * math.exp(step * g)))
local keep = 1 - 1 / window
spent = keep * spent + cost
priciest = keep * priciest + max_cost
redis.call('HSET', KEYS[1], 'price', string.format('%.17g', price), 'decisions', n,
           'max_mean', string.format('%.17g', mm), 'spent', string.format('%.17g', spent),
           'priciest', string.format('%.17g', priciest), 'settled', settled)
return {string.format('%.17g', price), tostring(n), string.format('%.17g', mm),
        string.format('%.17g', spent), string.format('%.17g', priciest), tostring(settled)}
"""

# KEYS[1]: the hash. ARGV: estimated, actual, max_estimated, max_actual, budget, step, window,
# min_price, max_price.
SETTLE_SCRIPT = """
local h = redis.call('HMGET', KEYS[1], 'price', 'decisions', 'max_mean', 'spent', 'priciest', 'settled')
local estimated, actual = tonumber(ARGV[1]), tonumber(ARGV[2])
local max_estimated, max_actual = tonumber(ARGV[3]), tonumber(ARGV[4])
local budget, step, window = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local min_price, max_price = tonumber(ARGV[8]), tonumber(ARGV[9])
local price, n, mm = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0
local spent, priciest, settled = tonumber(h[4]) or 0, tonumber(h[5]) or 0, tonumber(h[6]) or 0
if price == nil or mm <= 0 or n < 1 then
  return false
end
mm = mm + (max_actual - max_estimated) / math.min(n, window)
local g = ((actual - estimated) - budget * (max_actual - max_estimated)) / mm
if g > 1 then g = 1 elseif g < -1 then g = -1 end
price = math.min(max_price, math.max(min_price, price * math.exp(step * g)))
settled = settled + 1
spent = math.max(0, spent + actual - estimated)
priciest = math.max(0, priciest + max_actual - max_estimated)
redis.call('HSET', KEYS[1], 'price', string.format('%.17g', price), 'max_mean', string.format('%.17g', mm),
           'spent', string.format('%.17g', spent), 'priciest', string.format('%.17g', priciest), 'settled', settled)
return {string.format('%.17g', price), tostring(n), string.format('%.17g', mm),
        string.format('%.17g', spent), string.format('%.17g', priciest), tostring(settled)}
"""


def budget_key(store: Any, pacer: BudgetPacer, models: Any) -> str:
    """One hash per spending limit and catalogue: routers with other budgets or models never mix."""
    names = ",".join(sorted(m.name for m in models))
    digest = hashlib.blake2b(f"{pacer.budget!r}|{names}".encode(), digest_size=8).hexdigest()
    return f"{getattr(store, 'prefix', '')}router:budget:{digest}"


class SharedBudget:
    """``pacer`` whose updates are made in Redis (``store.client``) and mirrored locally."""

    def __init__(self, pacer: BudgetPacer, store: Any, key: str, *, outages: OutageLog | None = None) -> None:
        self.pacer = pacer
        self.key = key
        self.client = store.client
        self._record = self.client.register_script(RECORD_SCRIPT)
        self._settle = self.client.register_script(SETTLE_SCRIPT)
        self.outages = outages or OutageLog(logger)

    def _errors(self) -> tuple[type[BaseException], ...]:
        from redis.exceptions import RedisError

        return (RedisError, OSError, TimeoutError)

    def current(self) -> Any:
        return self.pacer.current()

    def _take(self, values: Any) -> None:
        price, decisions, max_mean, spent, priciest, settled = (float(v) for v in values)
        pacer = self.pacer
        with pacer._lock:
            pacer.price, pacer.decisions, pacer._max_mean = price, int(decisions), max_mean
            pacer._spent, pacer._priciest, pacer.settled = spent, priciest, int(settled)

    async def record(self, cost: float, max_cost: float) -> None:
        pacer = self.pacer
        if not (math.isfinite(cost) and math.isfinite(max_cost)) or max_cost <= 0:
            return  # a catalogue without prices: nothing to pace (as BudgetPacer.record)
        start = min(pacer.MAX_PRICE, max(pacer.MIN_PRICE, pacer.price))
        try:
            values = await self._record(keys=[self.key], args=[
                repr(float(cost)), repr(float(max_cost)), repr(pacer.budget), repr(pacer.step), pacer.window,
                repr(pacer.MIN_PRICE), repr(pacer.MAX_PRICE), repr(start)])
        except self._errors() as exc:
            self.outages.failed("spending-limit update", exc)
            pacer.record(cost, max_cost)
            return
        self.outages.recovered()
        self._take(values)

    async def settle(self, estimated: float, actual: float, max_estimated: float, *, same_model: bool = True,
                     max_actual: float | None = None) -> None:
        pacer = self.pacer
        if max_actual is None:
            max_actual = max_estimated * actual / estimated if same_model and estimated > 0 else max_estimated
        figures = (estimated, actual, max_estimated, max_actual)
        if not all(math.isfinite(v) and v >= 0 for v in figures) or max_estimated <= 0:
            return
        try:
            values = await self._settle(keys=[self.key], args=[
                *(repr(float(v)) for v in figures), repr(pacer.budget), repr(pacer.step), pacer.window,
                repr(pacer.MIN_PRICE), repr(pacer.MAX_PRICE)])
        except self._errors() as exc:
            self.outages.failed("spending-limit settlement", exc)
            pacer.settle(estimated, actual, max_estimated, same_model=same_model, max_actual=max_actual)
            return
        self.outages.recovered()
        if values:
            self._take(values)
