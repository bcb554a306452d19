"""The official client against tests/conformance_server.py over stdio and Streamable HTTP.

Content blocks, completions, subscriptions, server-to-client requests (sampling,
elicitation, roots) from inside a tool, and resuming an SSE stream the server closed.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from conduit import Conduit
from conduit.testing import LiveServer
from conduit_mcp.http import mount_mcp

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TESTS = Path(__file__).resolve().parent
Connect = Callable[..., Any]


@pytest.fixture(scope="module")
def http_url(conformance: ModuleType) -> Iterator[str]:
    app = Conduit()
    mount_mcp(app, "/mcp", conformance.server, retry_ms=50)
    with LiveServer(app) as live:
        yield live.url + "/mcp"


@pytest.fixture(params=["stdio", "http"])
def connect(request: pytest.FixtureRequest) -> Connect:
    """``connect(**session_kwargs)``: an initialized ClientSession over the transport."""

    @asynccontextmanager
    async def open_session(**kwargs: Any) -> AsyncIterator[ClientSession]:
        if request.param == "stdio":
            params = StdioServerParameters(command=sys.executable, args=[str(TESTS / "conformance_server.py")],
                                           cwd=str(TESTS))
            transport = stdio_client(params)
        else:
            transport = streamable_http_client(request.getfixturevalue("http_url"))
        async with transport as streams:
            async with ClientSession(streams[0], streams[1], **kwargs) as session:
                await session.initialize()
                yield session

    return open_session


async def test_tools_return_image_audio_and_embedded_resource_blocks(connect: Connect, conformance: ModuleType) -> None:
    async with connect() as session:
        image = (await session.call_tool("test_image_content", {})).content
        assert len(image) == 1 and isinstance(image[0], types.ImageContent)
        assert image[0].mime_type == "image/png" and base64.b64decode(image[0].data) == conformance.PNG
        audio = (await session.call_tool("test_audio_content", {})).content[0]
        assert isinstance(audio, types.AudioContent) and audio.mime_type == "audio/wav"
        assert base64.b64decode(audio.data) == conformance.WAV
        embedded = (await session.call_tool("test_embedded_resource", {})).content[0]
        assert isinstance(embedded, types.EmbeddedResource)
        assert str(embedded.resource.uri) == "test://embedded-resource"
        assert embedded.resource.text == "This is an embedded resource content."
        mixed = (await session.call_tool("test_multiple_content_types", {})).content
        assert [block.type for block in mixed] == ["text", "image", "resource"]


async def test_tools_list_has_no_output_schema_for_content_and_keeps_a_raw_input_schema(connect: Connect) -> None:
    async with connect() as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert tools["test_image_content"].output_schema is None
        schema = tools["json_schema_2020_12_tool"].input_schema
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["additionalProperties"] is False and "address" in schema["$defs"]
        called = await session.call_tool("json_schema_2020_12_tool", {"name": "x", "address": {"city": "Oslo"}})
        assert called.content[0].text == "JSON Schema 2020-12 tool called with: name='x', " \
            "address=Address(street=None, city='Oslo')"


async def test_prompts_carry_image_and_embedded_resource_messages(connect: Connect) -> None:
    async with connect() as session:
        with_image = await session.get_prompt("test_prompt_with_image")
        assert [m.content.type for m in with_image.messages] == ["image", "text"]
        embedded = await session.get_prompt("test_prompt_with_embedded_resource", {"resourceUri": "test://doc"})
        first = embedded.messages[0].content
        assert isinstance(first, types.EmbeddedResource) and str(first.resource.uri) == "test://doc"


async def test_completion_filters_by_the_typed_prefix(connect: Connect) -> None:
    async with connect() as session:
        prompt_ref = types.PromptReference(type="ref/prompt", name="test_prompt_with_arguments")
        done = await session.complete(prompt_ref, {"name": "arg1", "value": "par"})
        assert done.completion.values == ["paris", "park", "party"]
        assert done.completion.total == 3 and done.completion.has_more is False
        template_ref = types.ResourceTemplateReference(type="ref/resource", uri="test://template/{id}/data")
        ids = await session.complete(template_ref, {"name": "id", "value": "1"})
        assert len(ids.completion.values) == 100 and ids.completion.total == 111 and ids.completion.has_more is True
        nothing = await session.complete(prompt_ref, {"name": "arg2", "value": "x"})  # no completer: no values
        assert nothing.completion.values == []
        with pytest.raises(MCPError) as caught:
            await session.complete(types.PromptReference(type="ref/prompt", name="nope"), {"name": "a", "value": ""})
        assert caught.value.error.code == -32602


async def test_subscribers_hear_of_updates_until_they_unsubscribe(connect: Connect) -> None:
    updates: list[str] = []
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            heard.set()

    async with connect(message_handler=on_message) as session:
        # subscriptions are deprecated only from 2026-07-28 on: the client warns regardless
        with pytest.raises(MCPError) as caught, pytest.warns(MCPDeprecationWarning):
            await session.subscribe_resource("test://no-such-thing")
        assert caught.value.error.code == -32002
        with pytest.warns(MCPDeprecationWarning):
            await session.subscribe_resource("test://watched-resource")
        with anyio.fail_after(10):
            while not heard.is_set():  # over HTTP the GET stream may open just after initialize
                told = await session.call_tool("update_watched", {"text": "changed"})
                assert told.is_error is False
                with anyio.move_on_after(0.5):
                    await heard.wait()
        assert updates[0] == "test://watched-resource"
        assert (await session.read_resource("test://watched-resource")).contents[0].text == "changed"
        with pytest.warns(MCPDeprecationWarning):
            await session.unsubscribe_resource("test://watched-resource")
        told = await session.call_tool("update_watched", {"text": "again"})
        assert told.content[0].text == "told 0 subscriber(s)"


async def test_a_tool_samples_elicits_and_lists_roots_through_the_client(connect: Connect) -> None:
    asked: dict[str, Any] = {}

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked["sampling"] = params
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="Paris"),
                                         model="test-model", stop_reason="endTurn")

    async def elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked["elicitation"] = params
        return types.ElicitResult(action="accept", content={"response": "blue"})

    async def roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///work/project", name="project")])

    async with connect(sampling_callback=sampling, elicitation_callback=elicitation,
                       list_roots_callback=roots) as session:
        sampled = await session.call_tool("test_sampling", {"prompt": "Capital of France?"})
        assert sampled.content[0].text == "LLM response: Paris"
        assert asked["sampling"].max_tokens == 100
        assert asked["sampling"].messages[0].content.text == "Capital of France?"
        elicited = await session.call_tool("test_elicitation", {"message": "Favourite colour?"})
        assert elicited.content[0].text == "User response: action=accept, content={'response': 'blue'}"
        assert asked["elicitation"].message == "Favourite colour?"
        assert asked["elicitation"].requested_schema["required"] == ["response"]
        listed = await session.call_tool("test_roots", {})
        assert listed.structured_content == {"result": ["file:///work/project"]}


async def test_a_client_without_the_capability_gets_a_tool_error_naming_it(connect: Connect) -> None:
    async with connect() as session:
        result = await session.call_tool("test_sampling", {"prompt": "hi"})
        assert result.is_error is True
        assert "did not declare the 'sampling' capability" in result.content[0].text


async def test_a_client_error_answer_reaches_the_tool_as_an_error(connect: Connect) -> None:
    async def refuse(context: Any, params: types.CreateMessageRequestParams) -> types.ErrorData:
        return types.ErrorData(code=-1, message="User rejected sampling request")

    async with connect(sampling_callback=refuse) as session:
        result = await session.call_tool("test_sampling", {"prompt": "hi"})
        assert result.is_error is True and "User rejected sampling request" in result.content[0].text


async def test_the_client_resumes_a_stream_the_server_closed_and_gets_the_result(http_url: str) -> None:
    async with streamable_http_client(http_url) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            with anyio.fail_after(20):
                result = await session.call_tool("test_reconnection", {})
            assert result.is_error is False
            assert result.content[0].text.startswith("Reconnection test completed successfully")


async def test_server_requests_need_a_handshake_session(http_url: str) -> None:
    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        raise AssertionError("a 2026-07-28 request has no session to carry sampling")  # pragma: no cover

    async with Client(http_url, mode="auto", sampling_callback=sampling) as client:
        assert client.protocol_version == "2026-07-28"
        result = await client.call_tool("test_sampling", {"prompt": "hi"})
        assert result.is_error is True
        assert "cannot send sampling/createMessage to the client" in result.content[0].text
