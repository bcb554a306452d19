"""Posteriors shared through a real Redis: every worker's feedback lands, atomically, and
every worker routes with what the others learned; a Redis outage loses nothing."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import anyio
import numpy as np
import orjson
import pytest
from conduit_router import Query, QueryConstraints, Router
from conduit_router.errors import FeedbackConflictError
from conduit_router.posteriors import (
    DriftTest,
    LocalPosteriors,
    ModelStats,
    apply_update,
)
from conduit_router.redis_posteriors import RedisPosteriors
from conduit_router.simulation import SYNTHETIC_MODELS as MODELS

from conduit.storage import RedisStateStore
from conduit.storage.testing import RedisProcess, unique_prefix

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("share_worker.py")


@pytest.fixture
async def store(redis_url: str):  # type: ignore[no-untyped-def]
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix("router"))
    yield store
    await store.clear()
    await store.close()


async def test_lua_update_matches_the_in_process_update(store: RedisStateStore) -> None:
    dim = 5
    shared = RedisPosteriors(store, "space", dim, gamma=0.9, latency_gamma=0.8)
    local = LocalPosteriors(dim, gamma=0.9, latency_gamma=0.8)
    rng = np.random.default_rng(0)
    for i in range(25):
        x, y = rng.normal(size=dim), float(rng.random())
        latency = float(np.log(100 + i)) if i % 3 else None
        quality = None if i % 7 == 0 else y
        a = await shared.update("m", x, quality, 0.5 + i % 2, latency)
        b = await local.update("m", x, quality, 0.5 + i % 2, latency)
    assert np.allclose(a.S, b.S, rtol=1e-9, atol=1e-12) and np.allclose(a.r, b.r, rtol=1e-9, atol=1e-12)
    assert (a.u, a.lu, a.v) == (b.u, b.lu, b.v) == (21, 16, 25)
    assert a.n == pytest.approx(b.n) and a.ls == pytest.approx(b.ls) and a.lw == pytest.approx(b.lw)


async def test_lua_change_detector_matches_the_in_process_one(store: RedisStateStore) -> None:
    dim = 4
    drift = DriftTest(odds=3.0, threshold=3.0, keep=5.0)
    shared = RedisPosteriors(store, "drift", dim, drift=drift)
    local = LocalPosteriors(dim, drift=drift)
    rng = np.random.default_rng(1)
    for i in range(60):  # outcomes as expected, then far below it, then as expected again
        x = rng.normal(size=dim)
        expected = 0.8
        y = 0.0 if 20 <= i < 30 else float(rng.random() < expected)
        if i % 4 == 0:
            y = 0.5  # graded feedback
        cell = 1 if 20 <= i < 30 else i % 3  # each kind of query has its own sums
        # The noise's sums count an answer with its prediction's spread (not every 5th here).
        spread = None if i % 5 == 0 else 0.1 + 0.01 * i
        a = await shared.update("m", x, y, 1.0, None, None if i % 9 == 0 else expected, cell, spread)
        b = await local.update("m", x, y, 1.0, None, None if i % 9 == 0 else expected, cell, spread)
        assert a.dr == b.dr and a.dn == pytest.approx(b.dn) and a.up == pytest.approx(b.up), i
        assert a.n == pytest.approx(b.n)
        assert a.ee == pytest.approx(b.ee, rel=1e-12) and a.ev == pytest.approx(b.ev, rel=1e-12), i
    assert len(a.dn) == len(a.up) == 3
    assert a.dr >= 1  # the run of low outcomes was detected...
    assert a.n < 60 - 5  # ...and the evidence before it scaled down to `keep` observations' worth
    assert 0 < a.ev < 60 - 5  # the noise's sums with it
    assert np.allclose(a.S, b.S, rtol=1e-9, atol=1e-12) and np.allclose(a.r, b.r, rtol=1e-9, atol=1e-12)


async def test_the_script_takes_over_sums_an_earlier_version_stored(store: RedisStateStore) -> None:
    # Before the detector kept sums per kind of query, a model's record held one pair of
    # numbers ("dn", "up"): the script drops them and starts a pair per kind of query.
    dim = 2
    shared = RedisPosteriors(store, "upgrade", dim, drift=DriftTest())
    old = ModelStats.empty(dim).to_json()
    del old["dnc"], old["upc"]
    old.update({"dn": 6.5, "up": 0.5, "n": 20.0, "u": 20})
    await store.client.set(shared.key("m"), orjson.dumps(old))
    assert (await shared.snapshot(["m"]))["m"].dn == []
    stats = await shared.update("m", np.ones(dim), 0.0, 1.0, None, 0.9, 2)
    assert stats.dr == 0 and stats.dn[:2] == [0.0, 0.0] and stats.dn[2] > 0
    stored = orjson.loads(await store.client.get(shared.key("m")))
    assert "dn" not in stored and "up" not in stored and len(stored["dnc"]) == 3


@pytest.mark.slow
async def test_two_processes_share_posteriors_without_losing_feedback(redis_url: str, store: RedisStateStore) -> None:
    per_worker = 150
    workers = [subprocess.Popen([sys.executable, str(WORKER), redis_url, store.prefix, name, str(per_worker), "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("worker-a", "worker-b")]
    for proc in workers:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    router = Router(MODELS, state=store, embedder="hash")
    await router.refresh()
    stats = router.stats()["models"]["medium"]
    assert stats["observations"] == 2 * per_worker  # every report from both processes was applied
    assert router.backend.cached()["medium"].v == 2 * per_worker
    assert router.estimated_quality("medium", "math") > 0.9  # every report said 1.0


async def test_a_worker_routes_with_what_another_worker_learned(store: RedisStateStore) -> None:
    a = Router(MODELS, state=store, embedder="hash", seed=1)
    b = Router(MODELS, state=store, embedder="hash", seed=2)
    before = b.estimated_quality("small", "math")
    only_small = QueryConstraints(allowed_models=("small",))
    for i in range(20):
        d = await a.route(Query(text=f"Solve for x: {i}x + 3 = 12", constraints=only_small))
        await a.feedback(d.query_id, quality=0.0)
    await b.refresh()
    assert b.estimated_quality("small", "math") < before - 0.2
    # A decision made by one worker takes feedback at another (the record is in Redis).
    d = await a.route(Query(text="hello there", constraints=only_small))
    result = await b.feedback(d.query_id, quality=1.0)
    assert result.model == "small"


async def test_a_decision_that_finds_the_shared_state_stale_has_it_read_after_it(store: RedisStateStore) -> None:
    a = Router(MODELS, state=store, embedder="hash", seed=1)
    b = Router(MODELS, state=store, embedder="hash", seed=2, refresh_interval=0.05)
    only_small = QueryConstraints(allowed_models=("small",))
    await b.route(Query(text="warm up", constraints=only_small))  # b's first read
    for i in range(3):
        d = await a.route(Query(text=f"Solve for x: {i}x + 3 = 12", constraints=only_small))
        await a.feedback(d.query_id, quality=0.0, output_tokens=120)
    await anyio.sleep(0.06)
    assert "small" not in b.backend.cached()
    await b.route(Query(text="a stale snapshot", constraints=only_small))  # decides with what it has...
    assert "small" not in b.backend.cached()
    with anyio.fail_after(5):  # ...and the reads it started bring the other worker's learning
        await b.backend._refresh.wait()  # noqa: SLF001
        await b.shared_lengths._refresh.wait()  # noqa: SLF001
    assert b.backend.cached()["small"].u == 3
    assert b.lengths.to_dict()["small"]["answers"] == 3


async def test_routing_and_learning_survive_a_redis_outage() -> None:
    with RedisProcess() as server:
        store = RedisStateStore.from_url(server.url, prefix="outage:", socket_timeout=0.3,
                                         socket_connect_timeout=0.3, retries=0)
        router = Router(MODELS, state=store, embedder="hash", refresh_interval=0.0)
        only_small = QueryConstraints(allowed_models=("small",))
        d = await router.route(Query(text="warm up", constraints=only_small))
        await router.feedback(d.query_id, quality=1.0)
        server.stop()
        for i in range(5):  # Redis is gone: decisions, feedback and learning go on in this process
            d = await router.route(Query(text=f"while redis is down {i}", constraints=only_small))
            await router.feedback(d.query_id, quality=1.0)
        assert router.backend.backlog == 5
        assert router.stats()["models"]["small"]["observations"] == 6
        server.start()
        d = await router.route(Query(text="redis is back", constraints=only_small))
        await router.feedback(d.query_id, quality=1.0)
        assert router.backend.backlog == 0
        fresh = Router(MODELS, state=store, embedder="hash")
        await fresh.refresh()
        # The 5 updates made during the outage and the one after it are all in Redis (the
        # one made before it died with the restarted, non-persistent server).
        assert fresh.stats()["models"]["small"]["observations"] == 6
        await store.clear()
        await store.close()


async def test_a_stale_snapshot_is_read_again_beside_the_decision_not_in_its_way() -> None:
    with RedisProcess() as server:
        store = RedisStateStore.from_url(server.url, prefix="stale:", socket_timeout=5, retries=0)
        writer = RedisPosteriors(store, "space", 3)
        reader = RedisPosteriors(store, "space", 3, refresh_interval=0.05)
        x = np.ones(3)
        await writer.update("m", x, 1.0, 1.0, None)
        assert (await reader.snapshot(["m"]))["m"].u == 1  # the first read waits for Redis
        await writer.update("m", x, 1.0, 1.0, None)
        await anyio.sleep(0.06)
        server.pause()  # Redis stalls: a read would wait for it
        try:
            with anyio.fail_after(1):
                stale = await reader.snapshot(["m"])
                reader.start_due()  # as the router does once its decision is made
            assert stale["m"].u == 1 and reader._refresh.running  # noqa: SLF001 - the read goes on beside
        finally:
            server.resume()
        with anyio.fail_after(5):
            await reader._refresh.wait()  # noqa: SLF001
        assert (await reader.snapshot(["m"]))["m"].u == 2
        await store.clear()
        await store.close()


async def test_concurrent_updates_after_an_outage_replay_each_backlogged_one_once() -> None:
    """Several requests right after Redis returns all replay the backlog: none is sent twice
    or lost (the scale-out run saw IndexError 500s and doubled updates here)."""
    import anyio

    with RedisProcess() as server:
        store = RedisStateStore.from_url(server.url, prefix="replay:", socket_timeout=0.3,
                                         socket_connect_timeout=0.3, retries=0)
        backend = Router(MODELS, state=store, embedder="hash", refresh_interval=0.0).backend
        x = np.zeros(backend.dim)
        x[0] = 1.0
        qualities = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
        server.stop()
        for y in qualities:  # each a different update, so a doubled or lost one shows in `yy`
            await backend.update("small", x, y, 1.0, None)
        assert backend.backlog == 6
        server.start()
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(backend.update, "small", x, 0.0, 1.0, None)
        assert backend.backlog == 0
        stored = (await backend.snapshot(["small"]))["small"]
        assert stored.u == 6 + 8
        assert stored.yy == pytest.approx(sum(y * y for y in qualities))
        await store.clear()
        await store.close()


async def test_a_redis_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    with RedisProcess() as server:
        store = RedisStateStore.from_url(server.url, prefix="outage-log:", socket_timeout=0.3,
                                         socket_connect_timeout=0.3, retries=0)
        router = Router(MODELS, state=store, embedder="hash", refresh_interval=0.0)
        d = await router.route(Query(text="warm up"))
        await router.feedback(d.query_id, quality=1.0)
        caplog.set_level(logging.INFO, logger="conduit.router")
        caplog.clear()
        server.stop()
        for i in range(12):  # posterior reads and updates, feature cache, decision records: all fail
            d = await router.route(Query(text=f"while redis is down, query {i}"))
            await router.feedback(d.query_id, quality=1.0)
        ours = [r for r in caplog.records if r.name == "conduit.router"]
        assert [r.levelno for r in ours] == [logging.WARNING]
        assert "Redis unavailable" in ours[0].getMessage()
        assert router.outages.down
        assert router.outages.failures >= 12 * 3  # every failed call counted, one line logged
        assert router.analyzer.counters["store_errors"] == 3 and router.backend.counters["errors"] >= 24
        server.start()
        for i in range(3):
            d = await router.route(Query(text=f"redis is back {i}"))
            await router.feedback(d.query_id, quality=1.0)
        ours = [r for r in caplog.records if r.name == "conduit.router"]
        assert [r.levelno for r in ours] == [logging.WARNING, logging.INFO]
        assert "answers again" in ours[1].getMessage()
        assert router.stats()["redis"] == {"down": False, "failures": router.outages.failures, "outages": 1}
        server.stop()  # a second outage gets its own warning
        d = await router.route(Query(text="down again"))
        assert [r.levelno for r in caplog.records if r.name == "conduit.router"][-1] == logging.WARNING
        assert router.outages.outages == 2
        await store.close()


def _old_layout_stats(dim: int = 25, n: int = 30) -> bytes:
    """Statistics as conduit-router with six domains (25-value contexts) wrote them."""
    stats = ModelStats.empty(dim)
    rng = np.random.default_rng(5)
    for _ in range(n):
        apply_update(stats, rng.normal(size=dim), 1.0, 1.0, 1.0, None, 0.98)
    return orjson.dumps(stats.to_json())


async def test_posteriors_of_the_earlier_context_layout_are_reported_once_and_not_used(
        store: RedisStateStore, caplog: pytest.LogCaptureFixture) -> None:
    router = Router(MODELS, state=store, embedder="hash", refresh_interval=0.0)
    legacy = f"{store.prefix}router:post:{router.analyzer.legacy_space}:"
    await store.client.set(legacy + "medium", _old_layout_stats())
    caplog.set_level(logging.WARNING, logger="conduit.router")
    for i in range(3):
        d = await router.route(Query(text=f"Solve for x: {i}x + 3 = 12"))
        await router.feedback(d.query_id, quality=1.0)
    warnings = [r.getMessage() for r in caplog.records if r.name == "conduit.router"]
    assert len(warnings) == 1, warnings
    assert "earlier conduit-router" in warnings[0] and "had 25 values" in warnings[0] and "has 26" in warnings[0]
    assert "medium" in warnings[0] and legacy in warnings[0]
    # The old statistics are left alone (a worker of the earlier version may still use them)...
    assert orjson.loads(await store.client.get(legacy + "medium"))["d"] == 25
    # ...and this router learns under its own keys, from its priors.
    stats = router.backend.cached()
    assert all(s.dim == 26 for s in stats.values()) and sum(s.u for s in stats.values()) == 3
    assert router.stats()["models"]["medium"]["observations"] == stats.get("medium", ModelStats.empty(26)).u


async def test_statistics_of_another_dimension_at_the_key_are_skipped_then_replaced(
        store: RedisStateStore, caplog: pytest.LogCaptureFixture) -> None:
    router = Router(MODELS, state=store, embedder="hash", refresh_interval=0.0)
    key = router.backend.key("small")
    await store.client.set(key, _old_layout_stats())
    caplog.set_level(logging.WARNING, logger="conduit.router")
    only_small = QueryConstraints(allowed_models=("small",))
    d = await router.route(Query(text="hello there", constraints=only_small))  # reads, skips, routes from the prior
    assert "small" not in router.backend.cached()
    await router.feedback(d.query_id, quality=0.0)  # the update replaces the stale value
    stored = ModelStats.from_json(orjson.loads(await store.client.get(key)))
    assert stored.dim == 26 and stored.u == 1 and stored.n == 1.0
    assert "replaced" not in orjson.loads(await store.client.get(key))
    warnings = [r.getMessage() for r in caplog.records if r.name == "conduit.router"]
    assert len(warnings) == 1 and "has 25 context values where this router uses 26" in warnings[0]
    assert router.backend.counters["stale_layout"] == 2 and router.backend.counters["errors"] == 0
    d = await router.route(Query(text="hello again", constraints=only_small))
    await router.feedback(d.query_id, quality=1.0)
    assert router.backend.cached()["small"].u == 2 and router.backend.backlog == 0


async def test_feedback_on_a_decision_recorded_with_the_old_layout_is_accepted_not_learned(
        store: RedisStateStore, caplog: pytest.LogCaptureFixture) -> None:
    # A decision an earlier worker (25-value contexts) recorded; its feedback arrives here.
    record = {"m": "medium", "x": [0.1] * 25, "d": "factual", "c": 0.0001, "u": None, "ts": time.time(), "tol": 15000.0}
    await store.set("router:decision:q-old", orjson.dumps(record), ttl=60)
    router = Router(MODELS, state=store, embedder="hash", refresh_interval=0.0)
    caplog.set_level(logging.WARNING, logger="conduit.router")
    result = await router.feedback("q-old", quality=1.0, latency_ms=250.0)
    assert result.model == "medium" and result.reward == 1.0 and result.latency_recorded
    stats = router.backend.cached()["medium"]
    assert stats.u == 0 and stats.lu == 1  # the latency counts, the quality is not learned over the wrong layout
    warnings = [r.getMessage() for r in caplog.records if r.name == "conduit.router"]
    assert len(warnings) == 1 and "q-old" in warnings[0] and "25-value context" in warnings[0]
    with pytest.raises(FeedbackConflictError):  # still once per query
        await router.feedback("q-old", quality=0.0)


async def test_a_context_vector_of_the_wrong_length_is_a_clear_error(store: RedisStateStore) -> None:
    router = Router(MODELS, embedder="hash")
    with pytest.raises(ValueError, match="context vector of 26 values"):
        await router.observe("small", [0.0] * 25, 1.0)
    with pytest.raises(ValueError, match="has 25 values; these posteriors take 26"):
        await LocalPosteriors(26).update("small", np.zeros(25), 1.0, 1.0, None)
    shared = RedisPosteriors(store, "space", 26)
    with pytest.raises(ValueError, match="has 25 values; these posteriors take 26"):
        await shared.update("small", np.zeros(25), 1.0, 1.0, None)
    assert shared.backlog == 0 and await store.client.get(shared.key("small")) is None
