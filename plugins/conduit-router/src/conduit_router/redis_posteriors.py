"""Posteriors shared by every worker and host through Redis, updated by one Lua script.

Each model's statistics are one JSON value at ``<prefix>router:post:<space>:<model>``.
An update (discount, add the observation, count it) runs as a single Lua script on the
server, so concurrent feedback from any number of processes is applied one at a time and
none is lost. Decisions read a local snapshot refreshed at most every
``refresh_interval`` seconds (one MGET), in the background once a first snapshot is in hand
(:mod:`conduit_router.background`: the decision that finds it stale goes on with it, and the
read starts once that decision is made), so a decision costs no round trip for it. The
script returns the new statistics, which refresh the snapshot at once (an update answered
while a read is in flight can be hidden by what the read returns until the next read, as
when a decision read inline). With ``refresh_interval=0`` every read waits for Redis.

When Redis is unavailable, updates are applied to the local snapshot (routing keeps
learning in this process) and kept in a bounded backlog that is replayed, in order, on
the next successful call. The outage is logged once, through :class:`~conduit_router.outage.OutageLog`
(shared with the router's other Redis users), and its end once.

The space in the key names the context layout, so a version of the router whose context
vector is longer or shorter (another set of query domains) keeps its statistics under other
keys: both versions can run side by side during an upgrade. Statistics found with another
dimension all the same (written by something else) are not used: a read skips them, the next
update replaces them, and each case is logged once. Statistics of the version before the
layout was part of the key (``legacy_space``) are reported once, at the first read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np
import orjson

from conduit_router.background import Refresh
from conduit_router.outage import OutageLog
from conduit_router.posteriors import DriftTest, ModelStats, apply_update, check_cell

__all__ = ["UPDATE_SCRIPT", "RedisPosteriors"]

logger = logging.getLogger("conduit.router")

# KEYS[1]: the model's statistics (JSON)
# Statistics of another dimension at KEYS[1] are replaced by fresh ones (the answer then
# carries "replaced": their dimension, which is not stored).
# ARGV: 1 dim, 2 gamma, 3 x (JSON list or ''), 4 y ('' for none), 5 weight,
#       6 log latency ('' for none), 7 latency gamma,
#       8 the expected quality, for the change detector ('' for none),
#       9 odds, 10 threshold (0: no detector), 11 keep  (see conduit_router.posteriors:
#       the same log-likelihood ratios as DriftTest.evidence), 12 the cell (kind of query)
#       whose pair of sums the observation adds to, from 0, 13 the expected quality's
#       variance over sigma^2, for the noise's sums ('' for none; with 8)
# The sums are lists ("dnc", "upc"); the single numbers an earlier version kept ("dn", "up")
# are dropped, and its script, still running during an upgrade, starts its own from 0.
UPDATE_SCRIPT = """
local d = tonumber(ARGV[1])
local raw = redis.call('GET', KEYS[1])
local st
if raw then
  st = cjson.decode(raw)
end
local replaced = nil
if st and tonumber(st.d) ~= d then
  replaced = tonumber(st.d) or -1
  st = nil
end
if not st then
  st = {d = d, S = {}, r = {}, n = 0, yy = 0, u = 0, lw = 0, ls = 0, lu = 0, v = 0}
  for i = 1, d * d do st.S[i] = 0 end
  for i = 1, d do st.r[i] = 0 end
end
if ARGV[4] ~= '' and ARGV[3] ~= '' then
  local g = tonumber(ARGV[2])
  local y = tonumber(ARGV[4])
  local w = tonumber(ARGV[5])
  local x = cjson.decode(ARGV[3])
  local S = st.S
  local r = st.r
  st.dn = nil
  st.up = nil
  if type(st.dnc) ~= 'table' then st.dnc = {} end
  if type(st.upc) ~= 'table' then st.upc = {} end
  local dn = st.dnc
  local up = st.upc
  st.dr = tonumber(st.dr) or 0
  local h = tonumber(ARGV[10])
  if ARGV[8] ~= '' and h > 0 then
    local p = math.min(0.99, math.max(0.01, tonumber(ARGV[8])))
    local R = tonumber(ARGV[9])
    local c = tonumber(ARGV[12]) + 1
    for i = #dn + 1, c do dn[i] = 0 end
    for i = #up + 1, c do up[i] = 0 end
    dn[c] = math.max(0, dn[c] + w * (y * math.log(1 / R) - math.log(1 - p + p / R)))
    up[c] = math.max(0, up[c] + w * (y * math.log(R) - math.log(1 - p + p * R)))
    if dn[c] > h or up[c] > h then
      local keep = tonumber(ARGV[11])
      if st.n > keep then
        local f = keep / st.n
        for i = 1, d * d do S[i] = S[i] * f end
        for i = 1, d do r[i] = r[i] * f end
        st.n = st.n * f
        st.yy = st.yy * f
        st.ee = (tonumber(st.ee) or 0) * f
        st.ev = (tonumber(st.ev) or 0) * f
      end
      for i = 1, #dn do dn[i] = 0 end
      for i = 1, #up do up[i] = 0 end
      st.dr = st.dr + 1
    end
  end
  for i = 1, d do
    local wxi = w * x[i]
    local base = (i - 1) * d
    for j = 1, d do
      S[base + j] = g * S[base + j] + wxi * x[j]
    end
    r[i] = g * r[i] + wxi * y
  end
  st.n = g * st.n + w
  st.yy = g * st.yy + w * y * y
  st.ee = g * (tonumber(st.ee) or 0)
  st.ev = g * (tonumber(st.ev) or 0)
  if ARGV[8] ~= '' and ARGV[13] ~= '' then
    local e = y - tonumber(ARGV[8])
    st.ee = st.ee + w * e * e
    st.ev = st.ev + w * (1 + tonumber(ARGV[13]))
  end
  st.u = st.u + 1
