"""Query analysis: domains, complexity, tokens, a deterministic context vector, and caches
that keep routing alive when Redis is not."""

from __future__ import annotations

import numpy as np
import pytest
from conduit_router.analysis import classify_domain, complexity_score, estimate_tokens
from conduit_router.embedding import HashedEmbedder
from conduit_router.features import QueryAnalyzer, context_dimension, context_layout
from conduit_router.models import DOMAINS

from conduit.storage import RedisStateStore
from conduit.storage.testing import RedisProcess, unique_prefix


@pytest.mark.parametrize("text, domain", [
    ("Write a Python function that parses a CSV file", "code"),
    ("Why does my Rust code throw a borrow checker error?", "code"),
    ("What is the derivative of x^2 sin(x)?", "math"),
    ("Solve for x: 3x + 5 = 20", "math"),
    ("What are the pros and cons of nuclear power? Analyze the trade-offs.", "reasoning"),
    ("Write a haiku about autumn leaves", "creative"),
    ("What is the capital of Kenya?", "factual"),
    ("Who invented the telephone?", "factual"),
    ("hi there!", "conversation"),
    ("thanks, that was helpful", "conversation"),
])
def test_classify_domain(text: str, domain: str) -> None:
    assert classify_domain(text)[0] == domain


@pytest.mark.parametrize("text", [
    "How does CRISPR-Cas9 edit a gene in human cells?",
    "What is the half-life of carbon-14 and how is it used in radiocarbon dating?",
    "What are the first-line treatments for type 2 diabetes?",
    "Balance the chemical equation for the combustion of propane.",
    "Why do tectonic plates cause earthquakes along the Pacific Ring of Fire?",
    "Explain how mitochondria produce ATP through oxidative phosphorylation.",
    "How does the greenhouse effect warm the lower atmosphere?",
    "A 45-year-old patient presents with chest pain radiating to the left arm; what is the most likely diagnosis?",
    "Calculate the pH of a 0.01 M solution of hydrochloric acid.",
    "What is the escape velocity from the surface of Mars?",
    "Which orbitals hybridise in the carbon atoms of ethene?",
    "What happens to the entropy of an ideal gas during a free expansion?",
    "Why are antibiotics ineffective against viral infections?",
    "Describe the Krebs cycle and where it takes place in the cell.",
    "What is the atomic number of carbon?",
    "How do vaccines train the immune system?",
])
def test_science_and_medicine_questions_are_the_science_domain(text: str) -> None:
    assert classify_domain(text)[0] == "science"


@pytest.mark.parametrize("text, domain", [
    # A program about a scientific subject is a code query...
    ("Write a Python function that computes the molecular weight of a protein sequence", "code"),
    ("Write a Python function that parses DNA sequences from a FASTA file", "code"),
    ("Debug my C++ simulation of particle collisions: it segfaults in the physics loop", "code"),
    ("Implement a Java class that models a cell in Conway's game of life", "code"),
    # ...an equation to solve or a sum to compute is math...
    ("Solve the differential equation dN/dt = -kN for radioactive decay", "math"),
    ("Compute the integral of x^2 from 0 to 1", "math"),
    # ...and writing about it is creative; weighing a policy is reasoning.
    ("Write a poem about photosynthesis", "creative"),
    ("Write a short story about a virus that escapes a lab", "creative"),
    ("What are the pros and cons of nuclear power? Analyze the trade-offs.", "reasoning"),
    ("Who invented the telephone?", "factual"),
])
def test_science_terms_do_not_take_code_math_or_creative_queries(text: str, domain: str) -> None:
    got, scores = classify_domain(text)
    assert got == domain, scores
    assert set(scores) == set(DOMAINS)


