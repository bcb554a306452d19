"""Learned answer lengths shared by every worker and host: the figures in Redis.

:class:`~conduit_router.lengths.AnswerLengths` learns how long each model's answers run from
the usage the router sees, from sums kept per (cell, model) pair. Per process, each worker
learned from its own answers only, and a deployment of N workers learned the same lengths N
times, each from a part of the traffic. With a Redis state store the pairs' sums are the
fields of one hash, ``<prefix>router:answer-lengths:<feature space>`` (field ``<cell>|<model>``,
packed little-endian doubles: ``Σ w``, the answers seen, the upper triangle of ``Σ w·z zᵀ``
row by row and ``Σ w·r·z``, read back with ``np.frombuffer``: no parsing), and
every answer updates its pair in one Lua script: the same arithmetic as
``AnswerLengths.fold``, atomic, so concurrent workers never lose an answer. The script
returns the pair's new sums, which the local ``AnswerLengths`` takes over (and refits from);
the other pairs are re-read with one ``HGETALL`` at most every ``refresh_interval`` seconds,
in the background once a first read is in hand (:mod:`conduit_router.background`), so a
decision costs no round trip for them (with ``refresh_interval=0`` every read waits). Each
worker fits the estimates from the sums (a few small solves), so Redis does no linear
algebra.

When Redis does not answer, the answer is applied to the local copy (routing goes on, and
this process keeps learning), queued (at most ``BACKLOG_LIMIT``), and sent in order once
Redis answers again; the router's outage log says so once.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from typing import Any

import numpy as np
import orjson

from conduit_router.background import Refresh
from conduit_router.lengths import AnswerLengths, Pair, Sample
from conduit_router.outage import OutageLog

__all__ = ["UPDATE_SCRIPT", "SharedLengths", "lengths_key"]

logger = logging.getLogger("conduit.router")

# KEYS[1]: the hash of pairs. ARGV: 1 k (the cell's features), 2 gamma, 3 field, 4 z (JSON
# list), 5 ratio, 6 weight. A pair is packed little-endian doubles: Σw, answers, the upper
# triangle of Σ w·z zᵀ row by row, Σ w·ratio·z; one of another size starts again.
UPDATE_SCRIPT = """
local k = tonumber(ARGV[1])
local g = tonumber(ARGV[2])
local z = cjson.decode(ARGV[4])
local ratio, w = tonumber(ARGV[5]), tonumber(ARGV[6])
local t = k * (k + 1) / 2
local size = 2 + t + k
local raw = redis.call('HGET', KEYS[1], ARGV[3])
local v = {}
if raw and #raw == 8 * size then
  local pos = 1
  for i = 1, size do
    v[i], pos = struct.unpack('<d', raw, pos)
  end
else
  for i = 1, size do v[i] = 0 end
end
v[1] = g * v[1] + w
v[2] = v[2] + 1
local s = 3
for i = 1, k do
  local wz = w * z[i]
  for j = i, k do
    v[s] = g * v[s] + wz * z[j]
    s = s + 1
  end
end
for i = 1, k do
  v[2 + t + i] = g * v[2 + t + i] + w * ratio * z[i]
