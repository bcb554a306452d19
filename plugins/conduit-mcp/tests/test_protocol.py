"""The JSON-RPC dispatcher: every error code, version negotiation, batches, notifications."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import orjson
import pytest

from conduit.framework.errors import MissingPluginError
from conduit_mcp import Context, MCPServer, ServerSession

pytestmark = pytest.mark.anyio


def make_server(**kwargs: Any) -> MCPServer:
    server = MCPServer("unit", "0.0.1", "unit-test server", **kwargs)

    @server.tool()
    def add(a: int, b: int = 1) -> int:
        """Add."""
        return a + b

    @server.tool()
    async def slow(ctx: Context) -> str:
        await anyio.sleep(30)
        return "done"

    @server.tool()
    async def chatty(ctx: Context) -> str:
        await ctx.report_progress(1, 2)
        for level in ("debug", "info", "warning", "error"):
            await ctx.log(level, level)
        return "ok"

    @server.resource("res://broken")
    def broken() -> str:
        raise RuntimeError("secret path /etc/shadow")

    @server.prompt()
    def greet(name: str) -> str:
        return f"Hello {name}"

    return server


class Outbox:
    """Collects what the server sends on its own."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def methods(self) -> list[str]:
        return [m["method"] for m in self.messages]


def request(method: str, params: dict[str, Any] | None = None, id: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return message


async def initialized(server: MCPServer, version: str = "2025-11-25", send: Any = None) -> ServerSession:
    session = server.create_session(send)
    reply = await session.handle(request("initialize", {"protocolVersion": version, "capabilities": {},
                                                          "clientInfo": {"name": "t", "version": "1"}}, id=0))
    assert reply["result"]["protocolVersion"] == version
    await session.handle({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return session


async def error_code(session: ServerSession, message: Any) -> int:
    reply = await session.handle(message)
    assert "result" not in reply, reply
    return reply["error"]["code"]


async def test_invalid_json_is_parse_error_with_null_id() -> None:
    session = make_server().create_session()
    reply = orjson.loads(await session.handle_bytes(b'{"jsonrpc": "2.0", "id": 1, "method": '))
    assert reply == {"jsonrpc": "2.0", "id": None,
                     "error": {"code": -32700, "message": "Parse error: the message is not valid JSON"}}


@pytest.mark.parametrize(
    "message",
    [
        "just a string",
        {"id": 1, "method": "ping"},
        {"jsonrpc": "1.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": 7},
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": "x"},
        [],
    ],
)
async def test_malformed_requests_are_invalid_request(message: Any) -> None:
    session = await initialized(make_server())
    assert await error_code(session, message) == -32600


async def test_requests_before_initialize_are_refused_but_ping_is_answered() -> None:
    session = make_server().create_session()
    assert await session.handle(request("ping")) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert await error_code(session, request("tools/list")) == -32600


async def test_unknown_method_is_method_not_found() -> None:
    session = await initialized(make_server())
    reply = await session.handle(request("tools/destroy", id="abc"))
    assert reply == {"jsonrpc": "2.0", "id": "abc",
                     "error": {"code": -32601, "message": "Method not found: tools/destroy"}}


@pytest.mark.parametrize(
    "message",
    [
        request("tools/call", {"arguments": {}}),
        request("tools/call", {"name": "missing"}),
        request("tools/call", {"name": "add", "arguments": [1, 2]}),
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]},
        request("tools/list", {"cursor": "not-a-cursor"}),
        request("logging/setLevel", {"level": "loud"}),
        request("prompts/get", {"name": "greet"}),
        request("prompts/get", {"name": "nope"}),
        request("resources/read", {}),
        request("initialize", {"capabilities": {}}),
    ],
)
async def test_bad_params_are_invalid_params(message: dict[str, Any]) -> None:
    session = await initialized(make_server())
    assert await error_code(session, message) == -32602


async def test_a_failing_resource_is_internal_error_without_internals() -> None:
    session = await initialized(make_server())
    reply = await session.handle(request("resources/read", {"uri": "res://broken"}))
    assert reply["error"] == {"code": -32603, "message": "Internal error while reading resource res://broken"}


async def test_a_tool_missing_a_plugin_says_what_is_missing_and_logs_the_install_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = make_server()

    @server.tool()
    def embed(text: str) -> str:
        """Embed."""
        raise MissingPluginError("Text embedding", "onnx")

    session = await initialized(server)
    with caplog.at_level(logging.WARNING, logger="conduit.mcp"):
        reply = await session.handle(request("tools/call", {"name": "embed", "arguments": {"text": "x"}}))
    assert reply["result"] == {"isError": True, "content": [{"type": "text", "text": (
        "tool 'embed' failed: Text embedding needs the conduit-onnx plugin, which this server lacks")}]}
    # The command, which may name the server's folder, is in the log only.
    assert "pip install" in caplog.text and "[onnx]" in caplog.text


async def test_second_initialize_is_refused() -> None:
    session = await initialized(make_server())
    message = request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}}, id=9)
    assert await error_code(session, message) == -32600


