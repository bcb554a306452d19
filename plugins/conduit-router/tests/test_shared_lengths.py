"""Learned answer lengths shared through a real Redis (:mod:`conduit_router.shared_lengths`):
the same arithmetic as in a process, one set of figures for every router (worker or host)
sharing the store, no answer lost to concurrency, and routing that goes on without Redis."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator

import numpy as np
import pytest
from conduit_router import Query, QueryConstraints, Router
from conduit_router.features import domain_slice
from conduit_router.lengths import AnswerLengths
from conduit_router.shared_lengths import SharedLengths
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS

from conduit.storage import RedisStateStore
from conduit.storage.testing import RedisProcess, free_port, unique_prefix

pytestmark = pytest.mark.anyio

TEXT = "Write a Python function that merges two sorted arrays, with unit tests."


def pinned() -> Query:
    """A query that only "medium" may answer (a new query id each time)."""
    return Query(text=TEXT, constraints=QueryConstraints(allowed_models=("medium",)))


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStateStore]:
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix("router-lengths"))
    yield store
    await store.clear()
    await store.close()


async def test_the_lua_update_is_the_in_process_arithmetic(store: RedisStateStore) -> None:
    dim = 7  # two cells (a one-hot at 2:4) and five features
    cells = slice(2, 4)
    local = AnswerLengths(cells=cells)
    shared = SharedLengths(AnswerLengths(cells=cells), store, f"{store.prefix}lengths", dim)
    rng = np.random.default_rng(5)
    for i in range(60):
        x = np.concatenate([rng.normal(size=2), np.eye(2)[i % 2], rng.normal(size=2), [1.0]])
        model = ("small", "medium", "large")[i % 3]
        prior, tokens, weight = 200.0, float(rng.uniform(50, 900)), float(rng.uniform(1.0, 20.0))
        assert local.observe(model, x, prior, tokens, weight=weight)
        assert await shared.observe(model, x, prior, tokens, weight=weight)
        pairs, expected = shared.lengths.pairs(), local.pairs()
        assert pairs.keys() == expected.keys()
        for key, pair in pairs.items():
            assert np.allclose(pair.S, expected[key].S, rtol=1e-9) and pair.S.shape == (5, 5), i
            assert np.allclose(pair.rho, expected[key].rho, rtol=1e-9), i
            assert pair.w == pytest.approx(expected[key].w, rel=1e-9) and pair.n == expected[key].n
    assert shared.lengths.to_dict() == local.to_dict()
    other = SharedLengths(AnswerLengths(cells=cells), store, shared.key, dim)
    await other.refresh(force=True)  # a worker that saw none of them reads every pair, and fits alike
    shared.lengths.take(shared.lengths.pairs())  # a fit that includes the last answers (fits are paced)
    for model in ("small", "medium", "large"):
        assert other.lengths.verbosity(model) == pytest.approx(shared.lengths.verbosity(model), rel=1e-3)
        assert other.lengths.estimate(model, x, 200.0) == pytest.approx(shared.lengths.estimate(model, x, 200.0),
                                                                         rel=1e-3)


async def test_two_routers_sharing_one_redis_learn_one_length(store: RedisStateStore) -> None:
    first = Router(MODELS, state=store, embedder="hash", seed=1, objective="balanced", history="none",
                   refresh_interval=0.0)
    second = Router(MODELS, state=store, embedder="hash", seed=2, objective="balanced", history="none",
                    refresh_interval=0.0)
    try:
        prior_estimate = (await second.route(pinned())).estimated_cost
        actual = first.model("medium").cost((await first.route(pinned())).features.token_estimate, 3000)
        for _ in range(60):
            decision = await first.route(pinned())
            await first.feedback(decision.query_id, output_tokens=3000)
        # The second router saw none of those answers, and estimates from what the first learned.
        assert not math.isclose(prior_estimate, actual, rel_tol=0.2)
        assert math.isclose((await second.route(pinned())).estimated_cost, actual, rel_tol=0.05)
        for _ in range(40):
            decision = await second.route(pinned())
            await second.feedback(decision.query_id, output_tokens=3000)
        await first.refresh()  # what /v1/stats does first
        assert first.stats()["answer_lengths"]["medium"]["answers"] == 100
        assert second.stats()["answer_lengths"]["medium"]["answers"] == 100
    finally:
        await first.aclose()
        await second.aclose()


async def test_concurrent_answers_from_two_workers_are_all_counted(store: RedisStateStore) -> None:
    key = f"{store.prefix}lengths"
    workers = [SharedLengths(AnswerLengths(), store, key, 3) for _ in range(2)]
    x = [1.0, 0.0, 1.0]
    await asyncio.gather(*(w.observe("medium", x, 100.0, 300.0) for w in workers for _ in range(50)))
    await workers[0].refresh(force=True)
    assert workers[0].lengths.to_dict()["medium"]["answers"] == 100
    assert math.isclose(workers[0].lengths.estimate("medium", x, 100.0), 300.0, rel_tol=0.05)


async def test_a_worker_sending_its_own_answers_still_reads_the_others(store: RedisStateStore) -> None:
    # A send returns only the sender's pair, so the other pairs arrive by refresh alone: a
    # worker whose own answers come faster than its refresh interval must still refresh.
    key = f"{store.prefix}lengths"
    busy = SharedLengths(AnswerLengths(), store, key, 3, refresh_interval=0.2)
    other = SharedLengths(AnswerLengths(), store, key, 3)
    x = [1.0, 0.0, 1.0]
    await busy.refresh()
    for _ in range(20):
        await other.observe("large", x, 100.0, 300.0)
    for _ in range(12):  # an answer every 0.05 s for 0.6 s, a decision's refresh before each
        await busy.refresh()
        busy.start_due()
        await busy.observe("small", x, 100.0, 100.0)
        await asyncio.sleep(0.05)
    assert busy.lengths.to_dict().get("large", {}).get("answers") == 20


async def test_a_stale_copy_is_read_again_beside_the_decision_not_in_its_way() -> None:
    with RedisProcess() as server:
        store = RedisStateStore.from_url(server.url, prefix="stale-lengths:", socket_timeout=5, retries=0)
        key = f"{store.prefix}lengths"
        reader = SharedLengths(AnswerLengths(), store, key, 3, refresh_interval=0.05)
        writer = SharedLengths(AnswerLengths(), store, key, 3)
        x = [1.0, 0.0, 1.0]
        await writer.observe("large", x, 100.0, 300.0)
        await reader.refresh()  # the first read waits for Redis
        assert reader.lengths.to_dict()["large"]["answers"] == 1
        await writer.observe("large", x, 100.0, 300.0)
        await asyncio.sleep(0.06)
        server.pause()  # Redis stalls: a read would wait for it
        try:
            await asyncio.wait_for(reader.refresh(), timeout=1)
            reader.start_due()  # as the router does once its decision is made
            assert reader.lengths.to_dict()["large"]["answers"] == 1
        finally:
            server.resume()
        await asyncio.wait_for(reader.close(), timeout=5)  # waits for the read in flight
        assert reader.lengths.to_dict()["large"]["answers"] == 2
        await store.clear()
        await store.close()


async def test_without_redis_lengths_are_learned_in_this_process_and_decisions_go_on(
        caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on this port: every Redis call of the router fails at once.
    store = RedisStateStore.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix=unique_prefix("router-down"),
                                     socket_timeout=0.3, socket_connect_timeout=0.3, retries=0)
    router = Router(MODELS, state=store, embedder="hash", seed=1, objective="balanced", history="none",
                    refresh_interval=0.0)
    caplog.set_level(logging.INFO, logger="conduit.router")
    try:
        actual = router.model("medium").cost((await router.route(pinned())).features.token_estimate, 3000)
        for _ in range(60):
            decision = await router.route(pinned())
            await router.feedback(decision.query_id, output_tokens=3000)
        assert router.shared_lengths is not None and router.shared_lengths.backlog == 60  # kept for Redis
        assert math.isclose((await router.route(pinned())).estimated_cost, actual, rel_tol=0.05)
        assert router.stats()["answer_lengths"]["medium"]["answers"] == 60
        assert "unavailable" in caplog.text
    finally:
        await router.aclose()
        await store.close()


class Relay:
    """A TCP relay in this process to the real Redis: closing it is an outage for the routers
    connected through it, opening it again on the same port ends the outage."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_answers_learned_during_an_outage_reach_redis_when_it_answers_again(redis_url: str) -> None:
    relay = Relay(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    await relay.open()
    prefix = unique_prefix("router-relay")
    store = RedisStateStore.from_url(f"redis://127.0.0.1:{relay.port}/0", prefix=prefix, socket_timeout=0.5,
                                     socket_connect_timeout=0.5, retries=0)
    router = Router(MODELS, state=store, embedder="hash", seed=1, objective="balanced", history="none",
                    refresh_interval=0.0)
    direct = RedisStateStore.from_url(redis_url, prefix=prefix)
    try:
        decisions = [await router.route(pinned()) for _ in range(30)]
        await relay.close()  # Redis is out of reach: answers are learned here and kept
        for decision in decisions[:20]:
            await router.feedback(decision.query_id, output_tokens=3000)
        assert router.shared_lengths.backlog == 20
        await relay.open()
        for decision in decisions[20:]:
            await router.feedback(decision.query_id, output_tokens=3000)
        assert router.shared_lengths.backlog == 0
        dim = router.analyzer.dimension
        other = SharedLengths(AnswerLengths(cells=domain_slice(dim)), direct, router.shared_lengths.key, dim)
        await other.refresh(force=True)
        assert other.lengths.to_dict()["medium"]["answers"] == 30  # none lost, none twice
    finally:
        await router.aclose()
        await relay.close()
        await direct.clear()
        await direct.close()
        await store.close()
