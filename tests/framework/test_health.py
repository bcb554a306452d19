"""HealthCheck: sync and async checks, run together, each under its own timeout."""

from __future__ import annotations

import asyncio
import threading

import pytest

from conduit.framework.health import HealthCheck


def test_sync_async_and_bool_checks_are_reported_by_name() -> None:
    health = HealthCheck()
    health.register_check("db", lambda: (True, "Database OK"))
    health.register_check("cache", lambda: False)

    async def queue() -> tuple[bool, str]:
        await asyncio.sleep(0)
        return True, "queue OK"

    health.register_check("queue", queue)
    report = health.run_checks()
    assert not report.ok
    assert report.failing == ["cache"]
    body = report.to_dict()
    assert body["status"] == "unavailable"
    assert body["checks"]["db"]["message"] == "Database OK"
    assert body["checks"]["queue"] == {"ok": True, "message": "queue OK", "duration_ms": body["checks"]["queue"]["duration_ms"]}
    assert body["checks"]["cache"]["message"] == "failed"


def test_checks_run_concurrently() -> None:
    barrier = threading.Barrier(3, timeout=5)  # only passes if all three wait at once

    def check() -> tuple[bool, str]:
        barrier.wait()
        return True, "ok"

    health = HealthCheck()
    for name in ("a", "b", "c"):
        health.register_check(name, check)
    assert health.run_checks().ok


def test_a_check_that_overruns_its_timeout_fails_without_holding_the_others() -> None:
    release = threading.Event()
    health = HealthCheck()
    health.register_check("stuck", lambda: release.wait(30) or (True, "late"), timeout=0.2)

    async def hangs() -> tuple[bool, str]:
        await asyncio.sleep(30)
        return True, "never"

    health.register_check("hangs", hangs, timeout=0.2)
    health.register_check("fine", lambda: (True, "ok"))
    try:
        report = health.run_checks()
    finally:
        release.set()
    assert report.failing == ["hangs", "stuck"]
    assert report.results["stuck"].message == "timed out after 0.2s"
    assert report.results["fine"].ok


def test_a_raising_check_fails_with_a_sanitised_message() -> None:
    def broken() -> tuple[bool, str]:
        raise OSError("cannot open /srv/models/secret-model.onnx with token=abc123")

    health = HealthCheck()
    health.register_check("model", broken)
    health.register_check("bad-return", lambda: "yes")
    report = health.run_checks()
    message = report.results["model"].message
    assert message.startswith("OSError: cannot open <path>")
    assert "/srv" not in message and "abc123" not in message
    assert report.results["bad-return"].message.startswith("TypeError")


def test_startup_probe_runs_only_startup_checks() -> None:
    health = HealthCheck()
    health.register_check("model loaded", lambda: (True, "loaded"), startup=True)
    health.register_check("db", lambda: (False, "down"))
    assert health.run_checks(startup_only=True).ok
    assert health.run_checks().failing == ["db"]


@pytest.mark.anyio
async def test_arun_checks_on_the_loop_and_run_checks_refuses_there() -> None:
    health = HealthCheck()
    health.register_check("x", lambda: (True, "ok"))
    assert (await health.arun_checks(extra={"y": lambda: (False, "no")})).failing == ["y"]
    with pytest.raises(RuntimeError, match="arun_checks"):
        health.run_checks()


def test_registering_rejects_what_cannot_run() -> None:
    health = HealthCheck()
    with pytest.raises(TypeError):
        health.register_check("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        health.register_check("x", lambda: True, timeout=0)
    health.register_check("x", lambda: True)
    assert health.unregister_check("x") and not health.unregister_check("x")
