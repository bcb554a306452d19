"""A second workload for bench/router_eval.py, designed apart from the first one and from the
router's own tests: six models at list prices, six kinds of query whose best model differs,
answers whose length differs by model, and a drift event half-way.

Why this shape. The published-figures workload has one model that is nearly the best
everywhere (GPT-4o or Claude 3.5 Sonnet), so a fixed mix of two models comes close to any
router there. Real catalogues are less tidy: a cheap model can be as good as a flagship on
small talk and short facts, a mid-priced reasoning model can beat the flagship on maths,
and the flagship earns its price on code and science only. This workload puts those
differences in on purpose, so a router that reads the query has something to win, and a
static rule (one model, or a mix of two) has something to lose.

The models and prices (USD per million input / output tokens, the vendors' list prices of
2025 as the author knew them; only the ratios matter here, and they are those of today's
price lists: a flagship 7-40 times a small model's):

* claude-sonnet-4 (Anthropic) 3.00 / 15.00: the strongest on code, science and writing;
  wordy (answers 1.3x the usual length).
* gpt-4.1 (OpenAI) 2.00 / 8.00: close behind on most things.
* gemini-2.5-flash (Google) 0.30 / 2.50: a reasoning model, the best on maths by a margin;
  its thinking tokens are billed as output, so its answers cost 1.8x the usual length.
* gpt-4.1-mini (OpenAI) 0.40 / 1.60: good at facts and small talk, fair elsewhere.
* llama-3.3-70b (Groq) 0.59 / 0.79: as good as any on small talk and facts, weak on maths.
* gpt-4.1-nano (OpenAI) 0.10 / 0.40: fine for small talk, poor at anything hard; terse
  (0.8x).

The quality figures (probability that an answer is judged right or good) are the author's
judgement of how these models compare per kind of query, set so that the spread between
models differs widely by domain and no model is the best buy everywhere: 0.93-0.96 on
conversation and 0.82-0.91 on short facts (every model will do), 0.70-0.90 on writing
(llama-3.3-70b and gpt-4.1-mini within a few points of the flagship, on long answers),
0.36-0.88 on code, maths and science, where the flagship leads on code and science by ten
points and gemini-2.5-flash leads on maths by sixteen. They are not measurements, and the
conclusions drawn from them are about the router's learning, not about these models.

The drift event: at the middle of the run gemini-2.5-flash's maths quality falls from 0.86
to 0.55 (a silent model update, or a provider routing to a smaller variant). The best buy
for maths becomes gpt-4.1 or claude-sonnet-4; a router must notice it from the feedback.

Query texts are generated per domain from templates written for this workload (not the
router's test templates), so the router's domain classifier sees text it was not tuned on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from conduit_router import ModelSpec
from conduit_router.simulation import Environment

__all__ = ["Workload", "mixed_environment", "mixed_models", "mixed_workload"]


@dataclass(frozen=True)
class Workload:
    """A named simulated workload: its models, an environment factory, the step at which its
    drift event happens (None: none) and what the event does to an environment."""

    name: str
    title: str
    models: Callable[[], list[ModelSpec]]
    environment: Callable[[int], Environment]
    budget: float
    drift_step: int | None = None
    drift: Callable[[Environment], None] | None = None
    notes: str = ""
    strongest: str = field(default="")

    def graded(self, sd: float | None) -> Workload:
        """This workload with feedback graded by a score of spread ``sd`` (None: right or wrong)."""
        if sd is None:
            return self
        make = self.environment

        def environment(seed: int) -> Environment:
            return replace(make(seed), graded=sd)

        return replace(self, environment=environment,
                       title=f"{self.title}; feedback a score (true quality plus noise of spread {sd:g}), not right or wrong")

    def events(self, env: Environment, steps: int) -> dict[int, Any] | None:
        """The drift event as ``run_router``/``run_static`` events for a run of ``steps``."""
        if self.drift is None or self.drift_step is None or self.drift_step >= steps:
            return None
        drift = self.drift
        return {self.drift_step: lambda: drift(env)}


# name: (provider, $in, $out, latency ms, answer-length factor, {domain: quality})
MODELS: dict[str, tuple[str, float, float, float, float, dict[str, float]]] = {
    "claude-sonnet-4": ("anthropic", 3.00, 15.00, 2200, 1.3,
                        {"code": 0.88, "math": 0.70, "science": 0.76, "creative": 0.90, "factual": 0.90,
                         "conversation": 0.96}),
    "gpt-4.1": ("openai", 2.00, 8.00, 1500, 1.0,
                {"code": 0.78, "math": 0.66, "science": 0.66, "creative": 0.87, "factual": 0.91, "conversation": 0.95}),
    "gemini-2.5-flash": ("google", 0.30, 2.50, 1800, 1.8,
                         {"code": 0.70, "math": 0.86, "science": 0.70, "creative": 0.80, "factual": 0.88,
                          "conversation": 0.94}),
    "gpt-4.1-mini": ("openai", 0.40, 1.60, 900, 1.0,
                     {"code": 0.66, "math": 0.60, "science": 0.55, "creative": 0.85, "factual": 0.89,
                      "conversation": 0.95}),
    "llama-3.3-70b": ("groq", 0.59, 0.79, 600, 1.0,
                      {"code": 0.55, "math": 0.46, "science": 0.50, "creative": 0.83, "factual": 0.90,
                       "conversation": 0.95}),
    "gpt-4.1-nano": ("openai", 0.10, 0.40, 500, 0.8,
                     {"code": 0.42, "math": 0.38, "science": 0.36, "creative": 0.70, "factual": 0.82,
                      "conversation": 0.93}),
}
MATH_AFTER_DRIFT = 0.55

# Answer tokens per domain (times each model's factor above).
OUTPUT_TOKENS = {"code": 650, "math": 500, "science": 450, "creative": 550, "factual": 140, "conversation": 90}
# How often each kind of query comes.
MIX = {"code": 0.22, "math": 0.16, "science": 0.12, "creative": 0.14, "factual": 0.18, "conversation": 0.18}

TEMPLATES: dict[str, list[str]] = {
    "code": [
        "My {lang} service leaks memory when it {job}; here is the stack trace, what is wrong?",
        "Port this {lang} snippet that {job} to idiomatic {lang2}, keeping the tests green.",
        "Write a {lang} module that {job}, with type hints and a unit test.",
        "Review my pull request: a {lang} function that {job}. Any race conditions?",
        "The {lang} compiler rejects my generic function that {job}. How do I fix the error?",
    ],
    "math": [
        "Find all real x with {a}x^2 - {b}x + {c} = 0.",
        "Evaluate the integral of x^{a} e^(-{b}x) from 0 to infinity.",
        "How many ways can {a} people be seated around a round table if two of them refuse to sit together?",
        "Show that {a}^n - 1 is divisible by {b} for every positive integer n, or give a counterexample.",
        "A geometric series has first term {a} and ratio 1/{b}; what is its sum, and after how many terms is it within 0.01?",
    ],
    "science": [
        "Why does {gas} deviate from ideal-gas behaviour at high pressure? Use the van der Waals equation.",
        "What is the role of {protein} in cellular respiration, and what happens when it is inhibited?",
        "Estimate the escape velocity from {body} and explain which assumptions matter.",
        "How does the half-life of {isotope} constrain the age of the rocks it is used to date?",
        "Which orbital hybridisation does the central atom of {molecule} have, and what geometry follows?",
    ],
    "creative": [
        "Write a short story in which {hero} finds a letter that was never sent.",
        "Compose a sonnet about {scene}, ending on a hopeful line.",
        "Draft the opening scene of a radio play set {setting}.",
        "Invent a myth that explains {scene}, told by a grandmother to a child.",
        "Write a wedding toast for {hero}, funny but kind.",
    ],
    "factual": [
        "Which river flows through {city}?",
        "In what year did {event} happen?",
        "Who wrote {book}?",
        "What currency is used in {nation}?",
        "What is the official language of {nation}?",
    ],
    "conversation": [
        "{hello}",
        "{hello} how's your day going",
        "thanks a lot, {thanks}",
        "{hello} just wanted to say hi",
        "ok cool, {thanks}",
    ],
}
SLOTS: dict[str, list[str]] = {
    "lang": ["Python", "Go", "Rust", "Kotlin", "C#", "TypeScript"],
    "lang2": ["Python", "Go", "Rust", "Kotlin", "C#", "TypeScript"],
    "job": ["batches database writes", "streams a large JSON file", "caches HTTP responses",
            "schedules jobs with a priority queue", "resizes images in a worker pool", "parses log lines with regexes"],
    "a": ["2", "3", "5", "6", "7", "9", "12"],
    "b": ["4", "5", "8", "10", "11", "13"],
    "c": ["1", "3", "6", "9", "15"],
    "gas": ["carbon dioxide", "ammonia", "water vapour", "methane", "helium"],
    "protein": ["cytochrome c", "ATP synthase", "NADH dehydrogenase", "succinate dehydrogenase"],
    "body": ["Mars", "the Moon", "Europa", "Ceres", "Titan"],
    "isotope": ["uranium-238", "potassium-40", "rubidium-87", "carbon-14"],
    "molecule": ["sulfur hexafluoride", "xenon tetrafluoride", "phosphorus pentachloride", "boron trifluoride"],
    "hero": ["a retired lighthouse keeper", "my sister Ana", "a lonely robot", "two old friends", "a village baker"],
    "scene": ["the first snow of the year", "a harbour at dawn", "why the sea is salty", "a train leaving at night"],
    "setting": ["in a lift stuck between floors", "on a night ferry", "in a hospital waiting room"],
    "city": ["Vienna", "Cairo", "Budapest", "Lyon", "Kyiv", "Basel"],
    "event": ["the fall of the Berlin Wall", "the first Moon landing", "the signing of the Magna Carta",
              "the opening of the Suez Canal"],
    "book": ["One Hundred Years of Solitude", "The Brothers Karamazov", "Middlemarch", "Things Fall Apart"],
    "nation": ["Switzerland", "Peru", "Vietnam", "Morocco", "Iceland", "Kazakhstan"],
    "hello": ["hey", "hiya", "yo", "morning", "hello again"],
    "thanks": ["that helps", "appreciate it", "you're a star", "perfect"],
}


def mixed_models() -> list[ModelSpec]:
    """The six models, with a quality prior each: the mean of its figures (what a user might
    guess from a leaderboard), the same for every kind of query."""
    return [ModelSpec(name, provider, cin, cout, expected_latency_ms=latency,
                      quality_prior=round(sum(q.values()) / len(q), 2))
            for name, (provider, cin, cout, latency, _, q) in MODELS.items()]


def mixed_environment(seed: int) -> Environment:
    """A fresh environment of this workload (its own copy of the qualities)."""
    quality = {name: dict(q) for name, (_, _, _, _, _, q) in MODELS.items()}
    verbosity = {name: factor for name, (_, _, _, _, factor, _) in MODELS.items()}
    return Environment(mixed_models(), quality, seed=seed, mix=MIX, output_tokens=OUTPUT_TOKENS,
                       templates=TEMPLATES, slots=SLOTS, verbosity=verbosity)


def _flash_math_drops(env: Environment) -> None:
    env.degrade("gemini-2.5-flash", {**env.quality["gemini-2.5-flash"], "math": MATH_AFTER_DRIFT})


def mixed_workload(steps: int) -> Workload:
    """This workload for runs of ``steps`` queries (the drift event at the middle)."""
    return Workload("mixed", "six models, six domains of different strengths, a drift event", mixed_models,
                    mixed_environment, budget=0.5, drift_step=steps // 2, drift=_flash_math_drops,
                    strongest="claude-sonnet-4")

