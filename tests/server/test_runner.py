"""Choosing the HTTP protocol state from the ``http`` setting."""

from __future__ import annotations

import sys

import pytest

from conduit import Conduit
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
    with pytest.raises(ConfigurationError, match=r"conduit\[speed\]"):
        http_protocol("httptools")


def test_server_takes_the_protocol_from_the_app_settings_unless_given() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert Server(Conduit(plugins=[], http="h11"), sock).protocol is H11Protocol
        assert Server(Conduit(plugins=[]), sock, http="h11").protocol is H11Protocol
    finally:
        sock.close()
