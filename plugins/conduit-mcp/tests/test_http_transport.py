"""Streamable HTTP, in process: status codes, sessions, Origin/Host checks, JSON and SSE."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from conduit import Conduit
from conduit.testing import TestClient
from conduit_mcp import MCPServer
from conduit_mcp.http import mount_mcp

URL = "http://localhost/mcp"
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def make_app(**options: Any) -> Conduit:
    server = MCPServer("http-unit", "1.0.0")

    @server.tool()
    def echo(text: str) -> str:
        return text

    app = Conduit()
    mount_mcp(app, "/mcp", server, **options)
    return app


def post(client: TestClient, message: Any, session: str | None = None, **headers: str) -> Any:
    hdrs = {**HEADERS, **headers}
    if session:
        hdrs["mcp-session-id"] = session
    return client.post(URL, content=orjson.dumps(message), headers=hdrs)


def sse_messages(text: str) -> list[Any]:
    return [orjson.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: ")]


def open_session(client: TestClient) -> str:
    response = post(client, INIT)
    assert response.status_code == 200
    session = response.headers["mcp-session-id"]
    assert post(client, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session).status_code == 202
    return session


def test_initialize_opens_a_session_and_requests_answer_as_sse_events() -> None:
    with TestClient(make_app()) as client:
        response = post(client, INIT)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert sse_messages(response.text)[0]["result"]["protocolVersion"] == "2025-06-18"
        session = response.headers["mcp-session-id"]
        assert len(session) == 32
        call = post(client, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                             "params": {"name": "echo", "arguments": {"text": "hi"}}}, session)
        assert call.headers["mcp-session-id"] == session
        assert "event: message\ndata: " in call.text
        assert sse_messages(call.text) == [{"jsonrpc": "2.0", "id": 2, "result": {
            "content": [{"type": "text", "text": "hi"}], "structuredContent": {"result": "hi"}}}]


def test_json_response_mode_answers_application_json() -> None:
    with TestClient(make_app(json_response=True)) as client:
        session = open_session(client)
        response = post(client, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, session)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"jsonrpc": "2.0", "id": 2, "result": {}}


def test_missing_session_is_400_unknown_is_404_and_delete_ends_it() -> None:
    with TestClient(make_app(json_response=True)) as client:
        ping = {"jsonrpc": "2.0", "id": 3, "method": "ping"}
        missing = post(client, ping)
        assert missing.status_code == 400
        assert missing.json()["error"]["code"] == -32600
        assert missing.json()["id"] == 3
        assert post(client, ping, "0" * 32).status_code == 404
        session = open_session(client)
        assert client.delete(URL, headers={"mcp-session-id": session}).status_code == 200
        assert post(client, ping, session).status_code == 404
        assert client.delete(URL, headers={"mcp-session-id": session}).status_code == 404


def test_idle_sessions_expire() -> None:
    with TestClient(make_app(json_response=True, session_ttl=0.0)) as client:
        session = post(client, INIT).headers["mcp-session-id"]
        assert post(client, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, session).status_code == 404


def test_notifications_and_responses_get_202_with_an_empty_body() -> None:
    with TestClient(make_app()) as client:
        session = open_session(client)
        for message in ({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}},
                        {"jsonrpc": "2.0", "id": 7, "result": {}}):
            response = post(client, message, session)
            assert (response.status_code, response.content) == (202, b"")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"accept": "application/json"}, 406),
        ({"accept": "text/event-stream"}, 406),
        ({"content-type": "text/plain"}, 400),
        ({"mcp-protocol-version": "1999-01-01"}, 400),
        ({"origin": "https://evil.example"}, 403),
        ({"host": "evil.example"}, 421),
    ],
)
def test_transport_checks_refuse_with_the_specified_status(headers: dict[str, str], status: int) -> None:
    with TestClient(make_app()) as client:
        response = post(client, INIT, **headers)
        assert response.status_code == status
        assert response.json()["error"]["code"] == -32600
        assert "mcp-session-id" not in response.headers


def test_local_and_allowed_origins_pass() -> None:
    with TestClient(make_app(json_response=True)) as client:
        assert post(client, INIT, origin="http://localhost:3000").status_code == 200
    with TestClient(make_app(json_response=True, allowed_origins=["https://app.example"],
                             allowed_hosts=["mcp.example"])) as client:
        ok = client.post("http://mcp.example/mcp", content=orjson.dumps(INIT),
                         headers={**HEADERS, "origin": "https://app.example"})
        assert ok.status_code == 200
        assert post(client, INIT, origin="http://localhost:3000").status_code == 421


def test_invalid_json_body_is_a_parse_error() -> None:
    with TestClient(make_app()) as client:
        response = client.post(URL, content=b"{nope", headers=HEADERS)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32700


def test_get_without_an_event_stream_accept_or_when_disabled_is_405() -> None:
    with TestClient(make_app()) as client:
        session = open_session(client)
        assert client.get(URL, headers={"mcp-session-id": session, "accept": "application/json"}).status_code == 405
    with TestClient(make_app(get_stream=False)) as client:
        session = open_session(client)
        response = client.get(URL, headers={"mcp-session-id": session, "accept": "text/event-stream"})
        assert response.status_code == 405
        assert response.headers["allow"] == "POST, DELETE"


MODERN = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}


@pytest.mark.parametrize("json_response", [True, False])
def test_2026_07_28_requests_need_no_session(json_response: bool) -> None:
    with TestClient(make_app(json_response=json_response)) as client:
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {"text": "x"}, "_meta": MODERN}}
        response = post(client, message, **{"mcp-protocol-version": "2026-07-28"})
        assert response.status_code == 200
        assert "mcp-session-id" not in response.headers
        reply = response.json() if json_response else sse_messages(response.text)[0]
        assert reply["result"]["resultType"] == "complete"
        assert reply["result"]["structuredContent"] == {"result": "x"}


def test_2026_07_28_header_that_disagrees_with_the_body_is_refused() -> None:
    with TestClient(make_app()) as client:
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": MODERN}}
        response = post(client, message, **{"mcp-protocol-version": "2025-11-25"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32020


def sse_events(text: str) -> list[dict[str, str]]:
    """Each SSE event's fields (comments dropped)."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                      for line in block.splitlines() if line and not line.startswith(":"))
        if fields:
            events.append(fields)
    return events


