"""The server runner: the HTTP protocol chosen from the ``http`` setting, and the listen backlog."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading

import pytest

from conduit import Conduit
from conduit._install import install_command
from conduit.framework.errors import ConfigurationError
from conduit.server.protocol import H11Protocol
from conduit.server.runner import Server, bind_socket, http_protocol


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