end
local parts = {}
for i = 1, size do parts[i] = struct.pack('<d', v[i]) end
local out = table.concat(parts)
redis.call('HSET', KEYS[1], ARGV[3], out)
return out
"""


def lengths_key(store: Any, space: str) -> str:
    """One hash per feature space (the regressions' dimension and meaning depend on it)."""
    return f"{getattr(store, 'prefix', '')}router:answer-lengths:{space}"


def field(cell: int, model: str) -> str:
    """The hash field of a (cell, model) pair."""
    return f"{cell}|{model}"


@functools.cache
def _triangle(k: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rows, cols = np.triu_indices(k)
    return (rows, cols), (cols, rows)


def _pair(raw: Any, k: int) -> Pair | None:
    """A pair's sums from its stored bytes (None: another dimension, or not a pair)."""
    t = k * (k + 1) // 2
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 8 * (2 + t + k):
        return None
    values = np.frombuffer(raw, dtype="<f8")
    if not np.all(np.isfinite(values)):
        return None
    upper, lower = _triangle(k)
    S = np.empty((k, k))
    S[upper] = values[2:2 + t]
    S[lower] = values[2:2 + t]
    return Pair(S, values[2 + t:].astype(float), float(values[0]), int(values[1]))


def _key(name: Any) -> tuple[int, str] | None:
    text = name.decode() if isinstance(name, bytes) else str(name)
    cell, _, model = text.partition("|")
    return (int(cell), model) if cell.isdigit() and model else None


class SharedLengths:
    """``lengths`` whose updates are made in Redis (``store.client``) and mirrored locally."""

    BACKLOG_LIMIT = 10_000

    def __init__(self, lengths: AnswerLengths, store: Any, key: str, dim: int, *, refresh_interval: float = 0.5,
                 outages: OutageLog | None = None) -> None:
        self.lengths = lengths
        self.key = key
        self.dim = dim
        self.k = lengths.split(np.zeros(dim))[1].size  # the cells' features
        self.client = store.client
        self.refresh_interval = refresh_interval
        self._script = self.client.register_script(UPDATE_SCRIPT)
        self.outages = outages or OutageLog(logger)
        self._refresh = Refresh("answer-length read", refresh_interval)
        self._backlog: deque[Sample] = deque()
        self._seen: dict[tuple[int, str], tuple[Any, Pair]] = {}  # the stored bytes last parsed, per pair

    def _errors(self) -> tuple[type[BaseException], ...]:
        from redis.exceptions import RedisError

        return (RedisError, OSError, TimeoutError)

    def _take_all(self, raw: dict[Any, Any]) -> None:
        if not raw:
            return  # nothing shared yet: keep what this process learned
        pairs, seen, changed = {}, {}, False
        for name, value in raw.items():
            key = _key(name)
            if key is None:
                continue
            # A pair whose stored bytes did not change since the last read is not parsed again.
            known = self._seen.get(key)
            if known is not None and known[0] == value:
                pair: Pair | None = known[1]
            else:
                pair, changed = _pair(value, self.k), True
            if pair is not None:
                pairs[key], seen[key] = pair, (value, pair)
        if changed or seen.keys() != self._seen.keys():
            self.lengths.take(pairs)
        self._seen = seen

    async def refresh(self, *, force: bool = False) -> None:
        """Re-read the shared figures when the copy is older than ``refresh_interval``: once a
        first read is done, by :meth:`start_due` in the background (``force``: now, and wait)."""
        await self._refresh.ensure(self._read, wait=force)

    def start_due(self) -> None:
        """Start the read a stale :meth:`refresh` asked for, as a task of the running loop."""
        self._refresh.start_due()

    async def _read(self) -> None:
        try:
            await self._replay()
            raw = await self.client.hgetall(self.key)
        except self._errors() as exc:
            self.outages.failed("answer-length read", exc)
            return
        self.outages.recovered()
        self._take_all(raw)

    def _args(self, sample: Sample) -> list[str]:
        return [str(self.k), repr(self.lengths.gamma), field(sample.cell, sample.model),
                orjson.dumps([float(v) for v in sample.z]).decode(), repr(sample.ratio), repr(sample.weight)]

    async def _send(self, sample: Sample) -> None:
        pair = _pair(await self._script(keys=[self.key], args=self._args(sample)), self.k)
        if pair is not None:
            self.lengths.take({(sample.cell, sample.model): pair}, replace=False)

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
        # The script returned this pair only: the refresh clock keeps running for the others.
        self.outages.recovered()
        return True

    @property
    def backlog(self) -> int:
        """Answers waiting for Redis to come back."""
        return len(self._backlog)

    async def close(self) -> None:
        """Finish the read in flight; try once more to deliver answers learned while Redis was away."""
        await self._refresh.wait()
        try:
            await self._replay()
        except self._errors() as exc:
            logger.error("router answer lengths: %d answers could not reach Redis before shutdown (%s)",
                         len(self._backlog), exc)
