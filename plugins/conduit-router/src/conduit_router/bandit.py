"""Contextual Thompson sampling over models, and the static baselines beside it.

Each model's quality is a Bayesian linear regression on the query's context vector ``x``:
prior ``θ ~ N(μ0, σ²Λ0⁻¹)`` with ``μ0`` putting the model's ``quality_prior`` on the bias
term and, on the context weights, the effects every model shares (a hierarchical prior
fitted from all models' evidence, :func:`shared_effects`: "this kind of query is hard" is
learned once, and a model's own weights, held close to it (``domain_ridge``,
``embedding_ridge``, ``ridge``), learn how that model differs), posterior ``A = Λ0 + S``,
``μ = A⁻¹(Λ0 μ0 + r)``, ``Cov = σ² A⁻¹`` (``S``, ``r`` from :mod:`conduit_router.posteriors`).
For one query the predicted quality is Gaussian,
``N(x·μ, σ² xᵀA⁻¹x)``, so sampling θ and projecting it is the same as sampling that
scalar: a decision draws ``K`` samples per candidate, scores each

    score = w_q · quality − w_c · cost / max_cost − w_l · latency / max_latency

(``max_*`` over the whole catalogue for this query), picks the winner of the first draw
(Thompson sampling) and reports as confidence the share of draws the winner wins.

Under a quality target ``t`` (:attr:`Objective.quality_target`, or a query's
``min_relative_quality``) a rule decides instead, judged lexicographically: first reach the
target, then pay least. Each candidate's posterior probability of being within ``t`` times
the quality of the candidate with the best posterior mean is computed
(:func:`within_probability`), and the cheapest candidate (``c · cost/max_cost + l ·
latency/max_latency`` with the objective's weights) whose probability is at least
``target_confidence`` wins; that probability is the confidence. While the first draw's best
candidate is still unsettled (posterior spread above ``target_settled_sd``) it is chosen
instead: Thompson sampling of which model is best, so an unlucky start is corrected. With
``target_confidence=0`` the per-draw rule decides (in each draw the cheapest candidate within
``t`` of that draw's best; the first draw decides), which keeps choosing a cheap model whose
true quality sits just under the target about as often as not.
The noise ``σ`` (how far one quality answer strays from its model's true quality) is
learned from the full-weight answers, pooled over every model: each answer's squared error
against the quality predicted before it, over ``1 + v`` with ``σ²·v`` that prediction's
variance (the sums ``ee``, ``ev`` of :mod:`conduit_router.posteriors`), with
``config.noise`` as a prior worth ``NOISE_PRIOR_ANSWERS`` answers, taken about two standard
errors high and never above ``config.noise`` (:func:`learned_noise`). Implicit evidence (an
answer that merely arrived, weight below 1) does not count: it says nothing of the noise.
Right-or-wrong answers leave it there (their spread is 0.3–0.5); graded answers (a judge's
score, a rating) with less noise narrow every posterior spread, so the router needs fewer of
them to tell two models apart. Only the spreads move: the posterior means do not depend on
``σ``.
Latency is learned per model as a discounted mean of log latency with the model's
``expected_latency_ms`` as a prior worth ``LATENCY_PRIOR_WEIGHT`` observations.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from conduit_router.features import domain_cell, domain_slice
from conduit_router.models import ModelSpec, Objective
from conduit_router.posteriors import DriftTest, ModelStats

__all__ = [
    "POLICIES",
    "BanditConfig",
    "Posterior",
    "Scored",
    "ThompsonSampler",
    "learned_noise",
    "predicted_latency",
    "shared_effects",
    "within_probability",
]

LATENCY_PRIOR_WEIGHT = 3.0
NOISE_PRIOR_ANSWERS = 20.0  # answers' worth of the configured noise in the learned estimate
NOISE_FLOOR = 0.01  # the least noise assumed, however alike the answers
DEFAULT_QUALITY_PRIOR = 0.6
DEFAULT_LATENCY_MS = 1000.0
POLICIES = ("thompson", "strongest", "cheapest", "random")


@dataclass(frozen=True)
class BanditConfig:
    """Knobs of the learner.

    ``noise`` is the standard deviation of a quality observation around its mean;
    ``prior_strength`` how many observations the quality prior is worth; ``ridge`` the
    prior precision of the context weights around the effects all models share
    (``pooling``; around 0 without it), and of those shared effects around 0;
    ``domain_ridge`` and ``embedding_ridge`` replace ``ridge`` for a model's own weights on
    the domain one-hot and on the projected embedding (:func:`_prior_precision`: a model's
    quality moves with the kind of query far more readily than with a direction of the
    embedding, which refines within a domain once evidence is plentiful);
    ``exploration`` scales the posterior spread
    (1 is plain Thompson sampling); ``gamma`` a discount applied
    to a model's quality evidence at each of its updates (1: none, forgetting is left to
    the change detector ``drift_*``, see :class:`~conduit_router.posteriors.DriftTest`);
    ``draws`` the samples per candidate per decision; ``target_confidence`` how sure the
    quality-target rule must be that a cheaper candidate is within the target before it is
    preferred (0: the per-draw rule), ``target_settled_sd`` the posterior spread below which
    the sampled best candidate is no longer explored first; ``exploration_floor`` (below 1)
    tempers the weighted score's sampling as a query's evidence grows, down to that share of
    ``exploration``, half-way at ``exploration_half`` observations' worth (the quality-target
    rule keeps its own exploration); ``paced_exploration_floor`` replaces ``exploration_floor``
    for decisions under a spending limit (:class:`~conduit_router.budget.BudgetPacer`: on
    by default there, off otherwise). Under a spending limit, while the query's domain has
    fewer than ``paced_domain_window`` answers' worth of evidence over all models, a
    candidate with fewer than ``paced_domain_evidence`` of them is sampled untempered and at
    least as widely as the domain prior alone allows (``noise / √domain_ridge``): two unlucky
    early answers do not end the exploration of a model on a kind of query, which left a
    limit underspent (``paced_domain_evidence`` 0: off). ``learn_noise`` lowers ``noise``
    to what the answers show when they vary less (graded feedback; :func:`learned_noise`):
    ``noise`` is then the most the router assumes.
    """

    noise: float = 0.3
    prior_strength: float = 3.0
    ridge: float = 4.0
    domain_ridge: float = 2.0
    embedding_ridge: float = 30.0
    exploration: float = 1.0
    gamma: float = 1.0
    latency_gamma: float = 0.98
    draws: int = 64
    drift_odds: float = 3.0
    drift_threshold: float = 7.0
    drift_keep: float = 10.0
    pooling: bool = True
    target_confidence: float = 0.9
    target_settled_sd: float = 0.05
    exploration_floor: float = 1.0
    exploration_half: float = 20.0
    paced_exploration_floor: float = 0.3
    paced_domain_evidence: float = 6.0
    paced_domain_window: float = 150.0
    learn_noise: bool = True

    def __post_init__(self) -> None:
        for name in ("noise", "prior_strength", "ridge", "domain_ridge", "embedding_ridge", "exploration"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        for name in ("gamma", "latency_gamma"):
            value = getattr(self, name)
            if not 0.5 <= value <= 1.0:
                raise ValueError(f"{name} (the discount) must be in [0.5, 1], got {value!r}")
        if not 1 <= self.draws <= 4096:
            raise ValueError(f"draws must be 1..4096, got {self.draws!r}")
        if not 0.0 <= self.target_confidence < 1.0:
            raise ValueError(f"target_confidence must be in [0, 1), got {self.target_confidence!r}")
        if not self.target_settled_sd > 0:
            raise ValueError(f"target_settled_sd must be > 0, got {self.target_settled_sd!r}")
        for name in ("exploration_floor", "paced_exploration_floor"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)!r}")
        if not self.exploration_half > 0:
            raise ValueError(f"exploration_half must be > 0, got {self.exploration_half!r}")
        for name in ("paced_domain_evidence", "paced_domain_window"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a number of answers >= 0, got {value!r}")
        if not isinstance(self.learn_noise, bool):
            raise ValueError(f"learn_noise must be true or false, got {self.learn_noise!r}")
        DriftTest(self.drift_odds, self.drift_threshold, self.drift_keep)  # validates

    @property
    def drift(self) -> DriftTest:
        """The change detector that decides when quality evidence is forgotten."""
        return DriftTest(self.drift_odds, self.drift_threshold, self.drift_keep)


class Posterior:
    """One model's posterior over quality weights (mean and inverse precision).

    ``prior_mean`` is the prior mean of the weights (the quality prior on the bias term,
    the shared context effects elsewhere); ``inv``, ``info`` and ``pull`` depend only on
    the model's own statistics, so a new shared prior costs one matrix-vector product."""

    __slots__ = ("b", "info", "inv", "mean", "observations", "precision", "prior", "pull", "seen", "version")

    def __init__(self, spec: ModelSpec, stats: ModelStats | None, dim: int, config: BanditConfig) -> None:
        prior_precision = _prior_precision(dim, config)
        self.precision = prior_precision
        self.prior = spec.quality_prior if spec.quality_prior is not None else DEFAULT_QUALITY_PRIOR
        A = np.diag(prior_precision)
        self.b = np.zeros(dim)
        if stats is not None:
            A = A + stats.S
            self.b = stats.r.copy()
        self.inv = np.linalg.inv(A)
        self.inv = (self.inv + self.inv.T) / 2
        # What the model's data say about its prior mean m0 (Woodbury): the evidence is
        # exp(-(m0ᵀ info m0 - 2 m0ᵀ pull) / 2σ²) with info = Λ0 - Λ0 A⁻¹ Λ0, pull = Λ0 A⁻¹ r.
        lam = np.diag(prior_precision)
        self.info = lam - (prior_precision[:, None] * self.inv) * prior_precision[None, :]
        self.pull = prior_precision * (self.inv @ self.b)
        self.version = -1 if stats is None else stats.v
        self.observations = 0 if stats is None else stats.u
        # Answers' worth of evidence per feature (for a one-hot: per kind of query).
        self.seen = np.zeros(dim) if stats is None else np.diag(stats.S).copy()
        self.mean = self.inv @ (self.b + self._prior_vector(np.zeros(dim - 1)) * prior_precision)

    def _prior_vector(self, shared: np.ndarray) -> np.ndarray:
        return np.concatenate([shared, [self.prior]])

    def set_shared(self, shared: np.ndarray) -> None:
        """Use ``shared`` as the prior mean of the context weights (the bias keeps its prior)."""
        self.mean = self.inv @ (self.b + self._prior_vector(shared) * self.precision)



