"""`from conduit.mcp import MCPServer` and `conduit mcp stdio module:server`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

import conduit_mcp
from conduit.framework.errors import MissingPluginError

REPO = Path(__file__).resolve().parents[3]


def test_facade_resolves_the_plugin_classes() -> None:
    from conduit.mcp import Context, MCPServer

    assert MCPServer is conduit_mcp.MCPServer
    assert Context is conduit_mcp.Context
    import conduit.mcp

    for name in conduit.mcp.__all__:
        assert getattr(conduit.mcp, name) is getattr(conduit_mcp, name), name


def test_facade_names_the_package_when_the_plugin_is_disabled() -> None:
    code = "from conduit.mcp import MCPServer"
    env = {"CONDUIT_DISABLED_PLUGINS": "mcp", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "MissingPluginError" in result.stderr
    # The command that installs the plugin where this Conduit came from (a clone: its folder).
    assert re.search(r'install it with `pip install (-e )?"[^"`]*\[mcp\]"`', result.stderr), result.stderr
    assert issubclass(MissingPluginError, ImportError)



def test_facade_hands_out_exactly_what_the_plugin_lists() -> None:
    import conduit.mcp

    assert conduit.mcp.__all__ == conduit_mcp.__all__
    assert dir(conduit.mcp) == sorted(conduit_mcp.__all__)
    namespace: dict[str, Any] = {}
    exec("from conduit.mcp import *", namespace)
    assert {name: namespace[name] for name in conduit_mcp.__all__} == {
        name: getattr(conduit_mcp, name) for name in conduit_mcp.__all__
    }
    with pytest.raises(AttributeError, match=r"module 'conduit\.mcp' has no attribute 'Nothing'"):
        conduit.mcp.Nothing  # noqa: B018


def test_facade_private_names_never_look_for_the_plugin(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("CONDUIT_DISABLED_PLUGINS", "mcp")
    import conduit.mcp
    from conduit.plugins import reset_default_plugin_manager

    reset_default_plugin_manager()  # outside an app, the facade uses the process-wide manager: built from the env now
    request.addfinalizer(reset_default_plugin_manager)

    # A lookup of the plugin would raise MissingPluginError, which hasattr() does not swallow.
    assert not hasattr(conduit.mcp, "__path__") and not hasattr(conduit.mcp, "_api_cache")
    assert dir(conduit.mcp) == []
    with pytest.raises(MissingPluginError):
        conduit.mcp.MCPServer  # noqa: B018
    with pytest.raises(MissingPluginError):
        conduit.mcp.__all__  # noqa: B018

def test_cli_rejects_a_target_that_is_not_a_server() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "conduit.cli", "mcp", "stdio", "examples.mcp_server:DOCS"],
        cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "examples.mcp_server:DOCS is a dict, not an MCPServer" in result.stderr


@pytest.mark.anyio
@pytest.mark.slow
async def test_cli_serves_the_example_over_stdio_to_the_official_client() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "conduit.cli", "mcp", "stdio", "examples.mcp_server:server"],
        cwd=str(REPO),
    )
    async with Client(params, mode="legacy") as client:
        assert client.server_info is not None and client.server_info.name == "my-tools"
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert tools == {"calculate", "search_docs"}
        result = await client.call_tool("calculate", {"a": 6, "b": 3, "operation": "divide"})
        assert result.structured_content == {"result": 2.0}
        failed = await client.call_tool("calculate", {"a": 1, "b": 0, "operation": "divide"})
        assert failed.is_error is True and "cannot divide by zero" in failed.content[0].text
        hits = await client.call_tool("search_docs", {"query": "model context"})
        assert hits.structured_content == {"result": ["mcp"]}
        doc = await client.read_resource("doc://intro")
        assert doc.contents[0].text == "Conduit serves ML models over HTTP."
        prompt = await client.get_prompt("code_review")
        assert prompt.messages[0].content.text == "Review this Python code for quality and security."
