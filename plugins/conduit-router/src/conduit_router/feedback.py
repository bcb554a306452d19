"""Turning what users and providers tell us into quality observations.

Explicit feedback (weight 1): ``quality`` in 0..1, ``rating`` 1..5 (mapped to 0..1), or
``success`` / thumbs (1 or 0); several given are averaged.

Implicit feedback, recorded by :meth:`Router.complete` and :meth:`Router.route`:

* a provider error or timeout: quality 0, weight 1 (and the model's breaker counts it);
* an empty or refused answer: quality 0, weight 1;
* a normal answer: quality 1 with weight :data:`IMPLICIT_SUCCESS_WEIGHT` (weak evidence:
  an answer arrived, nobody said whether it was good), capped at
  :data:`SLOW_ANSWER_QUALITY` when the latency passed the user's tolerance;
* a retry: a semantically similar query from the same user within
  :data:`RETRY_WINDOW_SECONDS` counts against the previous answer: quality 0, weight 1.
"""

from __future__ import annotations

import base64
import math
import re
import time
from typing import Any

import numpy as np
import orjson

from conduit.storage import StoreError

__all__ = [
    "IMPLICIT_SUCCESS_WEIGHT",
    "RETRY_WINDOW_SECONDS",
    "SLOW_ANSWER_QUALITY",
    "RetryDetector",
    "answer_problem",
    "explicit_reward",
]

IMPLICIT_SUCCESS_WEIGHT = 0.25
SLOW_ANSWER_QUALITY = 0.5
RETRY_WINDOW_SECONDS = 300.0
_RECENT_PER_USER = 8

_REFUSAL = re.compile(
    r"^\s*(i'?m sorry,?\s+but\s+)?(i\s+(can(?:no|')t|cannot|won'?t|am unable to|'?m unable to|am not able to|"
    r"'?m not able to)\s+(help|assist|comply|provide|do that|answer|fulfil)|as an ai\b[^.]{0,60}\b(can(?:no|')t|"
    r"cannot|unable))",
    re.IGNORECASE,
)


def explicit_reward(quality: Any = None, rating: Any = None, success: Any = None) -> float | None:
    """The 0..1 reward of an explicit report, or None when it carries no quality signal.

    Raises :class:`ValueError` naming the field when a value is out of range.
    """
    values: list[float] = []
    if quality is not None:
        if isinstance(quality, bool) or not isinstance(quality, (int, float)) or not math.isfinite(quality) \
                or not 0 <= quality <= 1:
            raise ValueError(f"quality must be a number in [0, 1], got {quality!r}")
        values.append(float(quality))
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not math.isfinite(rating) \
                or not 1 <= rating <= 5:
            raise ValueError(f"rating must be a number from 1 to 5, got {rating!r}")
        values.append((float(rating) - 1.0) / 4.0)
    if success is not None:
        if not isinstance(success, bool):
            raise ValueError(f"success (thumbs up/down) must be true or false, got {success!r}")
        values.append(1.0 if success else 0.0)
    return sum(values) / len(values) if values else None


def answer_problem(text: str | None) -> str | None:
    """``"empty"`` or ``"refused"`` when an answer is no answer, else None."""
    if text is None or not text.strip():
        return "empty"
    if _REFUSAL.search(text[:300]):
        return "refused"
    return None


class RetryDetector:
    """Remembers each user's recent queries (in the state store, so all workers see them)
    and finds the one a new query repeats.

    ``threshold`` is the cosine similarity of embeddings at or above which two queries are
    the same question (see :data:`conduit_router.embedding.RETRY_SIMILARITY`).
    """

    def __init__(self, store: Any, threshold: float, *, window: float = RETRY_WINDOW_SECONDS,
                 clock: Any = time.time) -> None:
        self.store = store
        self.threshold = threshold
        self.window = window
        self.clock = clock

    def _key(self, user_id: str) -> str:
        return f"router:recent:{user_id}"

    async def observe(self, user_id: str, query_id: str, embedding: np.ndarray) -> str | None:
        """Record this query; return the id of the earlier query it retries, if any."""
        now = self.clock()
        try:
            raw = await self.store.get(self._key(user_id))
        except StoreError:
            return None
        recent: list[dict[str, Any]] = []
        if raw:
            try:
                recent = [r for r in orjson.loads(raw) if now - float(r["t"]) <= self.window]
            except (ValueError, TypeError, KeyError):
                recent = []
        vec = np.asarray(embedding, dtype=np.float32)
        retried: str | None = None
        best = self.threshold
        for entry in recent:
            other = np.frombuffer(base64.b64decode(entry["e"]), dtype=np.float16).astype(np.float32)
            if other.shape != vec.shape:
                continue
            denom = float(np.linalg.norm(other) * np.linalg.norm(vec)) or 1.0
            similarity = float(other @ vec) / denom
            if similarity >= best and entry["q"] != query_id:
                best, retried = similarity, entry["q"]
        recent.append({"q": query_id, "t": now, "e": base64.b64encode(vec.astype(np.float16).tobytes()).decode()})
        try:
            await self.store.set(self._key(user_id), orjson.dumps(recent[-_RECENT_PER_USER:]), ttl=self.window)
        except StoreError:
            pass
        return retried