@pytest.mark.parametrize(
    ("requested", "answered"),
    [("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"), ("2025-03-26", "2025-03-26"),
     ("2024-01-01", "2025-11-25"), ("2099-01-01", "2025-11-25")],
)
async def test_version_negotiation(requested: str, answered: str) -> None:
    session = make_server().create_session()
    reply = await session.handle(request("initialize", {"protocolVersion": requested, "capabilities": {}}))
    assert reply["result"]["protocolVersion"] == answered
    assert reply["result"]["serverInfo"]["name"] == "unit"


async def test_2025_03_26_gets_no_structured_output_and_may_batch() -> None:
    session = await initialized(make_server(), "2025-03-26")
    replies = await session.handle([request("tools/list", id=1), request("tools/call", {"name": "add",
                                    "arguments": {"a": 2}}, id=2), {"jsonrpc": "2.0", "method": "x/y"}])
    by_id = {reply["id"]: reply for reply in replies}
    assert set(by_id) == {1, 2}
    assert "outputSchema" not in by_id[1]["result"]["tools"][0]
    assert by_id[2]["result"] == {"content": [{"type": "text", "text": "3"}]}


async def test_2025_11_25_gets_structured_output_and_refuses_batches() -> None:
    session = await initialized(make_server())
    reply = await session.handle(request("tools/call", {"name": "add", "arguments": {"a": 2, "b": 5}}))
    assert reply["result"] == {"content": [{"type": "text", "text": "7"}], "structuredContent": {"result": 7}}
    assert (await session.handle([request("ping")]))["error"]["code"] == -32600


async def test_notifications_and_client_responses_get_no_reply() -> None:
    session = await initialized(make_server())
    assert await session.handle({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}) is None
    assert await session.handle({"jsonrpc": "2.0", "id": 5, "result": {}}) is None


async def test_pagination_walks_pages_of_the_given_size() -> None:
    server = make_server(page_size=2)
    session = await initialized(server)
    first = (await session.handle(request("tools/list")))["result"]
    assert [t["name"] for t in first["tools"]] == ["add", "slow"]
    second = (await session.handle(request("tools/list", {"cursor": first["nextCursor"]})))["result"]
    assert [t["name"] for t in second["tools"]] == ["chatty"]
    assert "nextCursor" not in second


async def test_cancelled_request_gets_no_response_and_an_id_in_flight_cannot_be_reused() -> None:
    session = await initialized(make_server())
    replies: list[Any] = []

    async def call() -> None:
        replies.append(await session.handle(request("tools/call", {"name": "slow"}, id=42)))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await anyio.sleep(0.05)
            assert await error_code(session, request("ping", id=42)) == -32600
            await session.handle({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                  "params": {"requestId": 42, "reason": "user"}})
    assert replies == [None]


async def test_progress_needs_a_token_and_logs_respect_the_level() -> None:
    outbox = Outbox()
    session = await initialized(make_server(), send=outbox)
    await session.handle(request("tools/call", {"name": "chatty"}))
    assert outbox.methods == ["notifications/message"] * 4  # no token: no progress; default level: all
    outbox.messages.clear()
    assert (await session.handle(request("logging/setLevel", {"level": "warning"}, id=2)))["result"] == {}
    await session.handle(request("tools/call", {"name": "chatty", "_meta": {"progressToken": "t1"}}, id=3))
    assert outbox.messages[0]["params"] == {"progressToken": "t1", "progress": 1, "total": 2}
    assert [m["params"]["level"] for m in outbox.messages[1:]] == ["warning", "error"]


async def test_registry_changes_notify_initialized_sessions() -> None:
    server = make_server()
    outbox = Outbox()
    session = await initialized(server, send=outbox)
    async with anyio.create_task_group() as tg:
        tg.start_soon(session.run_outbox)
        await anyio.sleep(0.01)
        server.add_tool(lambda: "x", name="late")
        server.remove_prompt("greet")

        def in_a_worker_thread() -> None:
            server.add_resource(lambda: "r", "res://late")

        await anyio.to_thread.run_sync(in_a_worker_thread)
        with anyio.fail_after(2):
            while len(outbox.messages) < 3:
                await anyio.sleep(0.01)
        session.close()
    assert outbox.methods == ["notifications/tools/list_changed", "notifications/prompts/list_changed",
                              "notifications/resources/list_changed"]


def test_registration_errors_say_what_to_change() -> None:
    server = make_server()
    with pytest.raises(ValueError, match="already registered"):
        server.add_tool(lambda a: a, name="add")
    with pytest.raises(ValueError, match="not allowed"):
        server.add_tool(lambda: 1, name="has space")
    with pytest.raises(ValueError, match="must be the template's variables"):
        server.add_resource(lambda other: other, "doc://{id}")
    with pytest.raises(ValueError, match="use a URI template"):
        server.add_resource(lambda id: id, "doc://fixed")
    with pytest.raises(ValueError, match="needs a scheme"):
        server.add_resource(lambda: "x", "readme")


