"""Kernel bugs found while documenting it, each pinned by a test."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

import conduit
from conduit import Conduit
from conduit.framework.errors import PluginError, error_handler
from conduit.testing import LiveServer, TestClient

REPO = Path(__file__).resolve().parents[1]


def test_an_async_configure_hook_is_refused_with_a_clear_error() -> None:
    class P:
        __conduit_name__ = "async-config"

        @conduit.hookimpl
        async def conduit_configure(self, app, settings):
            pass

    with pytest.raises(PluginError, match="'async-config': conduit_configure must be synchronous"):
        Conduit(extra_plugins=[P()]).prepare()


def test_error_handler_expose_type_shows_the_exception_class() -> None:
    app = Conduit()
    app.use(error_handler(expose_type=True))

    @app.get("/boom")
    def boom(r):
        raise ValueError("secret detail")

    with TestClient(app) as c:
        detail = c.get("/boom").json()["detail"]
    assert detail.startswith("ValueError:") and "secret detail" not in detail


def test_a_namedtuple_is_json_not_a_body_status_pair() -> None:
    class Score(NamedTuple):
        label: str
        value: int

    app = Conduit()

    @app.get("/score")
    def score(r):
        return Score("cat", 3)

    with TestClient(app) as c:
        r = c.get("/score")
    assert r.status_code == 200 and r.json() == {"label": "cat", "value": 3}


def test_access_log_setting_logs_one_line_per_request(caplog) -> None:
    caplog.set_level(logging.INFO)
    app = Conduit(access_log=True)

    @app.get("/x")
    def x(r):
        return {}

    with TestClient(app) as c:
        c.get("/x")
    lines = [r.getMessage() for r in caplog.records if "GET /x" in r.getMessage()]
    assert len(lines) == 1 and "200" in lines[0]


def test_register_plugin_after_the_app_started_is_an_error(app, register_plugin, client) -> None:
    with pytest.raises(RuntimeError, match="already started"):
        register_plugin(object(), name="late")


def test_live_server_stop_is_idempotent() -> None:
    live = LiveServer(Conduit()).start()
    live.stop()
    live.stop()


def test_background_tasks_run_in_the_test_client_too() -> None:
    app = Conduit()
    done: list[str] = []

    @app.get("/")
    def index(r):
        response = conduit.HTTPResponse().json({})
        response.background.append(lambda: done.append("ran"))
        return response

    with TestClient(app) as c:
        c.get("/")
    assert done == ["ran"]


@pytest.mark.slow
def test_a_second_signal_does_not_kill_in_flight_requests_or_skip_shutdown(tmp_path: Path) -> None:
    """SIGTERM then SIGINT while a request runs: the second signal forces the drain (the
    request is cut, as in uvicorn), yet shutdown hooks still run and the exit is clean."""
    marker = tmp_path / "shutdown.txt"
    app_file = tmp_path / "sigapp.py"
    app_file.write_text(
        "import anyio\nfrom conduit import Conduit\n"
        "app = Conduit(shutdown_timeout=10)\n"
        f"app.on_shutdown(lambda: open({str(marker)!r}, 'w').write('done'))\n"
        "@app.get('/slow')\nasync def slow(r):\n    await anyio.sleep(1.0)\n    return {'slow': True}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "conduit.cli", "run", "sigapp:app", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path, env={**os.environ, "CONDUIT_PLUGINS": "", "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        port = None
        deadline = time.monotonic() + 20
        lines = []
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            m = re.search(r"Server running at http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
        assert port and port != 0, lines  # --port 0 picked a real free port
        result: dict[str, object] = {}

        def slow() -> None:
            try:
                result["status"] = httpx.get(f"http://127.0.0.1:{port}/slow", timeout=10).status_code
            except httpx.HTTPError as exc:
                result["status"] = type(exc).__name__

        t = threading.Thread(target=slow)
        for _ in range(50):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        t.start()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        t.join(15)
        proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert result["status"] in (200, "RemoteProtocolError")
    assert marker.read_text() == "done"
    assert proc.returncode == 0


def test_requests_know_the_local_address_and_errors_are_kept_for_telemetry() -> None:
    seen: dict[str, object] = {}

    async def observe(request, call_next):
        response = await call_next(request)
        seen["server"] = request.server
        seen["exception"] = type(request.state.get("exception")).__name__
        return response

    app = Conduit()
    app.use(observe)

    @app.get("/boom")
    def boom(r):
        raise KeyError("x")

    with LiveServer(app) as live:
        port = live.port
        assert httpx.get(live.url + "/boom").status_code == 500
    assert seen == {"server": ("127.0.0.1", port), "exception": "KeyError"}
    assert [owner for _, owner in app.middleware][-1] == "app"
