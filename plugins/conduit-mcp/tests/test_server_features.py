"""Server-to-client requests, completions, subscriptions, content blocks and the tools/call
span, at the protocol layer (no transport) where the official client cannot reach."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from conduit import hookimpl
from conduit.plugins import activated, create_plugin_manager
from conduit_mcp import Audio, Completion, Context, EmbeddedResource, Image, MCPError, MCPServer, Message, ServerSession

pytestmark = pytest.mark.anyio


def request(method: str, params: dict[str, Any] | None = None, id: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}}


async def initialized(server: MCPServer, send: Any, capabilities: dict[str, Any] | None = None) -> ServerSession:
    session = server.create_session(send)
    await session.handle(request("initialize", {"protocolVersion": "2025-11-25", "capabilities": capabilities or {},
                                                "clientInfo": {"name": "t", "version": "1"}}, id=0))
    await session.handle({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return session


def asking_server() -> MCPServer:
    server = MCPServer("asking", "1.0.0")

    @server.tool()
    async def ask(ctx: Context, timeout: float | None = None) -> str:
        answer = await ctx.sample("Say yes", max_tokens=5, system_prompt="Be brief", timeout=timeout)
        return f"{answer.text} from {answer.model}"

    return server


async def test_a_tool_waits_for_the_clients_answer_to_its_request() -> None:
    sent: list[dict[str, Any]] = []
    got_request = anyio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        got_request.set()

    session = await initialized(asking_server(), send, {"sampling": {}})
    replies: list[Any] = []

    async def call() -> None:
        replies.append(await session.handle(request("tools/call", {"name": "ask", "arguments": {}}, id=7)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        with anyio.fail_after(5):
            await got_request.wait()
        outgoing = sent[0]
        assert outgoing["method"] == "sampling/createMessage"
        assert outgoing["params"] == {"messages": [{"role": "user", "content": {"type": "text", "text": "Say yes"}}],
                                      "maxTokens": 5, "systemPrompt": "Be brief"}
        assert await session.handle({"jsonrpc": "2.0", "id": 999, "result": {}}) is None  # unknown id: ignored
        await session.handle({"jsonrpc": "2.0", "id": outgoing["id"], "result": {
            "role": "assistant", "content": {"type": "text", "text": "yes"}, "model": "m1"}})
    assert replies[0]["result"]["content"] == [{"type": "text", "text": "yes from m1"}]


async def test_an_unanswered_request_times_out_and_the_client_is_told_it_is_cancelled() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    session = await initialized(asking_server(), send, {"sampling": {}})
    reply = await session.handle(request("tools/call", {"name": "ask", "arguments": {"timeout": 0.05}}))
    assert reply["result"]["isError"] is True
    assert "did not answer sampling/createMessage within 0.05 s" in reply["result"]["content"][0]["text"]
    assert sent[-1] == {"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": sent[0]["id"], "reason": "timed out"}}


async def test_closing_the_session_fails_a_pending_request() -> None:
    sent = anyio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.set()

    session = await initialized(asking_server(), send, {"sampling": {}})
    codes: list[int] = []

    async def wait_for_it() -> None:
        try:
            await session.request("roots/list", send=send)
        except MCPError as exc:
            codes.append(exc.code)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_for_it)
            await sent.wait()
            session.close()
    assert codes == [-32000]


def completing_server() -> MCPServer:
    server = MCPServer("completing", "1.0.0")

    @server.prompt()
    def review(language: str, style: str = "terse") -> str:
        return f"Review {language} ({style})"

    @server.resource("doc://{owner}/{doc_id}")
    def doc(owner: str, doc_id: str) -> str:
        return f"{owner}/{doc_id}"

    @server.completion(prompt="review", argument="language")
    def languages(value: str, ctx: Context) -> list[str]:
        assert isinstance(ctx, Context)
        return [name for name in ("go", "python", "perl") if name.startswith(value)]

    @server.completion(resource="doc://{owner}/{doc_id}", argument="doc_id")
    async def doc_ids(value: str, arguments: dict[str, str]) -> Completion:
        return Completion([f"{arguments.get('owner', '?')}-{value}1"], total=40, has_more=True)

    return server


async def complete(session: ServerSession, params: dict[str, Any]) -> dict[str, Any]:
    return await session.handle(request("completion/complete", params))


async def test_completion_answers_and_refuses_what_is_not_there() -> None:
    session = await initialized(completing_server(), None)
    prompt = {"type": "ref/prompt", "name": "review"}
    answer = await complete(session, {"ref": prompt, "argument": {"name": "language", "value": "p"}})
    assert answer["result"] == {"completion": {"values": ["python", "perl"], "total": 2, "hasMore": False}}
    resource = {"type": "ref/resource", "uri": "doc://{owner}/{doc_id}"}
    answer = await complete(session, {"ref": resource, "argument": {"name": "doc_id", "value": "x"},
                                      "context": {"arguments": {"owner": "ann"}}})
    assert answer["result"]["completion"] == {"values": ["ann-x1"], "total": 40, "hasMore": True}
    assert (await complete(session, {"ref": prompt, "argument": {"name": "style", "value": ""}}))["result"] == {
        "completion": {"values": [], "total": 0, "hasMore": False}}
    for bad in (
        {"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "x", "value": ""}},
        {"ref": prompt, "argument": {"name": "nope", "value": ""}},
        {"ref": {"type": "ref/resource", "uri": "doc://nope/{x}"}, "argument": {"name": "x", "value": ""}},
        {"ref": {"type": "ref/other"}, "argument": {"name": "x", "value": ""}},
        {"ref": prompt},
    ):
        assert (await complete(session, bad))["error"]["code"] == -32602, bad
    assert session.server.capabilities()["completions"] == {}


def test_completion_registration_refuses_mistakes() -> None:
    server = MCPServer("c", "1")
    with pytest.raises(ValueError, match="one prompt= or one resource="):
        server.add_completion(lambda value: [], argument="a")
    with pytest.raises(ValueError, match="not a URI template"):
        server.add_completion(lambda value: [], argument="a", resource="doc://fixed")
    with pytest.raises(ValueError, match="must take 'value'"):
        server.add_completion(lambda text: [], argument="a", prompt="p")
    server.add_completion(lambda value: [], argument="a", prompt="p")
    with pytest.raises(ValueError, match="already has a completion"):
        server.add_completion(lambda value: [], argument="a", prompt="p")


async def test_resource_updates_reach_only_subscribed_sessions() -> None:
    server = MCPServer("subs", "1")
    server.add_resource(lambda: "x", "doc://a")
    server.add_resource(lambda item: item, "doc://items/{item}")
    got: dict[str, list[dict[str, Any]]] = {"one": [], "two": []}

    async def sender(name: str) -> Any:
        async def send(message: dict[str, Any]) -> None:
            got[name].append(message)
        return send

    one = await initialized(server, await sender("one"))
    two = await initialized(server, await sender("two"))
    assert (await one.handle(request("resources/subscribe", {"uri": "doc://a"})))["result"] == {}
    assert (await one.handle(request("resources/subscribe", {"uri": "doc://items/7"})))["result"] == {}
    assert (await two.handle(request("resources/subscribe", {"uri": "doc://zzz"})))["error"]["code"] == -32002
    async with anyio.create_task_group() as tg:
        tg.start_soon(one.run_outbox)
        tg.start_soon(two.run_outbox)
        await anyio.sleep(0)
        assert server.notify_resource_updated("doc://a") == 1
        assert server.notify_resource_updated("doc://items/7") == 1
        await one.handle(request("resources/unsubscribe", {"uri": "doc://a"}, id=3))
        assert server.notify_resource_updated("doc://a") == 0
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert [m["params"]["uri"] for m in got["one"]] == ["doc://a", "doc://items/7"]
    assert got["two"] == []
    assert server.capabilities()["resources"]["subscribe"] is True


def test_content_blocks_have_their_wire_shapes_and_refuse_bad_data() -> None:
    assert Image(b"\x89PNG").to_wire() == {"type": "image", "data": "iVBORw==", "mimeType": "image/png"}
    assert Audio("UklGRg==", "audio/ogg").to_wire() == {"type": "audio", "data": "UklGRg==", "mimeType": "audio/ogg"}
    assert EmbeddedResource("doc://b", blob=b"\x00").to_wire() == {"type": "resource",
                                                                   "resource": {"uri": "doc://b", "blob": "AA=="}}
    with pytest.raises(ValueError, match="must be base64"):
        Image("/tmp/picture.png")
    with pytest.raises(ValueError, match="exactly one of text= or blob="):
        EmbeddedResource("doc://c")
    assert Message(Image(b"x")).to_wire()["content"]["type"] == "image"


async def test_tools_returning_content_blocks_have_no_output_schema() -> None:
    server = MCPServer("content", "1")

    @server.tool()
    def picture() -> list[str | Image]:
        return ["a picture:", Image(b"x", "image/gif")]

    assert server.tools["picture"].signature.output_schema is None
    session = await initialized(server, None)
    reply = await session.handle(request("tools/call", {"name": "picture"}))
    assert reply["result"] == {"content": [{"type": "text", "text": "a picture:"},
                                           {"type": "image", "data": "eA==", "mimeType": "image/gif"}]}


class _Spans:
    def __init__(self) -> None:
        self.opened: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def conduit_span(self, name: str, attributes: dict[str, Any]) -> Any:
        @contextlib.contextmanager
        def opened() -> Iterator[None]:
            self.opened.append((name, attributes))
            yield

        return opened()


async def test_each_tools_call_opens_a_telemetry_span() -> None:
    spans = _Spans()
    pm = create_plugin_manager(extra_plugins=[spans])  # as an app serving the MCP server would have
    with activated(pm):
        session = await initialized(asking_server(), None)
        await session.handle(request("tools/call", {"name": "ask"}, id=41))  # no sampling capability: isError
    assert spans.opened == [("tools/call ask", {
        "mcp.method.name": "tools/call",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "ask",
        "jsonrpc.request.id": "41",
        "mcp.protocol.version": "2025-11-25",
    })]