def open_session_at(client: TestClient, version: str) -> str:
    init = {**INIT, "params": {**INIT["params"], "protocolVersion": version}}
    session = post(client, init).headers["mcp-session-id"]
    post(client, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    return session


def test_streams_of_2025_11_25_sessions_are_primed_and_every_event_has_an_id() -> None:
    with TestClient(make_app(retry_ms=250)) as client:
        session = open_session_at(client, "2025-11-25")
        call = post(client, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                             "params": {"name": "echo", "arguments": {"text": "hi"}}}, session)
        priming, answer = sse_events(call.text)
        stream_id = priming["id"].rpartition("-")[0]
        assert priming == {"id": f"{stream_id}-0", "retry": "250", "data": ""}
        assert answer["id"] == f"{stream_id}-1" and answer["event"] == "message"
        assert orjson.loads(answer["data"])["result"]["content"] == [{"type": "text", "text": "hi"}]
        older = open_session_at(client, "2025-06-18")  # empty data confuses older clients: no priming
        events = sse_events(post(client, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, older).text)
        assert len(events) == 1 and orjson.loads(events[0]["data"])["result"] == {}


def test_get_with_last_event_id_replays_the_rest_of_that_stream() -> None:
    with TestClient(make_app()) as client:
        session = open_session_at(client, "2025-11-25")
        call = post(client, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                             "params": {"name": "echo", "arguments": {"text": "again"}}}, session)
        priming = sse_events(call.text)[0]
        resumed = client.get(URL, headers={"accept": "text/event-stream", "mcp-session-id": session,
                                           "last-event-id": priming["id"]})
        assert resumed.status_code == 200
        (event,) = sse_events(resumed.text)
        assert orjson.loads(event["data"])["id"] == 2


@pytest.mark.parametrize("last_event_id", ["nonsense", "feedface-0", "{stream}-99"])
def test_a_last_event_id_that_names_nothing_resumable_is_404(last_event_id: str) -> None:
    with TestClient(make_app()) as client:
        session = open_session_at(client, "2025-11-25")
        call = post(client, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, session)
        stream_id = sse_events(call.text)[0]["id"].rpartition("-")[0]
        response = client.get(URL, headers={"accept": "text/event-stream", "mcp-session-id": session,
                                            "last-event-id": last_event_id.format(stream=stream_id)})
        assert response.status_code == 404
        assert "Last-Event-ID" in response.json()["error"]["message"]


@pytest.mark.parametrize("json_response", [True, False], ids=["json", "sse"])
def test_a_session_record_in_a_shared_store_lets_another_transport_go_on_with_it(json_response: bool) -> None:
    """Two mounts (two processes' worth) sharing one state store: the negotiated state written
    by one is what the other restores; the log level set through the second reaches the first;
    DELETE through either ends it for both."""
    from conduit.storage import MemoryStateStore

    store = MemoryStateStore()
    server = MCPServer("shared", "1.0.0")

    @server.tool()
    def echo(text: str) -> str:
        return text

    apps, transports = [], []
    for _ in range(2):
        app = Conduit()
        transports.append(mount_mcp(app, "/mcp", server, json_response=json_response, session_store=store))
        apps.append(app)
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        session = open_session(a)
        echo_call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "echo", "arguments": {"text": "hi"}}}
        answer = post(b, echo_call, session)
        assert answer.status_code == 200
        body = answer.json() if json_response else sse_messages(answer.text)[-1]
        assert body["result"]["content"][0]["text"] == "hi"
        set_level = {"jsonrpc": "2.0", "id": 3, "method": "logging/setLevel", "params": {"level": "error"}}
        assert post(b, set_level, session).status_code == 200
        assert post(a, {"jsonrpc": "2.0", "id": 4, "method": "ping"}, session).status_code == 200
        assert [t.sessions[session].session.log_level for t in transports] == ["error", "error"]
        assert [t.sessions[session].session.protocol_version for t in transports] == ["2025-06-18"] * 2
        assert [t.sessions[session].session.ready for t in transports] == [True, True]
        assert b.delete(URL, headers={"mcp-session-id": session}).status_code == 200
        assert post(a, {"jsonrpc": "2.0", "id": 5, "method": "ping"}, session).status_code == 404
        assert session not in transports[0].sessions
