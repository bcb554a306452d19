"""The conduit command: run, routes, plugins, check, and plugin-added commands."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conduit.cli import main
from conduit.testing import free_port, wait_until_serving

REPO = Path(__file__).resolve().parents[1]


def test_routes_lists_app_and_plugin_routes(capsys, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    assert main(["routes", "examples.hello:app"]) == 0
    out = capsys.readouterr().out
    assert "GET      /users/:id" in out and "/-/plugins.json" in out and "conduit._builtins.routes" in out


def _plugins_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, enabled: str) -> tuple[dict[str, Any], str]:
    """`conduit plugins --json` and `conduit plugins` with CONDUIT_PLUGINS=enabled."""
    monkeypatch.setenv("CONDUIT_PLUGINS", enabled)
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")
    from conduit.plugins import reset_default_plugin_manager

    reset_default_plugin_manager()
    try:
        assert main(["plugins", "--json"]) == 0
        listing = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
        assert main(["plugins"]) == 0
        return listing, capsys.readouterr().out
    finally:
        reset_default_plugin_manager()


def test_plugins_lists_installed_and_enabled_apart(capsys, monkeypatch) -> None:
    listing, text = _plugins_output(capsys, monkeypatch, "hello")
    hello = listing["hello"]
    assert hello["installed"] and hello["enabled"] and hello["version"] == "0.1.0"
    assert "conduit_register_routes" in hello["hooks"]
    for name in ("onnx", "mcp", "router", "otel", "vector"):
        assert listing[name]["installed"] and listing[name]["loaded"] and not listing[name]["enabled"], name
    assert "hello 0.1.0 installed, enabled" in text and "router 0.1.0 installed\n" in text
    assert "Installed but not enabled here: mcp, onnx, otel, router, vector" in text


def test_plugins_still_lists_the_others_when_one_fails_to_import(capsys, monkeypatch, broken_plugin) -> None:
    listing, text = _plugins_output(capsys, monkeypatch, "broken,hello")  # even enabled, the CLI lists it with its error
    assert "boom at import" in listing["broken"]["error"] and not listing["broken"]["loaded"]
    assert listing["hello"]["enabled"] and listing["router"]["loaded"]
    assert "broken 1.0 failed to load\n    error: plugin 'broken'" in text and "hello 0.1.0 installed, enabled" in text


def test_output_into_a_closed_pipe_ends_quietly(tmp_path) -> None:
    """`conduit routes APP | head -1` and `conduit plugins | head -1`: no BrokenPipeError traceback."""
    app = tmp_path / "many_routes.py"
    app.write_text(
        "from conduit import Conduit\napp = Conduit()\n"
        "for i in range(3000):\n    app.add_route(f'/r{i}', lambda r: {})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    conduit = str(Path(sys.executable).parent / "conduit")
    for command in (f"{conduit} routes many_routes:app | head -1", f"{conduit} plugins | head -1"):
        proc = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.stdout.count("\n") == 1, proc.stdout
        assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr


def test_check_reports_problems_and_exits_1(capsys, monkeypatch) -> None:
    monkeypatch.setenv("CONDUIT_PORT", "not-a-port")
    assert main(["check"]) == 1
    assert "'port' from $CONDUIT_PORT must be an integer" in capsys.readouterr().out


def test_check_names_a_problem_once_when_the_app_cannot_be_built_either(capsys, monkeypatch, tmp_path) -> None:
    (tmp_path / "plain_app.py").write_text("from conduit import Conduit\napp = Conduit()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONDUIT_PORT", "99999")
    assert main(["check", "plain_app:app"]) == 1
    out = capsys.readouterr().out
    assert out.count("must be <= 65535") == 1, out
    assert "invalid configuration:" not in out


def test_check_verbose_says_where_each_value_came_from_and_hides_secrets(capsys, monkeypatch, tmp_path) -> None:
    """Issue 23: a seed's variable, Conduit's own variable and the default, each with its
    source; API keys and a URL's password are not printed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@cache.internal:6379/3")
    monkeypatch.setenv("CONDUIT_PORT", "9000")
    monkeypatch.setenv("CONDUIT_API_KEYS", "sk-very-secret")
    assert main(["check", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "  redis_url = redis://:***@cache.internal:6379/3  ($REDIS_URL)" in out
    assert "  port = 9000  ($CONDUIT_PORT)" in out
    assert "  shutdown_timeout = 30.0  (default)" in out
    assert "  api_keys = *** (set)  ($CONDUIT_API_KEYS)" in out
    assert "hunter2" not in out and "sk-very-secret" not in out


def test_check_passes_on_a_good_app(capsys, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    assert main(["check", "examples.hello:app"]) == 0
    assert "configuration OK" in capsys.readouterr().out


def test_bad_app_target_is_a_clear_error(capsys) -> None:
    assert main(["routes", "nonexistent_module_xyz:app"]) == 1
    assert "cannot import module 'nonexistent_module_xyz'" in capsys.readouterr().err
    assert main(["routes", "no-colon"]) == 1
    assert "module:attribute" in capsys.readouterr().err


PID_APP = """
import os

from conduit import Conduit

app = Conduit()


@app.get("/pid")
async def pid(request):
    return {"pid": os.getpid()}
"""


def _burst(port: int, connections: int, path: str = "/pid") -> list[int]:
    """Open ``connections`` sockets at once, then send one keep-alive request on each; the
    serving worker's pid per connection."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(connections)]
    try:
        for s in socks:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        pids = []
        for s in socks:
            data = b""
            while b"}" not in data:
                chunk = s.recv(4096)
                assert chunk, "connection closed before the response"
                data += chunk
            pids.append(json.loads(data[data.index(b"{"):])["pid"])
        return pids
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def _workers(tmp_path, source: str, workers: int = 2) -> Iterator[tuple[subprocess.Popen, int]]:
    """``conduit run --workers`` on ``source`` (saved as worker_app.py); killed if still running
    when the block ends."""
    (tmp_path / "worker_app.py").write_text(source)
    port = free_port()
    env = {**os.environ, "CONDUIT_PLUGINS": "", "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conduit.cli", "run", "worker_app:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _sigterm(proc: subprocess.Popen) -> str:
    """Stop the server as a supervisor would; everything it printed."""
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=20)[0]


def _both_workers(proc: subprocess.Popen, port: int) -> set[int]:
    """Wait until the server answers and both workers have served a request; their pids."""
    wait_until_serving(f"http://127.0.0.1:{port}/health", process=proc)
    deadline = time.monotonic() + 20
    pids: set[int] = set()
    while len(pids) < 2:
        assert time.monotonic() < deadline, "one worker never answered"  # the other still starting
        pids |= set(_burst(port, 16))
    return pids


@pytest.mark.slow
def test_run_prints_the_banner_serves_with_two_workers_and_stops_on_sigterm(tmp_path) -> None:
    with _workers(tmp_path, PID_APP) as (proc, port):
        _both_workers(proc, port)
        # A burst of connections opened together (what a load balancer or wrk does at start)
        # lands on both workers: each listens on its own SO_REUSEPORT socket and the kernel
        # spreads connections by address hash. On one shared socket the first worker to wake
        # accepted the whole burst and its keep-alive clients stayed there.
        for _ in range(3):
            pids = _burst(port, 32)
            assert len(set(pids)) == 2, pids
            assert min(pids.count(p) for p in set(pids)) >= 4, pids
        out = _sigterm(proc)
    assert proc.returncode == 0, out
    assert "Conduit Framework" in out and f"Server running at http://127.0.0.1:{port}" in out
    assert "Workers: 2 processes sharing the port" in out and "route(s) registered" in out


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced_and_the_port_keeps_serving(tmp_path) -> None:
    with _workers(tmp_path, PID_APP) as (proc, port):
        pids = _both_workers(proc, port)
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        seen: set[int] = set()
        deadline = time.monotonic() + 20
        while not (seen - pids):  # a pid that was not there before: the replacement
            assert time.monotonic() < deadline, f"no replacement answered; seen {seen}"
            try:
                seen |= set(_burst(port, 16))
            except (OSError, AssertionError):
                pass  # a connection queued at the killed worker is reset: the client retries
            time.sleep(0.1)
        assert victim not in seen
        out = _sigterm(proc)
    assert proc.returncode == 0, out
    assert f"worker {victim} exited (signal SIGKILL); starting a replacement" in out


METRICS_APP = PID_APP + """

@app.get("/hit")
async def hit(request):
    return {"pid": os.getpid()}
"""


def _hits_counted(port: int) -> float:
    """What one scrape of /metrics (a new connection: either worker) counts for GET /hit."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics?format=prometheus", timeout=10).text
    found = re.search(r'^conduit_http_requests_total\{method="GET",route="/hit",status="200"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.slow
def test_metrics_under_two_workers_count_the_whole_server_and_never_fall(tmp_path) -> None:
    with _workers(tmp_path, METRICS_APP) as (proc, port):
        pids = _both_workers(proc, port)
        served = _burst(port, 40, "/hit") + _burst(port, 40, "/hit")
        assert set(served) == pids  # both workers served /hit
        readings = [_hits_counted(port)]
        deadline = time.monotonic() + 15
        while readings[-1] < len(served):  # the other worker's count arrives with its next write (1 s)
            assert time.monotonic() < deadline, readings
            readings.append(_hits_counted(port))
        readings += [_hits_counted(port) for _ in range(10)]
        assert readings == sorted(readings), readings  # whichever worker answers, a counter never falls
        assert readings[-1] == len(served)
        document = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).json()
        assert document["throughput"]["workers"] == 2
        assert document["throughput"]["total_requests"] >= len(served) and document["latency"]["samples"] >= len(served)
        # A worker killed and replaced: what it counted stays in the total.
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if set(_burst(port, 16)) - pids:
                    break
            except (OSError, AssertionError):
                pass  # a connection queued at the killed worker is reset
            assert time.monotonic() < deadline, "no replacement answered"
        assert all(_hits_counted(port) == len(served) for _ in range(6))
        _sigterm(proc)
    assert proc.returncode == 0


FAILING_APP = """
from conduit import Conduit

app = Conduit()


@app.on_startup
async def load_model():
    raise RuntimeError("model file missing")
"""


@pytest.mark.slow
def test_workers_of_an_app_that_cannot_start_are_not_restarted_forever(tmp_path) -> None:
    with _workers(tmp_path, FAILING_APP) as (proc, _):
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    assert "model file missing" in out
    assert "3 workers in a row exited within 5 s of starting: stopping (the app cannot start" in out


CHECKING_APP = """
from conduit import Conduit, hookimpl


class Checks:
    @hookimpl
    def conduit_check(self, settings, warn, fail):
        warn(f"port {settings.port} is the default")
        fail("the model file is missing; set MODEL_PATH")


class Broken:
    @hookimpl
    def conduit_check(self, warn):
        raise OSError("disk gone")


app = Conduit(extra_plugins=[Checks(), Broken()])
"""


def test_check_runs_the_plugins_conduit_check_hooks(tmp_path, capsys, monkeypatch) -> None:
    (tmp_path / "checking_app.py").write_text(CHECKING_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["check", "checking_app:app"]) == 1
    out = capsys.readouterr().out
    assert "warning: port 8000 is the default" in out
    assert "  - the model file is missing; set MODEL_PATH" in out
    assert "its conduit_check raised OSError: disk gone" in out


RISKY_APP = '''
from conduit import Conduit

app = Conduit()


@app.post("/charge", risk="spends money")
def charge(request):
    return {}
'''


def test_check_warns_when_an_open_server_would_serve_routes_that_spend_or_write(capsys, monkeypatch, tmp_path) -> None:
    for name in ("risky_open", "risky_loopback", "risky_keyed"):  # a module each: an app is built at import
        (tmp_path / f"{name}.py").write_text(RISKY_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONDUIT_API_KEYS", raising=False)
    assert main(["check", "risky_open:app"]) == 0  # a warning, not a failure
    out = capsys.readouterr().out
    assert "warning: no API keys are configured and the server listens on 0.0.0.0" in out
    assert "POST /charge (spends money, from app)" in out
    monkeypatch.setenv("CONDUIT_HOST", "127.0.0.1")
    assert main(["check", "risky_loopback:app"]) == 0
    assert "no API keys" not in capsys.readouterr().out
    monkeypatch.delenv("CONDUIT_HOST")
    monkeypatch.setenv("CONDUIT_API_KEYS", "k")
    assert main(["check", "risky_keyed:app"]) == 0
    assert "no API keys" not in capsys.readouterr().out


SETTINGS_APP = '''
from conduit import Conduit, hookimpl
from conduit.config import Setting


class Settings:
    __conduit_name__ = "app-settings"

    @hookimpl
    def conduit_config_schema(self):
        return {"shop_currency": Setting(str, "EUR", "the shop's currency")}


app = Conduit(extra_plugins=[Settings()])
'''


def test_check_knows_the_settings_an_apps_own_plugins_declare(capsys, monkeypatch, tmp_path) -> None:
    (tmp_path / "settings_app.py").write_text(SETTINGS_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONDUIT_SHOP_CURRENCY", "USD")
    monkeypatch.setenv("CONDUIT_SHOP_CURENCY", "typo")
    assert main(["check", "settings_app:app"]) == 0
    out = capsys.readouterr().out
    assert "unknown setting shop_curency (from $CONDUIT_SHOP_CURENCY)" in out
    assert "unknown setting shop_currency" not in out