def test_complexity_grows_with_length_structure_and_difficulty() -> None:
    easy = "hi"
    hard = ("Design a distributed, scalable architecture for a rate limiter. First explain the trade-offs, "
            "then derive the complexity, then list edge cases:\n1. clock skew\n2. failover\n3. hot keys")
    assert complexity_score(easy, "conversation", estimate_tokens(easy)) < 0.1
    assert complexity_score(hard, "reasoning", estimate_tokens(hard)) > 0.6


def test_token_estimate_is_about_four_characters_per_token() -> None:
    assert estimate_tokens("a" * 400) == 100
    assert estimate_tokens("x") == 1


@pytest.mark.anyio
async def test_context_vector_is_the_same_in_every_analyzer() -> None:
    text = "Compute the integral of e^(3x) from 0 to 1"
    a = await QueryAnalyzer("hash").analyze(text)
    b = await QueryAnalyzer(HashedEmbedder()).analyze(text)
    assert a.context == b.context
    assert len(a.context) == context_dimension()
    x = np.asarray(a.context)
    assert x[-1] == 1.0  # bias
    onehot = x[-3 - len(DOMAINS):-3]
    assert onehot.sum() == 1.0 and DOMAINS[int(onehot.argmax())] == "math"
    science = np.asarray((await QueryAnalyzer("hash").analyze("What is the pH of a 0.1 M acetic acid solution?")).context)
    assert science[-3 - len(DOMAINS):-3].argmax() == DOMAINS.index("science")


def test_the_feature_space_names_the_context_layout() -> None:
    analyzer = QueryAnalyzer("hash")
    assert analyzer.dimension == 16 + len(DOMAINS) + 3 == 26
    assert analyzer.space == f"{analyzer.legacy_space}/{context_layout()}"
    assert context_layout().startswith("d7-")
    # Another set of domains (the six before 'science') is another layout, so other keys.
    assert context_layout(DOMAINS[:6]) != context_layout()


@pytest.mark.anyio
async def test_hashed_embedding_ignores_spacing_and_punctuation_and_separates_topics() -> None:
    analyzer = QueryAnalyzer("hash")
    a = np.asarray((await analyzer.analyze("what is 2+2")).embedding)
    b = np.asarray((await analyzer.analyze("What is 2 + 2?")).embedding)
    c = np.asarray((await analyzer.analyze("how do I reverse a list in python")).embedding)
    assert a @ b > 0.99
    assert abs(a @ c) < 0.3


@pytest.mark.anyio
async def test_features_are_cached_in_memory() -> None:
    analyzer = QueryAnalyzer("hash")
    first = await analyzer.analyze("hello")
    second = await analyzer.analyze("hello")
    assert first is second
    assert analyzer.counters["misses"] == 1 and analyzer.counters["memory_hits"] == 1


@pytest.mark.anyio
async def test_features_are_shared_through_redis(redis_url: str) -> None:
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix("router-features"))
    try:
        one = QueryAnalyzer("hash", store=store)
        await one.analyze("Explain quicksort step by step")
        other = QueryAnalyzer("hash", store=store)  # another worker: empty memory
        shared = await other.analyze("Explain quicksort step by step")
        assert other.counters == {"memory_hits": 0, "store_hits": 1, "misses": 0, "store_errors": 0}
        assert shared.context == (await one.analyze("Explain quicksort step by step")).context
    finally:
        await store.clear()
        await store.close()


@pytest.mark.anyio
async def test_analysis_keeps_working_when_redis_goes_away() -> None:
    with RedisProcess() as server:
        store = RedisStateStore.from_url(server.url, socket_timeout=0.2, socket_connect_timeout=0.2, retries=0)
        analyzer = QueryAnalyzer("hash", store=store)
        await analyzer.analyze("warm up the connection")
        server.stop()
        for i in range(5):
            features = await analyzer.analyze(f"query number {i} while redis is down")
            assert features.domain in DOMAINS
        assert analyzer.counters["store_errors"] == 3  # then the breaker opened and stopped trying
        assert analyzer.stats()["breaker"] == "open"
        await store.close()
