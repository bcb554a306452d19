"""The official MCP client over Streamable HTTP against conduit.testing.LiveServer."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from conduit import Conduit
from conduit.testing import LiveServer
from conduit_mcp import MCPServer
from conduit_mcp.http import mount_mcp

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(params=[False, True], ids=["sse", "json"])
def url(request: pytest.FixtureRequest, demo: ModuleType) -> Iterator[str]:
    app = Conduit()
    mount_mcp(app, "/mcp", demo.server, json_response=request.param)
    with LiveServer(app) as live:
        yield live.url + "/mcp"


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_official_client_lists_calls_reads_and_prompts(url: str, mode: str, version: str) -> None:
    async with Client(url, mode=mode) as client:
        assert client.protocol_version == version
        assert client.server_info is not None and client.server_info.name == "demo"
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"calculate", "weather", "explode"} <= tools
        result = await client.call_tool("calculate", {"a": 2, "b": 5, "operation": "multiply"})
        assert result.structured_content == {"result": 10.0}
        failed = await client.call_tool("explode", {"reason": "http"})
        assert failed.is_error is True and "exploded: http" in failed.content[0].text
        templates = (await client.list_resource_templates()).resource_templates
        assert templates[0].uri_template == "doc://{doc_id}"
        assert (await client.read_resource("doc://7")).contents[0].text == "document number 7"
        prompt = await client.get_prompt("code_review", {"language": "Go"})
        assert prompt.messages[0].content.text == "Review this Go code for quality and security."
        with pytest.raises(MCPError) as caught:
            await client.read_resource("doc://")
        assert caught.value.error.code == -32002


async def test_progress_arrives_on_the_requests_sse_stream(demo: ModuleType) -> None:
    app = Conduit()
    mount_mcp(app, "/mcp", demo.server)
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    with LiveServer(app) as live:
        async with streamable_http_client(live.url + "/mcp") as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool("count_to", {"n": 3}, progress_callback=on_progress)
                assert result.content[0].text == "counted to 3"
    assert seen == [1, 2, 3]


async def test_list_changed_reaches_the_client_on_the_get_stream() -> None:
    app = Conduit()
    server = MCPServer("changing", "1.0.0")
    server.add_tool(lambda: "one", name="first")
    mount_mcp(app, "/mcp", server)
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    with LiveServer(app) as live:
        async with Client(live.url + "/mcp", mode="legacy", message_handler=on_message) as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["first"]
            with anyio.fail_after(10):
                while not changed.is_set():  # the GET stream may open just after initialize
                    server.add_tool(lambda: "two", name=f"tool{len(server.tools)}")
                    with anyio.move_on_after(0.5):
                        await changed.wait()
            assert len((await client.list_tools()).tools) >= 2
