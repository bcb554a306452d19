"""The official MCP client (the `mcp` SDK) talks to a conduit-mcp server over stdio."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import anyio
import mcp_types as types
import pytest
from mcp.client import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TESTS = Path(__file__).resolve().parent
EXAMPLE = TESTS.parents[2] / "examples" / "mcp_server.py"


def _params(*args: str, script: Path = TESTS / "demo_server.py") -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(script), *args], cwd=str(TESTS))


@asynccontextmanager
async def _session(*args: str, **kwargs: Any) -> AsyncIterator[ClientSession]:
    async with stdio_client(_params(*args)) as (read, write):
        async with ClientSession(read, write, **kwargs) as session:
            yield session


async def test_initialize_negotiates_2025_11_25_and_reports_server_info() -> None:
    async with _session() as session:
        result = await session.initialize()
        assert result.protocol_version == "2025-11-25"
        assert result.server_info.name == "demo"
        assert result.server_info.version == "1.2.3"
        assert result.instructions == "Use calculate for arithmetic."
        assert result.capabilities.tools is not None and result.capabilities.tools.list_changed is True
        assert result.capabilities.prompts is not None
        assert result.capabilities.resources is not None
        await session.send_ping()


async def test_lists_tools_with_schemas_from_type_hints_and_docstrings() -> None:
    async with _session() as session:
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == {"calculate", "weather", "explode", "count_to", "sleep"}
        calc = tools["calculate"]
        assert calc.description == "Perform a calculation."
        assert calc.input_schema["required"] == ["a", "b"]
        assert calc.input_schema["properties"]["operation"] == {
            "enum": ["add", "multiply"],
            "type": "string",
            "default": "add",
            "description": "What to do with them.",
        }
        assert calc.output_schema == {
            "type": "object",
            "properties": {"result": {"type": "number"}},
            "required": ["result"],
        }
        assert tools["weather"].annotations is not None and tools["weather"].annotations.read_only_hint is True
        assert "ctx" not in tools["count_to"].input_schema["properties"]


async def test_calls_tools_and_gets_text_and_structured_content() -> None:
    async with _session() as session:
        await session.initialize()
        await session.list_tools()  # the client validates structured results against these schemas
        result = await session.call_tool("calculate", {"a": 2, "b": 3.5, "operation": "multiply"})
        assert result.is_error is False
        assert result.structured_content == {"result": 7.0}
        assert result.content[0].type == "text" and result.content[0].text == "7.0"
        weather = await session.call_tool("weather", {"city": "Oslo", "unit": "fahrenheit"})
        assert weather.structured_content == {"city": "Oslo", "degrees": 70.7, "unit": "fahrenheit"}


async def test_a_raising_tool_gives_is_error_with_its_message() -> None:
    async with _session() as session:
        await session.initialize()
        result = await session.call_tool("explode", {"reason": "on purpose"})
        assert result.is_error is True
        assert "exploded: on purpose" in result.content[0].text
        bad = await session.call_tool("calculate", {"a": "two", "b": 1})
        assert bad.is_error is True
        assert "argument 'a' must be a number" in bad.content[0].text


async def test_unknown_tool_is_invalid_params_error() -> None:
    async with _session() as session:
        await session.initialize()
        with pytest.raises(MCPError) as caught:
            await session.call_tool("nope", {})
        assert caught.value.error.code == -32602


async def test_reads_resources_templates_and_binary_blobs() -> None:
    async with _session() as session:
        await session.initialize()
        listed = {str(r.uri): r for r in (await session.list_resources()).resources}
        assert set(listed) == {"doc://readme", "data://logo.png"}
        assert listed["doc://readme"].name == "README" and listed["doc://readme"].mime_type == "text/markdown"
        templates = (await session.list_resource_templates()).resource_templates
        assert [(t.uri_template, t.name) for t in templates] == [("doc://{doc_id}", "document")]
        readme = await session.read_resource("doc://readme")
        assert readme.contents[0].text.startswith("# Demo")
        doc = await session.read_resource("doc://42")
        assert doc.contents[0].text == "document number 42"
        assert str(doc.contents[0].uri) == "doc://42"
        logo = await session.read_resource("data://logo.png")
        assert logo.contents[0].blob == "iVBORw0KGgo="
        with pytest.raises(MCPError) as caught:
            await session.read_resource("missing://x")
        assert caught.value.error.code == -32002


async def test_gets_prompts_with_arguments() -> None:
    async with _session() as session:
        await session.initialize()
        prompts = {p.name: p for p in (await session.list_prompts()).prompts}
        assert [(a.name, a.required) for a in prompts["explain"].arguments or []] == [
            ("topic", True),
            ("depth", False),
        ]
        assert prompts["explain"].title == "Explain"
        review = await session.get_prompt("code_review", {"language": "Rust"})
        assert review.messages[0].role == "user"
        assert review.messages[0].content.text == "Review this Rust code for quality and security."
        explained = await session.get_prompt("explain", {"topic": "MCP", "depth": "2"})
        assert [(m.role, m.content.text) for m in explained.messages] == [
            ("user", "Explain MCP at depth 2."),
            ("assistant", "Sure."),
        ]
        with pytest.raises(MCPError) as caught:
            await session.get_prompt("explain", {})
        assert caught.value.error.code == -32602


async def test_progress_and_log_notifications_reach_the_client() -> None:
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with _session(logging_callback=on_log) as session:
        await session.initialize()
        with pytest.warns(MCPDeprecationWarning):  # deprecated only from 2026-07-28 on
            await session.set_logging_level("info")
        result = await session.call_tool("count_to", {"n": 3}, progress_callback=on_progress)
        assert result.content[0].text == "counted to 3"
        assert progress == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
        assert [(log.level, log.logger, log.data) for log in logs] == [
            ("info", "counter", {"step": 1}),
            ("info", "counter", {"step": 2}),
            ("info", "counter", {"step": 3}),
        ]


async def test_cancelled_request_stops_and_the_session_goes_on() -> None:
    async with _session() as session:
        await session.initialize()
        with anyio.move_on_after(0.5) as scope:  # the client sends notifications/cancelled
            await session.call_tool("sleep", {"seconds": 30})
        assert scope.cancelled_caught
        assert (await session.call_tool("calculate", {"a": 1, "b": 1})).structured_content == {"result": 2.0}


async def test_pagination_cursors_walk_every_tool() -> None:
    async with _session("2") as session:
        await session.initialize()
        names: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
            names += [tool.name for tool in page.tools]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 3
        assert names == ["calculate", "weather", "explode", "count_to", "sleep"]


async def test_client_in_legacy_mode_uses_the_handshake() -> None:
    async with Client(_params(), mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        result = await client.call_tool("calculate", {"a": 1, "b": 2})
        assert result.structured_content == {"result": 3.0}


async def test_client_in_auto_mode_discovers_and_speaks_2026_07_28() -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with Client(_params(), mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        assert client.server_info is not None and client.server_info.name == "demo"
        assert {tool.name for tool in (await client.list_tools()).tools} >= {"calculate", "weather"}
        result = await client.call_tool("weather", {"city": "Rome"})
        assert result.structured_content == {"city": "Rome", "degrees": 21.5, "unit": "celsius"}
        failed = await client.call_tool("explode", {"reason": "modern"})
        assert failed.is_error is True
        counted = await client.call_tool("count_to", {"n": 2}, progress_callback=on_progress)
        assert counted.content[0].text == "counted to 2"
        assert progress == [1, 2]
        assert (await client.read_resource("doc://5")).contents[0].text == "document number 5"
        prompt = await client.get_prompt("explain", {"topic": "MCP"})
        assert prompt.messages[0].content.text == "Explain MCP at depth 1."


async def test_client_pinned_to_2026_07_28_skips_discovery() -> None:
    async with Client(_params(), mode="2026-07-28") as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert templates[0].uri_template == "doc://{doc_id}"