def test_decorators_pass_every_option_on_to_the_add_methods() -> None:
    server = MCPServer("options")
    schema = {"type": "object", "properties": {}}
    server.tool("t", title="T", description="D", annotations={"readOnlyHint": True}, structured_output=False,
                meta={"k": 1}, input_schema=schema)(lambda: 1)
    server.resource("doc://r", "R", "text/markdown", title="RT", description="RD", annotations={"a": 1},
                    meta={"m": 2})(lambda: "r")
    server.resource(uri="doc://{id}", name="by-id", mime_type="text/plain")(lambda id: id)
    server.prompt("p", title="PT", description="PD", meta={"p": 3})(lambda: "p")

    tool = server.tools["t"]
    assert (tool.title, tool.signature.description, tool.annotations, tool.meta, tool.input_schema) == (
        "T", "D", {"readOnlyHint": True}, {"k": 1}, schema)
    assert tool.signature.output_schema is None
    resource = server.resources["doc://r"]
    assert (resource.name, resource.mime_type, resource.title, resource.description, resource.annotations,
            resource.meta) == ("R", "text/markdown", "RT", "RD", {"a": 1}, {"m": 2})
    assert server.resource_templates["doc://{id}"].name == "by-id"
    prompt = server.prompts["p"]
    assert (prompt.title, prompt.signature.description, prompt.meta) == ("PT", "PD", {"p": 3})


def test_a_misspelled_decorator_keyword_is_a_type_error_where_it_is_written() -> None:
    server = MCPServer("typos")
    with pytest.raises(TypeError, match="titel"):
        server.tool(titel="x")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="titel"):
        server.tool(lambda: 1, titel="x")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="structured_output"):
        server.resource("doc://r", structured_output=False)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="annotations"):
        server.prompt(annotations={})  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="argument"):
        server.completion(prompt="p")  # type: ignore[call-arg]
    assert (server.tools, server.resources, server.prompts, server.completers) == ({}, {}, {}, {})


@pytest.mark.parametrize("decorator, add", [("tool", "add_tool"), ("resource", "add_resource"),
                                            ("prompt", "add_prompt")])
def test_each_decorator_is_typed_with_the_keywords_of_its_add_method(decorator: str, add: str) -> None:
    import inspect
    import typing

    forms = typing.get_overloads(getattr(MCPServer, decorator)) or [getattr(MCPServer, decorator)]
    hints = typing.get_type_hints(forms[-1], include_extras=True)
    (options,) = typing.get_args(hints["options"])
    named = [p for p in inspect.signature(forms[-1]).parameters if p not in {"self", "uri", "options"}]
    offered = set(named) | set(typing.get_type_hints(options))
    taken = {p.name for p in inspect.signature(getattr(MCPServer, add)).parameters.values()
             if p.kind is p.KEYWORD_ONLY}
    assert offered == taken


MODERN_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
               "io.modelcontextprotocol/clientCapabilities": {}}


async def test_2026_07_28_discover_lists_both_eras_without_a_handshake() -> None:
    session = make_server().create_session()
    reply = await session.handle(request("server/discover", {"_meta": MODERN_META}))
    result = reply["result"]
    assert result["supportedVersions"] == ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
    assert result["capabilities"]["tools"] == {"listChanged": True}
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "unit"
    assert (result["resultType"], result["ttlMs"], result["cacheScope"]) == ("complete", 0, "private")


async def test_2026_07_28_requests_are_served_per_request_with_result_fields() -> None:
    session = make_server().create_session()
    listed = await session.handle(request("tools/list", {"_meta": MODERN_META}))
    assert listed["result"]["resultType"] == "complete" and listed["result"]["ttlMs"] == 0
    called = await session.handle(request("tools/call", {"name": "add", "arguments": {"a": 1}, "_meta": MODERN_META}))
    assert called["result"] == {"content": [{"type": "text", "text": "2"}], "structuredContent": {"result": 2},
                                "resultType": "complete"}
    assert session.initialized is False


async def test_2026_07_28_envelope_errors() -> None:
    session = make_server().create_session()
    unsupported = {**MODERN_META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}
    reply = await session.handle(request("tools/list", {"_meta": unsupported}))
    assert reply["error"] == {"code": -32022, "message": "Unsupported protocol version",
                              "data": {"supported": ["2026-07-28"], "requested": "2099-01-01"}}
    no_capabilities = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
    assert await error_code(session, request("tools/list", {"_meta": no_capabilities})) == -32602


async def test_2026_07_28_logs_only_reach_requests_that_opt_in() -> None:
    outbox = Outbox()
    session = make_server().create_session(outbox)
    await session.handle(request("tools/call", {"name": "chatty", "_meta": MODERN_META}))
    assert outbox.messages == []
    opted = {**MODERN_META, "io.modelcontextprotocol/logLevel": "error"}
    await session.handle(request("tools/call", {"name": "chatty", "_meta": opted}, id=2))
    assert [m["params"]["data"] for m in outbox.messages] == ["error"]