end
if ARGV[6] ~= '' then
  local lg = tonumber(ARGV[7])
  st.lw = lg * st.lw + 1
  st.ls = lg * st.ls + tonumber(ARGV[6])
  st.lu = st.lu + 1
end
st.v = st.v + 1
local out = cjson.encode(st)
redis.call('SET', KEYS[1], out)
if replaced then
  st.replaced = replaced
  return cjson.encode(st)
end
return out
"""

class _Update(NamedTuple):
    """One update as the script takes it (its ARGV, above), kept while Redis is away."""

    name: str
    x: list[float] | None
    y: float | None
    weight: float
    log_latency: float | None
    expected: float | None
    cell: int
    spread: float | None


_BACKLOG_LIMIT = 10_000
_NO_DRIFT = DriftTest(threshold=0.0)


def _fmt(value: float) -> str:
    return repr(float(value))


class RedisPosteriors:
    """Statistics in Redis (see the module docstring). ``store`` is a
    :class:`conduit.storage.RedisStateStore`; its client and key prefix are used."""

    shared = True

    def __init__(
        self,
        store: Any,
        space: str,
        dim: int,
        *,
        gamma: float = 1.0,
        latency_gamma: float = 0.98,
        drift: DriftTest | None = None,
        refresh_interval: float = 0.5,
        max_concurrency: int = 16,
        outages: OutageLog | None = None,
        legacy_space: str | None = None,
        on_read: Callable[[dict[str, ModelStats]], None] | None = None,
    ) -> None:
        self.store = store
        # Called with each snapshot read (the router re-fits its posteriors there, not in a decision).
        self.on_read = on_read
        self.client = store.client
        self.space = space
        self.dim = dim
        self.gamma = gamma
        self.latency_gamma = latency_gamma
        self.drift = drift
        self.refresh_interval = refresh_interval
        self._script = self.client.register_script(UPDATE_SCRIPT)
        # Bursts of feedback wait here rather than exhaust the client's connection pool.
        self._slots = asyncio.Semaphore(max_concurrency)
        self._snapshot: dict[str, ModelStats] = {}
        self._generation = 0  # reset() moves it: a read begun before then is dropped
        self._refresh = Refresh("posterior read", refresh_interval)
        self._backlog: deque[_Update] = deque()
        self.outages = outages or OutageLog(logger)
        self.counters = {"updates": 0, "refreshes": 0, "errors": 0, "backlog_replayed": 0, "stale_layout": 0}
        self.legacy_space = legacy_space
        self._legacy_checked = legacy_space is None
        self._stale_logged: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.store.prefix}router:post:{self.space}:{name}"

    def _errors(self) -> tuple[type[BaseException], ...]:
        from redis.exceptions import RedisError

        return (RedisError, OSError, TimeoutError)

    async def snapshot(self, names: Iterable[str], *, wait: bool = False) -> dict[str, ModelStats]:
        """The statistics of ``names`` as last read; a stale copy is read again by
        :meth:`start_due` (the first read, and one with ``wait``, are awaited here)."""
        listed = list(names)
        await self._refresh.ensure(lambda: self._read(listed), wait=wait)
        return self._snapshot

    def start_due(self) -> None:
        """Start the read a stale :meth:`snapshot` asked for, as a task of the running loop (the
        router calls this once its decision is made, so the read does not run inside it)."""
        self._refresh.start_due()

    async def _read(self, names: list[str]) -> None:
        """Replace the snapshot with what Redis holds for ``names`` (one MGET)."""
        generation = self._generation
        try:
            await self._replay()
            async with self._slots:
                raws = await self.client.mget([self.key(n) for n in names])
        except self._errors() as exc:
            self._failed("read", exc)
            return
        if generation != self._generation:
            return  # reset() while the read was in flight: what it read is gone
        fresh: dict[str, ModelStats] = {}
        for name, raw in zip(names, raws):
            if raw is None:
                continue
            stats = ModelStats.from_json(orjson.loads(raw))
            if stats.dim != self.dim:
                self._stale(name, stats.dim, "is not used; its next update replaces it")
                continue
            fresh[name] = stats
        if not self._legacy_checked:
            await self._check_legacy(names)
        self.outages.recovered()
        self._snapshot = fresh
        self.counters["refreshes"] += 1
        if self.on_read is not None:
            self.on_read(fresh)

    def cached(self) -> dict[str, ModelStats]:
        return dict(self._snapshot)

    def _stale(self, name: str, dim: int, what: str) -> None:
        self.counters["stale_layout"] += 1
        if name not in self._stale_logged:
            self._stale_logged.add(name)
            logger.warning("router: the posterior of model %r in Redis (%s) has %d context values where this router "
                           "uses %d; it %s, and %r learns again from its prior", name, self.key(name), dim, self.dim,
                           what, name)

    async def _check_legacy(self, names: list[str]) -> None:
        """Report, once, statistics an earlier version kept under ``legacy_space``: they are not used."""
        self._legacy_checked = True
        prefix = f"{self.store.prefix}router:post:{self.legacy_space}:"
        async with self._slots:
            raws = await self.client.mget([prefix + n for n in names])
        found = {n: orjson.loads(raw).get("d") for n, raw in zip(names, raws) if raw is not None}
        if found:
            dims = sorted({int(d) for d in found.values() if isinstance(d, (int, float))})
            logger.warning(
                "router: Redis holds posteriors of %d model(s) (%s) written by an earlier conduit-router, whose context "
                "vector had %s values (this one has %d: the query analyser's domains changed); they are not used: "
                "every model learns again from its prior under %s*. Delete the keys %s* once no worker of the earlier "
                "version runs.", len(found), ", ".join(sorted(found)), "/".join(map(str, dims)) or "?", self.dim,
                f"{self.store.prefix}router:post:{self.space}:", prefix)

    def _args(self, u: _Update) -> list[str]:
        drift = self.drift or _NO_DRIFT
        return [
            str(self.dim), _fmt(self.gamma), orjson.dumps(u.x).decode() if u.x is not None else "",
            "" if u.y is None else _fmt(u.y), _fmt(u.weight),
            "" if u.log_latency is None else _fmt(u.log_latency), _fmt(self.latency_gamma),
            "" if u.expected is None else _fmt(u.expected), _fmt(drift.odds), _fmt(drift.threshold),
            _fmt(drift.keep), str(u.cell), "" if u.spread is None else _fmt(u.spread),
        ]

    async def _run(self, u: _Update) -> ModelStats:
        async with self._slots:
            out = await self._script(keys=[self.key(u.name)], args=self._args(u))
        data = orjson.loads(out)
        if "replaced" in data:
            self._stale(u.name, int(data["replaced"]), "was replaced by this update")
        stats = ModelStats.from_json(data)
        self._snapshot = {**self._snapshot, u.name: stats}
        return stats

    async def _replay(self) -> None:
        # Each entry leaves the backlog before it is sent, so concurrent replays (two
        # requests right after Redis came back) never send one twice; it goes back to the
        # front when the send fails.
        while self._backlog:
            entry = self._backlog.popleft()
            try:
                await self._run(entry)
            except BaseException:
                self._backlog.appendleft(entry)
                raise
            self.counters["backlog_replayed"] += 1

    async def update(self, name: str, x: np.ndarray | None, y: float | None, weight: float,
                     log_latency: float | None, expected: float | None = None, cell: int = 0,
                     spread: float | None = None) -> ModelStats:
        check_cell(cell)
        if x is not None and len(x) != self.dim:
            raise ValueError(f"the context vector has {len(x)} values; these posteriors take {self.dim}")
        pending = _Update(name, None if x is None else [float(v) for v in x], y, weight, log_latency, expected, cell,
                          spread)
        try:
            await self._replay()
            stats = await self._run(pending)
        except self._errors() as exc:
            self._failed("update", exc)
            if len(self._backlog) < _BACKLOG_LIMIT:
                self._backlog.append(pending)
            local = self._snapshot.get(name)
            local = local.copy() if local is not None else ModelStats.empty(self.dim)
            apply_update(local, x, y, weight, self.gamma, log_latency, self.latency_gamma, expected, self.drift, cell,
                         spread)
            self._snapshot = {**self._snapshot, name: local}
            return local
        self.outages.recovered()
        self.counters["updates"] += 1
        return stats

    @property
    def backlog(self) -> int:
        """Updates waiting for Redis to come back."""
        return len(self._backlog)

    def _failed(self, what: str, exc: BaseException) -> None:
        self.counters["errors"] += 1
        self.outages.failed(f"posterior {what}", exc)

    async def reset(self, names: Iterable[str]) -> None:
        keys = [self.key(n) for n in names]
        if keys:
            await self.client.delete(*keys)
        self._generation += 1
        self._snapshot = {}
        self._refresh.forget()

    async def close(self) -> None:
        """Finish the read in flight; try once more to deliver updates made while Redis was away."""
        await self._refresh.wait()
        try:
            await self._replay()
        except self._errors() as exc:
            logger.error("router posteriors: %d updates could not reach Redis before shutdown (%s)",
                         len(self._backlog), exc)
