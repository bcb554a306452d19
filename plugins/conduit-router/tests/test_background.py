"""The background read that keeps shared state fresh beside decisions (conduit_router.background)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from conduit_router.background import Refresh


@pytest.mark.anyio
async def test_one_read_runs_at_a_time_and_the_next_starts_after_it() -> None:
    refresh = Refresh("test read")
    gate = asyncio.Event()
    calls = []

    async def read() -> None:
        calls.append(1)
        await gate.wait()

    refresh.start(read)
    await asyncio.sleep(0)
    refresh.start(read)  # one is in flight: nothing new
    assert refresh.running and len(calls) == 1
    gate.set()
    await refresh.wait()
    assert not refresh.running
    refresh.start(read)
    await refresh.wait()
    assert len(calls) == 2


@pytest.mark.anyio
async def test_a_failed_read_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    refresh = Refresh("test read")
    calls = []

    async def read() -> None:
        calls.append(1)
        raise ValueError("not what Redis holds")

    with caplog.at_level(logging.WARNING, logger="conduit.router"):
        refresh.start(read)
        await refresh.wait()
        refresh.start(read)
        await refresh.wait()
    assert len(calls) == 2
    assert caplog.text.count("the background test read failed; the next one tries again") == 2


def test_a_read_left_on_another_event_loop_is_not_waited_for() -> None:
    # A router used from one event loop and then another (a test, a framework that runs each
    # lifespan on a loop of its own): the first loop's read is not this loop's to wait for.
    refresh = Refresh("test read")
    calls = []

    async def forever() -> None:
        await asyncio.sleep(3600)

    async def read() -> None:
        calls.append(1)

    async def start_forever() -> None:
        refresh.start(forever)

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(start_forever())
        pending = refresh._task  # noqa: SLF001 - still pending on the first loop

        async def later() -> None:
            assert not refresh.running
            await refresh.wait()  # returns at once
            refresh.start(read)
            await refresh.wait()

        asyncio.run(later())
        assert calls == [1]
        assert pending is not None and not pending.done()
        pending.cancel()
        first.run_until_complete(asyncio.gather(pending, return_exceptions=True))
    finally:
        first.close()


@pytest.mark.anyio
async def test_the_first_read_waits_a_stale_copy_is_read_after_the_caller_and_a_reset_waits_again() -> None:
    refresh = Refresh("test read", interval=0.02)
    reads = []

    async def read() -> None:
        reads.append(1)

    await refresh.ensure(read)  # the first read of all: now
    await refresh.ensure(read)  # fresh: nothing
    assert len(reads) == 1
    await asyncio.sleep(0.03)
    await refresh.ensure(read)  # stale: due, the caller goes on
    assert len(reads) == 1
    refresh.start_due()
    await refresh.wait()
    assert len(reads) == 2
    refresh.start_due()  # nothing due any more
    await refresh.ensure(read)  # the background read counts from its start: still fresh
    await refresh.wait()
    assert len(reads) == 2
    await refresh.ensure(read, wait=True)  # asked for now
    assert len(reads) == 3
    refresh.forget()
    await refresh.ensure(read)  # the copy was dropped: now again
    assert len(reads) == 4


@pytest.mark.anyio
async def test_an_interval_of_zero_reads_and_waits_every_time() -> None:
    refresh = Refresh("test read")
    reads = []

    async def read() -> None:
        reads.append(1)

    for _ in range(3):
        await refresh.ensure(read)
    assert len(reads) == 3 and not refresh.running
