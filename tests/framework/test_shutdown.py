"""Graceful shutdown: cleanup callbacks run at shutdown, once, even when one fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import httpx
import pytest

from conduit.app import Conduit
from conduit.framework.edge_cases import create_graceful_shutdown_handler
from conduit.testing import TestClient, free_port, wait_until_serving


def test_cleanups_run_in_the_apps_shutdown_last_first_and_once() -> None:
    calls: list[str] = []
    shutdown = create_graceful_shutdown_handler(cleanup_timeout=5)

    @shutdown.register_cleanup
    def close_db() -> None:
        calls.append("db")

    @shutdown.register_cleanup
    def broken() -> None:
        raise RuntimeError("cleanup failed")

    @shutdown.register_cleanup
    async def close_model() -> None:
        calls.append("model")

    app = Conduit(plugins=[])
    shutdown.attach(app)
    app.get("/")(lambda request: {"ok": True})
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
        assert calls == []
    assert calls == ["model", "db"] and shutdown.done
    shutdown.run_cleanups()
    assert calls == ["model", "db"]


def test_a_hanging_cleanup_is_abandoned_after_the_timeout() -> None:
    release = threading.Event()
    shutdown = create_graceful_shutdown_handler(cleanup_timeout=0.2)
    shutdown.register_cleanup(release.wait)  # would block for ever (pytest-timeout fails it)
    try:
        shutdown.run_cleanups()
        assert shutdown.done and not release.is_set()
    finally:
        release.set()


_SERVER = textwrap.dedent(
    """
    import sys
    from conduit import Conduit
    from conduit.framework.edge_cases import create_graceful_shutdown_handler

    app = Conduit(plugins=[])
    shutdown = create_graceful_shutdown_handler()
    shutdown.register_cleanup(lambda: print("Cleanup complete", flush=True))
    shutdown.setup_signal_handlers()

    @app.get("/")
    def home(req, res):
        res.json({"service": "Production API"})

    app.run(host="127.0.0.1", port=int(sys.argv[1]), banner=False)
    """
)

_SCRIPT = textwrap.dedent(
    """
    import os, signal, time
    from conduit.framework.edge_cases import create_graceful_shutdown_handler

    shutdown = create_graceful_shutdown_handler()
    shutdown.register_cleanup(lambda: print("Cleanup complete", flush=True))
    shutdown.setup_signal_handlers()
    print("ready", flush=True)
    time.sleep(30)
    """
)


@pytest.mark.slow
def test_seed_flow_sigterm_to_a_serving_app_runs_the_cleanups() -> None:
    port = free_port()
    env = {**os.environ, "CONDUIT_PLUGINS": ""}
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", process=proc)
        assert httpx.get(f"http://127.0.0.1:{port}/").json() == {"service": "Production API"}
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Cleanup complete" in out, err
    assert out.count("Cleanup complete") == 1


def test_sigterm_outside_a_server_runs_the_cleanups_then_exits() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert out.strip() == "Cleanup complete"
    assert proc.returncode == 128 + signal.SIGTERM