def _prior_precision(dim: int, config: BanditConfig) -> np.ndarray:
    """The prior precision of a model's weights over the context layout of
    :mod:`conduit_router.features` (projected embedding, domain one-hot, complexity, length,
    bias): ``embedding_ridge``, ``domain_ridge``, ``ridge``, and ``prior_strength`` on the
    bias, which carries the quality prior. A context of another length (none is built by
    the router) gets ``ridge`` on every weight."""
    precision = np.full(dim, config.ridge)
    domains = domain_slice(dim)
    if domains.start >= 0:
        precision[:domains.start] = config.embedding_ridge
        precision[domains] = config.domain_ridge
    precision[-1] = config.prior_strength
    return precision


def shared_effects(posteriors: Sequence[Posterior], ridge: float) -> np.ndarray:
    """The context effects every model shares (a hierarchical prior, fitted empirically).

    Each model's weights are ``θ_m ~ N((g, quality_prior_m), σ²Λ0⁻¹)`` with ``g`` the same
    for all, ``g ~ N(0, σ²/ridge)``. Each model's data give Gaussian evidence about its
    prior mean (:class:`Posterior`'s ``info``/``pull``); their product with g's prior is
    Gaussian, and its mean is returned. "Science questions are hard" is then learned once
    from every model's answers, and a model's own weights only learn how it differs."""
    dim = posteriors[0].info.shape[0]
    k = dim - 1
    precision = np.eye(k) * ridge
    vector = np.zeros(k)
    for post in posteriors:
        info = post.info
        precision += info[:k, :k]
        vector += post.pull[:k] - info[:k, k] * post.prior
    return np.linalg.solve(precision, vector)


