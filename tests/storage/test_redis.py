"""What only the Redis store promises: shared across processes, scripts survive a
server restart, failures surface as StoreUnavailableError and the client recovers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time

import pytest

from conduit.framework.errors import ConfigurationError, ConduitError
from conduit.storage import MemoryStateStore, StoreUnavailableError, create_state_store
from conduit.storage.redis import RedisStateStore
from conduit.storage.testing import RedisProcess, free_port, private_redis, unique_prefix  # noqa: F401

pytestmark = pytest.mark.anyio

_WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    from conduit.storage.redis import RedisStateStore

    async def main(url, prefix, start_at):
        store = RedisStateStore.from_url(url, prefix=prefix)
        while time.time() < start_at:
            await asyncio.sleep(0.005)
        results = await asyncio.gather(*(store.acquire("shared", 25, 60) for _ in range(40)))
        await store.close()
        print(sum(r.allowed for r in results))

    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
    """
)


def test_two_processes_sharing_one_redis_admit_exactly_the_limit(redis_url: str) -> None:
    prefix = unique_prefix("two-process")
    start_at = time.time() + 1.5  # both interpreters are up by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_url, prefix, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        counts.append(int(out.strip()))
    try:
        assert sum(counts) == 25
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        client.delete(prefix + "shared")
        client.close()


async def test_keys_live_under_the_prefix_and_expire_in_redis(redis_url: str) -> None:
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix())
    try:
        await store.acquire("w", 5, 2.0)
        await store.set("v", "x", ttl=30)
        assert await store.client.exists(store.prefix + "w", store.prefix + "v") == 2
        assert 0 < await store.client.pttl(store.prefix + "w") <= 2000
        assert 29_000 < await store.client.pttl(store.prefix + "v") <= 30_000
    finally:
        await store.clear()
        await store.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get("k"),
        lambda s: s.set("k", "v", ttl=1),
        lambda s: s.delete("k"),
        lambda s: s.incr("k", ttl=1),
        lambda s: s.acquire("k", 1, 1),
        lambda s: s.ping(),
    ],
    ids=["get", "set", "delete", "incr", "acquire", "ping"],
)
async def test_closed_port_raises_store_unavailable(call) -> None:
    store = RedisStateStore.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5, retries=1)
    try:
        with pytest.raises(StoreUnavailableError, match="unavailable") as info:
            await call(store)
        assert isinstance(info.value, ConduitError)
    finally:
        await store.close()


async def test_client_recovers_by_itself_when_redis_comes_back(private_redis: RedisProcess) -> None:
    store = RedisStateStore.from_url(private_redis.url, prefix="recover:", retries=0)
    try:
        assert (await store.acquire("w", 10, 60)).remaining == 9
        private_redis.stop()
        with pytest.raises(StoreUnavailableError):
            await store.acquire("w", 10, 60)
        private_redis.start()
        # A new server has no data and no cached scripts: EVALSHA is reloaded transparently.
        assert (await store.acquire("w", 10, 60)).remaining == 9
        assert await store.incr("n", ttl=5) == 1
    finally:
        await store.close()


async def test_scripts_are_reloaded_after_script_flush(private_redis: RedisProcess) -> None:
    store = RedisStateStore.from_url(private_redis.url, prefix="flush:")
    try:
        await store.acquire("w", 3, 60)
        await store.incr("n")
        await store.client.script_flush()
        assert (await store.acquire("w", 3, 60)).remaining == 1
        assert await store.incr("n") == 2
    finally:
        await store.close()


def test_create_state_store_picks_the_backend_from_argument_settings_or_env(redis_url: str) -> None:
    assert isinstance(create_state_store(environ={}), MemoryStateStore)
    assert isinstance(create_state_store("memory://", environ={"CONDUIT_REDIS_URL": redis_url}), MemoryStateStore)
    assert isinstance(create_state_store(environ={"CONDUIT_REDIS_URL": redis_url}), RedisStateStore)
    assert isinstance(create_state_store(redis_url, environ={}), RedisStateStore)

    class FakeSettings(dict):
        pass

    assert isinstance(create_state_store(settings=FakeSettings(redis_url=redis_url), environ={}), RedisStateStore)
    store = create_state_store(redis_url, prefix="custom:", environ={})
    assert store.prefix == "custom:"


def test_unknown_url_scheme_names_the_setting_without_the_secret() -> None:
    with pytest.raises(ConfigurationError, match="CONDUIT_REDIS_URL") as info:
        create_state_store("memcached://user:hunter2@host:11211", environ={})
    assert "hunter2" not in str(info.value)


async def test_more_concurrent_operations_than_connections_wait_instead_of_failing(redis_url: str) -> None:
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix(), max_connections=4)
    try:
        results = await asyncio.gather(*(store.acquire("burst", limit=50, window_seconds=60) for _ in range(120)))
    finally:
        await store.clear()
        await store.close()
    assert sum(r.allowed for r in results) == 50


async def test_concurrent_acquires_share_round_trips_and_stay_exact(redis_url: str) -> None:
    store = RedisStateStore.from_url(redis_url, prefix=unique_prefix("pipelined"))
    try:
        results = await asyncio.gather(*(store.acquire("k", limit=60, window_seconds=60) for _ in range(200)))
        # Each acquire is still its own script run, in arrival order: exactly the limit is
        # admitted, and the admitted ones saw every count from 59 down to 0 once.
        assert sum(r.allowed for r in results) == 60
        assert sorted(r.remaining for r in results if r.allowed) == list(range(60))
        assert all(r.remaining == 0 and r.retry_after > 0 for r in results if not r.allowed)
        assert store.pipelined > 100  # most of them went out in pipelines of several
        alone = await store.acquire("other", limit=5, window_seconds=60)
        assert (alone.allowed, alone.remaining) == (True, 4)
    finally:
        await store.clear()
        await store.close()


async def test_pipelined_acquires_survive_a_script_flush(private_redis: RedisProcess) -> None:
    store = RedisStateStore.from_url(private_redis.url, prefix="flush-pipe:")
    try:
        await store.acquire("w", 100, 60)  # the script is loaded...
        await store.client.script_flush()  # ...and forgotten: every pipelined EVALSHA answers NOSCRIPT
        results = await asyncio.gather(*(store.acquire("w", 100, 60) for _ in range(30)))
        assert sorted(r.remaining for r in results) == list(range(69, 99))
        assert store.pipelined >= 30
    finally:
        await store.close()


async def test_pipelined_acquires_fail_together_when_redis_is_gone_and_a_cancelled_one_is_skipped(
    private_redis: RedisProcess,
) -> None:
    store = RedisStateStore.from_url(private_redis.url, prefix="gone-pipe:", retries=0)
    try:
        await store.acquire("w", 10, 60)
        private_redis.stop()
        outcomes = await asyncio.gather(*(store.acquire("w", 10, 60) for _ in range(20)), return_exceptions=True)
        assert all(isinstance(o, StoreUnavailableError) for o in outcomes), outcomes
        private_redis.start()
        waiting = asyncio.ensure_future(store.acquire("w", 10, 60))
        others = [asyncio.ensure_future(store.acquire("w", 10, 60)) for _ in range(5)]
        waiting.cancel()  # e.g. the request timed out: its answer is dropped, the others get theirs
        done = await asyncio.gather(*others)
        assert waiting.cancelled()
        assert all(r.allowed for r in done) and min(r.remaining for r in done) >= 3
    finally:
        await store.close()
