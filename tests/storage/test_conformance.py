"""One suite, every state store: the memory store and the Redis store must agree."""

from __future__ import annotations

import anyio
import pytest

from conduit.storage import StateStore, StoreError

pytestmark = pytest.mark.anyio


async def test_get_of_a_missing_key_returns_none(store: StateStore) -> None:
    assert await store.get("absent") is None


@pytest.mark.parametrize(
    ("value", "stored"),
    [(b"\x00raw", b"\x00raw"), ("text é", "text é".encode()), (42, b"42"), (2.5, b"2.5")],
)
async def test_set_then_get_returns_the_encoded_value(store: StateStore, value: object, stored: bytes) -> None:
    await store.set("k", value)  # type: ignore[arg-type]
    assert await store.get("k") == stored


async def test_set_overwrites_and_drops_the_old_ttl(backend) -> None:
    await backend.store.set("k", "old", ttl=0.3)
    await backend.store.set("k", "new")
    await backend.advance(0.5)
    assert await backend.store.get("k") == b"new"


async def test_value_with_ttl_expires(backend) -> None:
    await backend.store.set("k", "v", ttl=0.6)
    assert await backend.store.get("k") == b"v"
    await backend.advance(0.8)
    assert await backend.store.get("k") is None


async def test_delete_reports_whether_something_was_removed(store: StateStore) -> None:
    await store.set("k", "v")
    assert await store.delete("k") is True
    assert await store.delete("k") is False
    assert await store.get("k") is None


async def test_incr_counts_from_zero_by_amount(store: StateStore) -> None:
    assert await store.incr("n") == 1
    assert await store.incr("n", 5) == 6
    assert await store.incr("n", -2) == 4
    assert await store.get("n") == b"4"


async def test_incr_ttl_is_set_once_so_the_counter_is_a_fixed_window(backend) -> None:
    store = backend.store
    assert await store.incr("n", ttl=1.0) == 1
    await backend.advance(0.3)
    assert await store.incr("n", ttl=1.0) == 2  # must not push the expiry out
    await backend.advance(0.9)
    assert await store.get("n") is None
    assert await store.incr("n", ttl=1.0) == 1


async def test_incr_of_text_raises_store_error(store: StateStore) -> None:
    await store.set("k", "not a number")
    with pytest.raises(StoreError, match="not an integer"):
        await store.incr("k")


async def test_acquire_admits_limit_then_denies_with_retry_after(store: StateStore) -> None:
    results = [await store.acquire("w", limit=3, window_seconds=60) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert all(r.limit == 3 for r in results)
    assert [r.retry_after for r in results[:3]] == [0.0, 0.0, 0.0]
    assert 59.0 < results[3].retry_after <= 60.0
    assert 59.0 < results[3].reset_after <= 60.0


async def test_window_slides_one_slot_frees_when_the_oldest_expires(backend) -> None:
    store = backend.store
    assert (await store.acquire("w", 2, 2.0)).allowed
    await backend.advance(0.8)
    assert (await store.acquire("w", 2, 2.0)).allowed
    denied = await store.acquire("w", 2, 2.0)
    assert not denied.allowed
    assert 0.0 < denied.retry_after <= 1.2 + 1e-9
    assert denied.retry_after < denied.reset_after <= 2.0
    await backend.advance(denied.retry_after + 0.05)
    again = await store.acquire("w", 2, 2.0)
    assert again.allowed and again.remaining == 0  # the second request is still in the window


async def test_denied_requests_are_not_counted(backend) -> None:
    store = backend.store
    assert (await store.acquire("w", 1, 0.5)).allowed
    for _ in range(5):
        await backend.advance(0.05)
        assert not (await store.acquire("w", 1, 0.5)).allowed
    await backend.advance(0.35)
    assert (await store.acquire("w", 1, 0.5)).allowed


async def test_fifty_concurrent_acquires_with_limit_ten_admit_exactly_ten(store: StateStore) -> None:
    results = []

    async def one() -> None:
        results.append(await store.acquire("burst", limit=10, window_seconds=30))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(one)
    allowed = [r for r in results if r.allowed]
    assert len(results) == 50
    assert len(allowed) == 10
    assert sorted(r.remaining for r in allowed) == list(range(10))


async def test_window_key_is_not_a_value(store: StateStore) -> None:
    await store.acquire("w", 1, 10)
    with pytest.raises(StoreError):
        await store.get("w")
    await store.set("v", "x")
    with pytest.raises(StoreError):
        await store.acquire("v", 1, 10)


@pytest.mark.parametrize(("limit", "window"), [(0, 1.0), (-1, 1.0), (1, 0), (1.5, 1.0), (True, 1.0)])
async def test_acquire_rejects_a_limit_or_window_it_cannot_honour(store: StateStore, limit, window) -> None:
    with pytest.raises(ValueError):
        await store.acquire("w", limit, window)


@pytest.mark.parametrize("ttl", [0, -1.0, True])
async def test_ttl_must_be_positive(store: StateStore, ttl) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await store.set("k", "v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        await store.incr("k", ttl=ttl)


async def test_clear_deletes_only_this_stores_prefix(backend) -> None:
    neighbour = backend.make("neighbour-" + backend.store.prefix)
    await backend.store.set("a", 1)
    await backend.store.acquire("w", 5, 60)
    await neighbour.set("a", 2)
    assert await backend.store.clear() >= 2
    assert await backend.store.get("a") is None
    assert await neighbour.get("a") == b"2"
    await neighbour.clear()


async def test_ping_answers_true(store: StateStore) -> None:
    assert await store.ping() is True


async def test_store_satisfies_the_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)