def learned_noise(stats: Iterable[ModelStats | None], config: BanditConfig) -> float:
    """The standard deviation of a quality answer around its model's prediction, as the
    answers show it, at most ``config.noise`` (see the module docstring)."""
    if not config.learn_noise:
        return config.noise
    errors, worth = NOISE_PRIOR_ANSWERS * config.noise * config.noise, NOISE_PRIOR_ANSWERS
    for st in stats:
        if st is not None:
            errors += st.ee
            worth += st.ev
    # About two standard errors above the estimate (s²/σ² spreads by √(2/ν)): the noise is
    # lowered only once the answers show it is lower (worth ≥ NOISE_PRIOR_ANSWERS > 8).
    upper = errors / worth / (1.0 - 2.0 * math.sqrt(2.0 / worth))
    return min(config.noise, max(NOISE_FLOOR, math.sqrt(upper)))


def predicted_latency(spec: ModelSpec, stats: ModelStats | None) -> float:
    """Milliseconds: the geometric mean of observed latencies, pulled towards the prior."""
    prior = math.log(spec.expected_latency_ms or DEFAULT_LATENCY_MS)
    if stats is None or stats.lw <= 0:
        return math.exp(prior)
    return math.exp((LATENCY_PRIOR_WEIGHT * prior + stats.ls) / (LATENCY_PRIOR_WEIGHT + stats.lw))


