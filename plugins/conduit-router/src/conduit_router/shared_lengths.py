"""Learned answer lengths shared by every worker and host: the figures in Redis.

:class:`~conduit_router.lengths.AnswerLengths` learns how long each model's answers run from
the usage the router sees. Per process, each worker learned from its own answers only, and
a deployment of N workers learned the same lengths N times, each from a part of the traffic.
With a Redis state store the figures (the pooled regression's sums, each model's verbosity
sums) are one JSON value, ``<prefix>router:lengths:<feature space>``, and every answer updates
it in one Lua script: the same arithmetic as ``AnswerLengths.apply``, atomic, so concurrent
workers never lose an answer. The script returns the new figures, which the local
``AnswerLengths`` takes over; decisions read that local copy, refreshed from Redis at most
every ``refresh_interval`` seconds (one GET), so a decision costs no round trip most of the
time.

The worker prepares each answer (its ratio to the pooled estimate needs the regression's
solution, which the script does not compute) from its copy, at most ``refresh_interval``
old. When Redis does not answer, the answer is applied to the local copy (routing goes on,
and this process keeps learning), queued (at most ``BACKLOG_LIMIT``), and sent in order once
Redis answers again; the router's outage log says so once.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import numpy as np
import orjson

from conduit_router.lengths import AnswerLengths, Sample
from conduit_router.outage import OutageLog

__all__ = ["UPDATE_SCRIPT", "SharedLengths", "lengths_key"]

logger = logging.getLogger("conduit.router")

# KEYS[1]: the figures (JSON: d, S (d*d, row-major), r (d), m: model -> [Σw, Σw·relative, answers]).
# Figures of another dimension are replaced. ARGV: 1 dim, 2 gamma, 3 prior weight, 4 model,
# 5 x (JSON list), 6 ratio, 7 relative, 8 weight.
UPDATE_SCRIPT = """
local d = tonumber(ARGV[1])
local g, pw = tonumber(ARGV[2]), tonumber(ARGV[3])
local model = ARGV[4]
local x = cjson.decode(ARGV[5])
local ratio, rel, w = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local raw = redis.call('GET', KEYS[1])
local st
if raw then
  st = cjson.decode(raw)
end
if not st or tonumber(st.d) ~= d then
  st = {d = d, S = {}, r = {}, m = {}}
  for i = 1, d * d do st.S[i] = 0 end
  for i = 1, d do st.r[i] = 0 end
end
local sums = st.m[model] or {0, 0, 0}
sums[1] = g * sums[1] + w
sums[2] = g * sums[2] + w * rel
sums[3] = sums[3] + 1
st.m[model] = sums
local total, weighted = 0, 0
for _, s in pairs(st.m) do
  total = total + s[1]
  weighted = weighted + s[1] * (pw + s[2]) / (pw + s[1])
end
local verbosity = ((pw + sums[2]) / (pw + sums[1])) / (weighted / total)
local y = ratio / verbosity
local S, r = st.S, st.r
for i = 1, d do
  local base = (i - 1) * d
  for j = 1, d do
    S[base + j] = g * S[base + j] + x[i] * x[j]
  end
  r[i] = g * r[i] + x[i] * y
end
local out = cjson.encode(st)
redis.call('SET', KEYS[1], out)
return out
"""


def lengths_key(store: Any, space: str) -> str:
    """One value per feature space (the regression's dimension and meaning depend on it)."""
    return f"{getattr(store, 'prefix', '')}router:lengths:{space}"


def _figures(raw: Any, dim: int) -> tuple[np.ndarray, np.ndarray, dict[str, list[float]]] | None:
    """The regression's sums and the verbosity sums from the stored JSON (None: another dimension)."""
    data = orjson.loads(raw)
    if int(data.get("d", -1)) != dim:
        return None
    models = data.get("m") or {}  # Lua encodes an empty table as {}; be lenient with []
    wordy = {str(name): [float(v) for v in sums] for name, sums in dict(models).items()}
    return np.asarray(data["S"], dtype=float).reshape(dim, dim), np.asarray(data["r"], dtype=float), wordy


class SharedLengths:
    """``lengths`` whose updates are made in Redis (``store.client``) and mirrored locally."""

    BACKLOG_LIMIT = 10_000

    def __init__(self, lengths: AnswerLengths, store: Any, key: str, dim: int, *, refresh_interval: float = 0.5,
                 outages: OutageLog | None = None) -> None:
        self.lengths = lengths
        self.key = key
        self.dim = dim
        self.client = store.client
        self.refresh_interval = refresh_interval
        self._script = self.client.register_script(UPDATE_SCRIPT)
        self.outages = outages or OutageLog(logger)
        self._fetched_at = -1e18
        self._backlog: deque[Sample] = deque()

    def _errors(self) -> tuple[type[BaseException], ...]:
        from redis.exceptions import RedisError

        return (RedisError, OSError, TimeoutError)

    def _take(self, raw: Any) -> None:
        figures = _figures(raw, self.dim) if raw is not None else None
        if figures is not None:
            self.lengths.take(*figures)

    async def refresh(self, *, force: bool = False) -> None:
        """Re-read the shared figures when the copy is older than ``refresh_interval``."""
        now = time.monotonic()
        if not force and now - self._fetched_at < self.refresh_interval:
            return
        self._fetched_at = now  # also when Redis is down: do not try on every decision
        try:
            await self._replay()
            raw = await self.client.get(self.key)
        except self._errors() as exc:
            self.outages.failed("answer-length read", exc)
            return
        self.outages.recovered()
        self._take(raw)

    def _args(self, sample: Sample) -> list[str]:
        lengths = self.lengths
        return [str(self.dim), repr(lengths.gamma), repr(lengths.prior_weight), sample.model,
                orjson.dumps([float(v) for v in sample.x]).decode(), repr(sample.ratio), repr(sample.relative),
                repr(sample.weight)]

    async def _send(self, sample: Sample) -> None:
        self._take(await self._script(keys=[self.key], args=self._args(sample)))

    async def _replay(self) -> None:
        # Each entry leaves the backlog before it is sent, so concurrent replays never send one
        # twice; it goes back to the front when the send fails.
        while self._backlog:
            sample = self._backlog.popleft()
            try:
                await self._send(sample)
            except BaseException:
                self._backlog.appendleft(sample)
                raise

    async def observe(self, model: str, x: Any, prior_tokens: float, tokens: float, *, weight: float = 1.0) -> bool:
        """As :meth:`AnswerLengths.observe`, for every worker sharing the store."""
        if len(x) != self.dim:
            return False
        sample = self.lengths.prepare(model, x, prior_tokens, tokens, weight)
        if sample is None:
            return False
        try:
            await self._replay()
            await self._send(sample)
        except self._errors() as exc:
            self.outages.failed("answer-length update", exc)
            self.lengths.apply(sample)
            if len(self._backlog) < self.BACKLOG_LIMIT:
                self._backlog.append(sample)
            return True
        self.outages.recovered()
        self._fetched_at = time.monotonic()
        return True

    @property
    def backlog(self) -> int:
        """Answers waiting for Redis to come back."""
        return len(self._backlog)

    async def close(self) -> None:
        """Try once more to deliver answers learned while Redis was away."""
        try:
            await self._replay()
        except self._errors() as exc:
            logger.error("router answer lengths: %d answers could not reach Redis before shutdown (%s)",
                         len(self._backlog), exc)
