"""The server runner: the HTTP protocol chosen from the ``http`` setting, the listen backlog, and
shutting down on signals."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conduit import Conduit
from conduit._install import install_command
from conduit.framework.errors import ConfigurationError
from conduit.server.protocol import H11Protocol
from conduit.server.runner import Server, bind_socket, http_protocol

REPO = Path(__file__).resolve().parents[2]


def test_auto_picks_httptools_when_installed_and_h11_forces_h11() -> None:
    pytest.importorskip("httptools")
    from conduit.server.httptools_protocol import HttpToolsProtocol

    assert http_protocol("auto") is HttpToolsProtocol
    assert http_protocol("httptools") is HttpToolsProtocol
    assert http_protocol("h11") is H11Protocol


def test_without_httptools_auto_falls_back_to_h11_and_httptools_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "httptools", None)  # import now fails
    assert http_protocol("auto") is H11Protocol
    with pytest.raises(ConfigurationError, match=re.escape(f"install it with `{install_command('speed')}`")):
        http_protocol("httptools")


def test_server_takes_the_protocol_from_the_app_settings_unless_given() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert Server(Conduit(plugins=[], http="h11"), sock).protocol is H11Protocol
        assert Server(Conduit(plugins=[]), sock, http="h11").protocol is H11Protocol
    finally:
        sock.close()


def _listen_backlog(port: int) -> int | None:
    """The listen backlog of the socket listening on ``port`` (``ss`` reports it as Send-Q)."""
    if shutil.which("ss") is None:
        return None
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    fields = out.split()
    return int(fields[2]) if len(fields) > 2 else None


def test_the_backlog_setting_is_the_listening_socket_backlog() -> None:
    # asyncio's create_server listens again with a backlog of 100 unless told otherwise,
    # which silently replaced the setting before 2026-12-06.
    app = Conduit(plugins=[], monitoring=False, backlog=321)
    sock = bind_socket("127.0.0.1", 0, app.settings.backlog)
    server = Server(app, sock, install_signal_handlers=False, http="h11")
    thread = threading.Thread(target=server.run, args=("asyncio",), daemon=True)
    thread.start()
    try:
        assert server.started.wait(10)
        backlog = _listen_backlog(server.port)
        if backlog is None:
            pytest.skip("`ss` (iproute2) is not installed: cannot read a socket's backlog")
        assert backlog == 321
    finally:
        server.request_stop()
        thread.join(10)
        sock.close()


_SIGNAL_APP = '''
from pathlib import Path

import anyio

from conduit import Conduit

app = Conduit(shutdown_timeout=3600)  # only a second signal can end the drain before the test gives up


@app.on_shutdown
def record_shutdown():
    Path("shutdown.txt").write_text("done")


@app.get("/slow")
async def slow(request):
    Path("started.txt").write_text("started")
    await anyio.sleep(3600)  # far longer than the test waits: only a cancellation ends it
    return {"slow": True}
'''


class _Output:
    """The lines a child process writes, read on a thread so the test can wait for one
    with a deadline instead of blocking on ``readline``."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def join(self, timeout: float) -> None:
        """Wait for the end of the output (the process exited and closed its end)."""
        self._thread.join(timeout)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found[:] = [m for m in map(re.compile(pattern).search, self.lines) if m][:1]
            return bool(found)

        with self._changed:
            if not self._changed.wait_for(seen, timeout):
                raise AssertionError(f"no line matching {pattern!r} within {timeout}s; got {self.lines!r}")
        return found[0]


def _wait_for_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} was not written within {timeout}s"
        time.sleep(0.01)


@pytest.mark.slow
def test_a_second_signal_cuts_in_flight_requests_yet_shutdown_hooks_run_and_the_exit_is_clean(
    tmp_path: Path,
) -> None:
    """SIGTERM starts a graceful drain; SIGINT during it cancels the request still running
    (as in uvicorn) instead of waiting out ``shutdown_timeout``, yet the shutdown hooks run
    and the process exits 0."""
    (tmp_path / "sigapp.py").write_text(_SIGNAL_APP)
    proc = subprocess.Popen(
        [sys.executable, "-m", "conduit.cli", "run", "sigapp:app", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path, env={**os.environ, "CONDUIT_PLUGINS": "", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = _Output(proc.stdout)
    outcome: list[object] = []
    try:
        port = int(output.wait_for(r"Server running at http://127\.0\.0\.1:(\d+)", 60).group(1))

        def request_slow() -> None:
            try:
                outcome.append(httpx.get(f"http://127.0.0.1:{port}/slow", timeout=None).status_code)
            except httpx.HTTPError as exc:
                outcome.append(type(exc).__name__)

        client = threading.Thread(target=request_slow, daemon=True)
        client.start()
        _wait_for_file(tmp_path / "started.txt", 60)  # the request is in its handler
        proc.send_signal(signal.SIGTERM)
        output.wait_for(r"received SIGTERM; shutting down gracefully", 60)  # the drain began
        proc.send_signal(signal.SIGINT)
        client.join(30)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output.join(10)
        proc.stdout.close()
    shutdown = (tmp_path / "shutdown.txt").read_text() if (tmp_path / "shutdown.txt").exists() else None
    assert (outcome, shutdown, proc.returncode) == (["RemoteProtocolError"], "done", 0), output.lines