@dataclass(frozen=True)
class Scored:
    """A candidate's numbers for one decision (score: its first-draw score)."""

    spec: ModelSpec
    mean_quality: float
    std_quality: float
    cost: float
    latency_ms: float
    score: float
    win_share: float


def _cheapest_within(quality: np.ndarray, cheap: np.ndarray, target: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The quality-target rule over ``quality`` (candidates × draws, in 0..1): per draw, the
    cheapest candidate whose quality is at least ``target`` × the draw's best (ties to the
    higher quality). Returns the winner of each draw, each candidate's first-draw quality
    relative to that draw's best, and which candidates each draw keeps (candidates × draws)."""
    best = quality.max(axis=0)
    kept = quality >= target * best  # the best itself is always kept
    price = np.where(kept, cheap[:, None], np.inf)
    cheapest = price <= price.min(axis=0)
    winners = np.argmax(np.where(cheapest, quality, -1.0), axis=0)
    relative = quality[:, 0] / best[0] if best[0] > 0 else np.ones(quality.shape[0])
    return winners, relative, kept


def within_probability(means: np.ndarray, stds: np.ndarray, target: float) -> np.ndarray:
    """Each candidate's posterior probability of reaching ``target`` × the quality of the
    candidate with the best posterior mean (Gaussian: ``P(q_i − t·q_b ≥ 0)``; 1 for that one)."""
    best = int(np.argmax(means))
    gap = means - target * means[best]
    spread = np.sqrt(stds ** 2 + (target * stds[best]) ** 2)
    z = np.divide(gap, spread, out=np.where(gap >= 0, np.inf, -np.inf), where=spread > 0)
    probability = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in z])
    probability[best] = 1.0
    return probability


def _confident_cheapest(first: np.ndarray, means: np.ndarray, stds: np.ndarray, cheap: np.ndarray,
                        target: float, confidence: float, settled_sd: float) -> tuple[int, np.ndarray]:
    """The lexicographic choice under a quality target (first reach the target, then pay
    least): the first draw's best while its posterior is not yet settled (spread above
    ``settled_sd``: Thompson sampling of which model is best, so an unlucky start is
    corrected); otherwise the cheapest candidate whose posterior probability of being within
    the target (:func:`within_probability`) is at least ``confidence``. Returns the choice
    and those probabilities."""
    likely = within_probability(means, stds, target)
    top = int(np.argmax(first))
    if stds[top] > settled_sd:
        return top, likely
    eligible = np.flatnonzero(likely >= confidence)
    return int(min(eligible, key=lambda i: (cheap[i], -likely[i]))), likely


def _exploration_scale(stds: Sequence[float], cfg: BanditConfig, floor: float, noise: float) -> list[float]:
    """How widely each candidate's posterior is sampled: ``exploration``, tempered down to
    ``floor`` × it as the evidence for this query grows (half-way at ``exploration_half``
    observations' worth; ``floor`` 1: no tempering)."""
    if floor >= 1.0:
        return [cfg.exploration] * len(stds)
    out = []
    for sd in stds:
        # The evidence for this query, in observations: (noise / sd)², none left to temper at sd 0.
        ratio = noise / max(sd, 1e-12)
        keep = cfg.exploration_half / (cfg.exploration_half + ratio * ratio) if sd > 0 else 0.0
        out.append(cfg.exploration * (floor + (1.0 - floor) * keep))
    return out


