"""Per-query features for the bandit, cached in memory and in the shared state store.

:class:`QueryAnalyzer` turns text into :class:`~conduit_router.models.QueryFeatures`:
an embedding, a token estimate, a complexity score and a domain, plus the *context
vector* the bandit conditions on::

    context = [ R · embedding (PROJECTION_DIM values, R a fixed seeded Gaussian matrix),
                one-hot(domain) (one per DOMAINS entry: 7), complexity, log-length, 1 (bias) ]

The projection matrix is derived from a fixed seed and the embedding's dimension, so every
worker and host computes the same context for the same text. The feature space's name
(:attr:`QueryAnalyzer.space`, which keys shared caches and posteriors) includes the
embedder, the projection and the context layout (:func:`context_layout`), so statistics
learned over another layout (an earlier version's domains) are never read as this one's. Features are cached in a
per-process LRU and, when the state store is shared (Redis), there too under a key that
names the embedder; the shared cache sits behind a circuit breaker, so a Redis outage
costs one timeout and then nothing: routing goes on from memory and recomputation. The
outage is logged once (:class:`~conduit_router.outage.OutageLog`), and its end once.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from conduit.ml.resilience import CircuitBreaker
from conduit.storage import MemoryStateStore, StoreError
from conduit_router.analysis import classify_domain, complexity_score, estimate_tokens
from conduit_router.embedding import HashedEmbedder, embedder_name, resolve_embedder
from conduit_router.models import DOMAINS, QueryFeatures
from conduit_router.outage import OutageLog
from conduit_router.telemetry import record_cache

__all__ = ["PROJECTION_DIM", "QueryAnalyzer", "context_dimension", "context_layout", "domain_cell", "domain_slice"]

logger = logging.getLogger("conduit.router")

PROJECTION_DIM = 16
_PROJECTION_SEED = 0x5EED_C0DE
_PROJECTION_SCALE = 0.5


def context_dimension(projection_dim: int = PROJECTION_DIM) -> int:
    """Length of the context vector: projection + domains + complexity + length + bias."""
    return projection_dim + len(DOMAINS) + 3


def domain_slice(dim: int) -> slice:
    """Where the domain one-hot sits in a context vector of ``dim`` values: after the
    projected embedding (whose values are the ``slice.start`` before it), before complexity,
    log-length and the bias."""
    start = dim - len(DOMAINS) - 3
    return slice(start, start + len(DOMAINS))


def domain_cell(x: np.ndarray) -> int:
    """The index of the domain a context vector's one-hot marks (0 for a context too short
    to hold one): the kind of query the change detector keeps its sums for."""
    cells = domain_slice(x.shape[0])
    return int(np.argmax(x[cells])) if cells.start >= 0 else 0


def context_layout(domains: Sequence[str] = DOMAINS) -> str:
    """A short name for the context vector's layout: the number and a digest of the domains
    of its one-hot (``d7-`` and 6 hex digits). It changes whenever the domains do."""
    digest = hashlib.blake2b(",".join(domains).encode("utf-8"), digest_size=3).hexdigest()
    return f"d{len(domains)}-{digest}"


class QueryAnalyzer:
    """Features for query texts; see the module docstring.

    ``embedder`` as in :func:`~conduit_router.embedding.resolve_embedder` (resolved on first
    use, so building a router never loads a model); ``store`` a state store for the shared
    cache (ignored when it is the in-process memory store); ``cache_size`` entries are kept
    in memory; shared entries live ``cache_ttl`` seconds.
    """

    def __init__(
        self,
        embedder: Any = None,
        *,
        store: Any = None,
        projection_dim: int = PROJECTION_DIM,
        cache_size: int = 10_000,
        cache_ttl: float = 86_400.0,
        outages: OutageLog | None = None,
    ) -> None:
        self._embedder_arg = embedder
        self._embedder: Any = None
        self._projection: np.ndarray | None = None
        self.projection_dim = projection_dim
        self.store = None if store is None or isinstance(store, MemoryStateStore) else store
        self.cache_size = cache_size
        self.cache_ttl = cache_ttl
        self._cache: OrderedDict[str, QueryFeatures] = OrderedDict()
        self.breaker = CircuitBreaker(failure_threshold=3, success_threshold=1, timeout=30.0,
                                      name="router feature cache", failure_exceptions=(StoreError, OSError))
        self.outages = outages or OutageLog(logger)
        self.counters = {"memory_hits": 0, "store_hits": 0, "misses": 0, "store_errors": 0}

    # --- the embedder and the projection ------------------------------------------------

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            self._embedder = resolve_embedder(self._embedder_arg)
        return self._embedder

    @property
    def space(self) -> str:
        """Names the feature space (embedder, projection, context layout): keys caches and posteriors."""
        return f"{self.legacy_space}/{context_layout()}"

    @property
    def legacy_space(self) -> str:
        """The space's name before it included the context layout (conduit-router with six
        domains, 25-value contexts): where posteriors of that version are in Redis."""
        return f"{embedder_name(self.embedder)}/p{self.projection_dim}".replace(":", "_")

    @property
    def dimension(self) -> int:
        return context_dimension(self.projection_dim)

    def _matrix(self, embed_dim: int) -> np.ndarray:
        if self._projection is None or self._projection.shape[1] != embed_dim:
            rng = np.random.default_rng([_PROJECTION_SEED, embed_dim, self.projection_dim])
            self._projection = rng.standard_normal((self.projection_dim, embed_dim)) / math.sqrt(self.projection_dim)
        return self._projection

    def context(self, embedding: np.ndarray, domain: str, complexity: float, tokens: int) -> np.ndarray:
        """The bandit's context vector for these features (see the module docstring)."""
        proj = self._matrix(embedding.shape[0]) @ embedding * _PROJECTION_SCALE
        onehot = np.zeros(len(DOMAINS))
        onehot[DOMAINS.index(domain)] = 1.0
        length = min(1.0, math.log1p(tokens) / math.log1p(2000))
        return np.concatenate([proj, onehot, [complexity, length, 1.0]])

    # --- analysis --------------------------------------------------------------------------

    def _build(self, text: str, embedding: np.ndarray) -> QueryFeatures:
        norm = float(np.linalg.norm(embedding))
        if norm > 0:
            embedding = embedding / norm
        tokens = estimate_tokens(text)
        domain, scores = classify_domain(text)
        complexity = complexity_score(text, domain, tokens)
        ctx = self.context(embedding, domain, complexity, tokens)
        return QueryFeatures(
            token_estimate=tokens,
            complexity=complexity,
            domain=domain,
            embedding=tuple(float(v) for v in embedding),
            context=tuple(float(v) for v in ctx),
            embedder=embedder_name(self.embedder),
            domain_scores=scores,
        )

    def _embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        embedder = self.embedder
        if hasattr(embedder, "embed_array"):
            return np.asarray(embedder.embed_array(list(texts)), dtype=np.float64)
        return np.asarray(embedder.embed(list(texts)), dtype=np.float64)

    async def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(self.embedder, HashedEmbedder):
            return self._embed_sync(texts)
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self._embed_sync, texts)

    def _remember(self, key: str, features: QueryFeatures) -> None:
        self._cache[key] = features
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _key(self, text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()

    def cached(self, text: str) -> QueryFeatures | None:
        """Features from the in-process cache, without computing anything."""
        key = self._key(text)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
        return hit

    async def analyze(self, text: str) -> QueryFeatures:
        """Features of ``text``: from memory, else from the shared cache, else computed."""
        key = self._key(text)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.counters["memory_hits"] += 1
            record_cache("features", True)
            return hit
        shared = await self._load(text, key)
        if shared is not None:
            self.counters["store_hits"] += 1
            record_cache("features", True)
            self._remember(key, shared)
            return shared
        self.counters["misses"] += 1
        record_cache("features", False)
        features = self._build(text, (await self._embed([text]))[0])
        self._remember(key, features)
        await self._save(key, features)
        return features

    async def warm(self, texts: Sequence[str]) -> int:
        """Compute and cache features for many texts in one embedding batch; returns how many were new."""
        todo = list(dict.fromkeys(t for t in texts if self._key(t) not in self._cache))
        if todo:
            vectors = await self._embed(todo)
            for text, vec in zip(todo, vectors):
                self._remember(self._key(text), self._build(text, vec))
        return len(todo)

    # --- the shared cache (behind the breaker) ---------------------------------------------

    def _store_key(self, key: str) -> str:
        return f"router:features:{self.space}:{key}"

    async def _load(self, text: str, key: str) -> QueryFeatures | None:
        if self.store is None or not self.breaker.can_execute():
            return None
        try:
            raw = await self.store.get(self._store_key(key))
        except (StoreError, OSError) as exc:
            self._store_failed("feature cache read", exc)
            return None
        self.breaker.record_success()
        self.outages.recovered()
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            embedding = np.frombuffer(base64.b64decode(data["e"]), dtype=np.float32).astype(np.float64)
        except (ValueError, KeyError, TypeError):
            return None
        return self._build(text, embedding)

    async def _save(self, key: str, features: QueryFeatures) -> None:
        if self.store is None or not self.breaker.can_execute():
            return
        payload = orjson.dumps({"e": base64.b64encode(np.asarray(features.embedding, dtype=np.float32).tobytes()).decode(),
                                "t": time.time()})
        try:
            await self.store.set(self._store_key(key), payload, ttl=self.cache_ttl)
        except (StoreError, OSError) as exc:
            self._store_failed("feature cache write", exc)
            return
        self.breaker.record_success()
        self.outages.recovered()

    def _store_failed(self, what: str, exc: BaseException) -> None:
        self.counters["store_errors"] += 1
        self.breaker.record_failure()
        self.outages.failed(what, exc)

    def stats(self) -> dict[str, Any]:
        return {**self.counters, "entries": len(self._cache), "breaker": self.breaker.state.value,
                "embedder": embedder_name(self.embedder) if self._embedder is not None else None}