class ThompsonSampler:
    """Scores candidates for one query and picks one (see the module docstring).

    ``policy`` ``"thompson"`` learns; ``"strongest"`` (highest quality prior, then price),
    ``"cheapest"`` (lowest blended price) and ``"random"`` are the static baselines.
    """

    def __init__(self, config: BanditConfig, *, seed: int | None = None, policy: str = "thompson") -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}; got {policy!r}")
        self.config = config
        self.policy = policy
        self.rng = np.random.default_rng(seed)
        self._random = random.Random(seed)
        self._posteriors: dict[str, Posterior] = {}
        self._key: tuple[object, ...] = ()
        self.shared = np.zeros(0)
        # Every posterior's mean and inverse precision stacked, for one product per decision.
        self._index: dict[str, int] = {}
        self._means = np.zeros((0, 0))
        self._invs = np.zeros((0, 0, 0))
        self._seen_by_cell: list[list[float]] = []
        self.noise = config.noise  # the feedback's noise as learned (at most config.noise)

    def posteriors(self, specs: Sequence[ModelSpec], stats: Mapping[str, ModelStats], dim: int) -> dict[str, Posterior]:
        """Every model's posterior, each recomputed only when its statistics changed, and
        the shared context effects (when ``pooling``) re-fitted when any did.

        ``specs`` should be the whole catalogue, whatever the candidates: the shared effects
        are learned from every model's evidence."""
        key = (dim, *((s.name, s.quality_prior, stats[s.name].v if s.name in stats else -1) for s in specs))
        if key == self._key:
            return self._posteriors
        out: dict[str, Posterior] = {}
        for spec in specs:
            st = stats.get(spec.name)
            version = -1 if st is None else st.v
            cached = self._posteriors.get(spec.name)
            if cached is None or cached.version != version or cached.mean.shape[0] != dim \
                    or cached.prior != (spec.quality_prior if spec.quality_prior is not None else DEFAULT_QUALITY_PRIOR):
                cached = Posterior(spec, st, dim, self.config)
            out[spec.name] = cached
        if self.config.pooling and out:
            self.shared = shared_effects(list(out.values()), self.config.ridge)
            for post in out.values():
                post.set_shared(self.shared)
        self._posteriors = out
        self._key = key
        self._index = {name: i for i, name in enumerate(out)}
        self._means = np.stack([post.mean for post in out.values()]) if out else np.zeros((0, dim))
        self._invs = np.stack([post.inv for post in out.values()]) if out else np.zeros((0, dim, dim))
        self.noise = learned_noise((stats.get(name) for name in out), self.config)
        # Each model's answers' worth per kind of query, one list per kind (plain floats for choose).
        cells = domain_slice(dim)
        self._seen_by_cell = np.stack([post.seen[cells] for post in out.values()]).T.tolist() \
            if out and cells.start >= 0 else []
        return out

    def forget(self) -> None:
        self._posteriors = {}
        self._key = ()

    def predict(self, x: np.ndarray, names: Sequence[str]) -> tuple[list[float], list[float]]:
        """Mean and standard deviation of each named model's predicted quality for context
        ``x``: ``N(x·μ, σ² xᵀA⁻¹x)`` for every model at once, from the stacked posteriors of
        the last :meth:`posteriors` (the one way the router predicts)."""
        means = (self._means @ x).tolist()
        spreads = np.einsum("kij,i,j->k", self._invs, x, x).tolist()
        noise = self.noise
        rows = [self._index[name] for name in names]
        return [means[i] for i in rows], [math.sqrt(max(spreads[i] * noise * noise, 0.0)) for i in rows]

    def _unsettled(self, x: np.ndarray, cell: int | None, names: Sequence[str], stds: list[float],
                   scale: list[float]) -> tuple[list[float], list[float]]:
        """The sampling spread and scale of each candidate under a spending limit: while the
        query's domain has fewer than ``paced_domain_window`` answers' worth of evidence, those
        with fewer than ``paced_domain_evidence`` of them are sampled untempered and at least
        as widely as the domain prior allows (after :meth:`posteriors`)."""
        cfg = self.config
        cells = domain_slice(x.shape[0])
        if cfg.paced_domain_evidence <= 0 or cells.start < 0:
            return stds, scale
        seen = self._seen_by_cell[domain_cell(x) if cell is None else cell]
        if sum(seen) >= cfg.paced_domain_window:
            return stds, scale  # the kind of query is well known: tempering alone decides
        prior_sd = self.noise / math.sqrt(cfg.domain_ridge)
        spread, widths = list(stds), list(scale)
        for i, name in enumerate(names):
            if seen[self._index[name]] < cfg.paced_domain_evidence:
                spread[i], widths[i] = max(spread[i], prior_sd), cfg.exploration
        return spread, widths

    def choose(
        self,
        x: np.ndarray,
        candidates: Sequence[ModelSpec],
        costs: Mapping[str, float],
        latencies: Mapping[str, float],
        stats: Mapping[str, ModelStats],
        objective: Objective,
        *,
        max_cost: float,
        max_latency: float,
        catalogue: Sequence[ModelSpec] | None = None,
        quality_target: float | None = None,
        paced: bool = False,
        cell: int | None = None,
    ) -> list[Scored]:
        """Every candidate scored, the chosen one first, the rest by score (``catalogue``:
        every model, for the shared effects; the candidates when None).

        ``quality_target`` (default: the objective's) switches to the cheapest-within-target
        rule; a candidate's score is then its first-draw quality relative to the best
        first draw, and the fallback order is the rule's (the others within the target,
        cheapest first), then the rest by that score. ``paced``: the objective's cost is
        priced by a spending limit (``paced_exploration_floor`` tempers the sampling,
        ``paced_domain_evidence`` keeps it wide where a model has few answers of the kind;
        ``cell``: the query's domain, its index in the context's one-hot, when the caller
        knows it)."""
        cfg = self.config
        k = len(candidates)
        names = [spec.name for spec in candidates]
        self.posteriors(catalogue if catalogue is not None else candidates, stats, x.shape[0])
        # Per-candidate figures are plain floats: numpy only where the draws are (candidates × draws).
        means, stds = self.predict(x, names)
        cost = [costs[name] / (max_cost or 1.0) for name in names]
        lat = [latencies[name] / (max_latency or 1.0) for name in names]
        noise = self.rng.standard_normal((k, cfg.draws))
        target = objective.quality_target if quality_target is None else quality_target
        # The target rule explores by its own measure (target_settled_sd); the weighted score tempers.
        floor = cfg.paced_exploration_floor if paced else cfg.exploration_floor
        scale = _exploration_scale(stds, cfg, floor, self.noise) if target is None or cfg.target_confidence == 0 \
            else [cfg.exploration] * k
        spread = stds
        if paced and target is None:
            spread, scale = self._unsettled(x, cell, names, stds, scale)
        draws = noise * np.array([[sd * sc] for sd, sc in zip(spread, scale)])  # columns built as such
        draws += np.array([[mean] for mean in means])
        within: list[bool]
        if target is None:
            penalty = [objective.cost * c + objective.latency * la for c, la in zip(cost, lat)]
            scores = objective.quality * draws
            scores -= np.array([[p] for p in penalty])  # unclipped: clipping at 1 makes ties
            winners = scores.argmax(axis=0)
            first = scores[:, 0].tolist()
            within = [False] * k
            cheap = [0.0] * k
        else:
            w_cost, w_latency = objective.cheapness()
            cheap = [w_cost * c + w_latency * la for c, la in zip(cost, lat)]
            winners, relative, kept = _cheapest_within(np.clip(draws, 0.0, 1.0), np.array(cheap), target)
            first = relative.tolist()
            within = kept[:, 0].tolist()
        share = [wins / cfg.draws for wins in np.bincount(winners, minlength=k).tolist()]
        if self.policy == "thompson" and target is not None and cfg.target_confidence > 0:
            chosen, likely = _confident_cheapest(draws[:, 0], np.array(means), np.array(stds), np.array(cheap),
                                                 target, cfg.target_confidence, cfg.target_settled_sd)
            share = likely.tolist()
        elif self.policy == "thompson":
            chosen = int(winners[0])
        elif self.policy == "strongest":
            chosen = max(range(k), key=lambda i: (candidates[i].quality_prior or 0.0, candidates[i].blended_price))
        elif self.policy == "cheapest":
            chosen = min(range(k), key=lambda i: (candidates[i].blended_price, -(candidates[i].quality_prior or 0.0)))
        else:
            chosen = self._random.randrange(k)
        # Fallback order: the others the rule keeps (cheapest first; none without a target), then by score.
        order = [chosen] + sorted((i for i in range(k) if i != chosen),
                                  key=lambda i: (not within[i], cheap[i] if within[i] else 0.0, -first[i]))
        return [
            Scored(candidates[i], min(max(means[i], 0.0), 1.0), stds[i], float(costs[candidates[i].name]),
                   float(latencies[candidates[i].name]), first[i], share[i])
            for i in order
        ]
