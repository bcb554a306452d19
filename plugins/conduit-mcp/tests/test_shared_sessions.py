"""MCP sessions shared through Redis: two `conduit run` processes behind Debian's nginx (round
robin, no affinity, a new connection for every request), driven by the official MCP client."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from conduit.testing import free_port, wait_until_serving

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REDIS_URL = "redis://127.0.0.1:6379/0"

APP = """
import os

from conduit import Conduit
from conduit.mcp import Context, MCPServer

server = MCPServer("scale-out", "1.0.0")


def where(label: str = "") -> dict:
    \"\"\"The process that ran this call.\"\"\"
    return {"pid": os.getpid(), "label": label}


server.add_tool(where, name="where")


async def ask(ctx: Context) -> dict:
    \"\"\"Ask the client's LLM (a server-to-client request the client answers with a new POST).\"\"\"
    answer = await ctx.sample("Capital of France?", max_tokens=10, timeout=30)
    return {"pid": os.getpid(), "answer": answer.text}


server.add_tool(ask, name="ask")


@server.resource("test://watched", name="watched", mime_type="text/plain")
def watched() -> str:
    return "watched"


def touch() -> dict:
    \"\"\"Tell the resource's subscribers it changed, from whichever process runs this.\"\"\"
    return {"pid": os.getpid(), "told": server.notify_resource_updated("test://watched")}


server.add_tool(touch, name="touch")


async def resumed(ctx: Context) -> dict:
    \"\"\"End this call's SSE stream at once and answer later: the client resumes the stream
    with GET and Last-Event-ID, which the balancer sends to either process.\"\"\"
    import anyio

    await ctx.close_sse_stream()
    await anyio.sleep(0.3)
    return {"pid": os.getpid(), "answer": "after the resume"}


server.add_tool(resumed, name="resumed")


async def stall(ctx: Context) -> dict:
    \"\"\"End this call's SSE stream at once and take a minute to answer.\"\"\"
    import anyio

    await ctx.close_sse_stream()
    await anyio.sleep(60)
    return {"pid": os.getpid()}


server.add_tool(stall, name="stall")
app = Conduit()
app.mount_mcp("/mcp", server)
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream conduit {{
    server 127.0.0.1:{a} max_fails=1 fail_timeout=2s;
    server 127.0.0.1:{b} max_fails=1 fail_timeout=2s;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://conduit;
      proxy_http_version 1.1;
      proxy_set_header Host $host:$server_port;
      proxy_buffering off;
      proxy_next_upstream error timeout non_idempotent;
    }}
  }}
}}
"""


class Cluster:
    """Two Conduit processes sharing Redis, and nginx in front of them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "scaleapp.py").write_text(APP)
        self.ports = [free_port(), free_port()]
        self.port = free_port()
        self.processes: dict[int, subprocess.Popen[Any]] = {}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_")}
        self.env.update(CONDUIT_REDIS_URL=REDIS_URL, PYTHONPATH=str(tmp), CONDUIT_LOG_LEVEL="warning")

    def start(self, port: int) -> None:
        conduit = str(Path(sys.executable).with_name("conduit"))
        proc = subprocess.Popen([conduit, "run", "scaleapp:app", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=self.tmp, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes[port] = proc
        wait_until_serving(f"http://127.0.0.1:{port}/health/live", process=proc)

    def kill(self, port: int) -> None:
        proc = self.processes.pop(port)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def __enter__(self) -> Cluster:
        for port in self.ports:
            self.start(port)
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.tmp / name).mkdir()
        conf = self.tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=self.tmp, a=self.ports[0], b=self.ports[1], port=self.port))
        self.nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(self.tmp)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        wait_until_serving(f"http://127.0.0.1:{self.port}/health/live", process=self.nginx)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.nginx.terminate()
        self.nginx.wait(timeout=30)
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            proc.wait(timeout=60)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if not Path(NGINX).exists():
        pytest.skip("Debian's nginx is not installed (scripts/install-dev installs it as root)")
    try:
        import redis

        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no Redis to share
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    with Cluster(tmp_path) as running:
        yield running


def _client() -> Any:
    """The official client's HTTP client, keeping no connection open: each request is new."""
    import httpx2
    from mcp.shared._httpx_utils import create_mcp_http_client

    client = create_mcp_http_client()
    client._transport = httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_keepalive_connections=0))  # noqa: SLF001
    return client


async def _pids(session: Any, calls: int, label: str = "") -> list[int]:
    pids = []
    for _ in range(calls):
        result = await session.call_tool("where", {"label": label})
        assert not result.is_error, result
        assert result.structured_content["label"] == label
        pids.append(result.structured_content["pid"])
    return pids


async def _answers(session: Any, tool: str, calls: int, answer: str) -> list[int]:
    """Call ``tool`` ``calls`` times; each must answer ``answer``; the pids that ran them."""
    pids = []
    for _ in range(calls):
        with anyio.fail_after(20):
            result = await session.call_tool(tool, {})
        assert not result.is_error, result
        assert result.structured_content["answer"] == answer
        pids.append(result.structured_content["pid"])
    return pids


async def test_one_session_alternates_between_processes_and_outlives_the_one_it_began_on(cluster: Cluster) -> None:
    from mcp.client import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with _client() as http, streamable_http_client(cluster.url, http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            pids = await _pids(session, 6)
            served = {proc.pid for proc in cluster.processes.values()}
            assert set(pids) == served, (pids, served)  # round robin: both processes served the one session
            victim = next(port for port, proc in cluster.processes.items() if proc.pid == pids[-1])
            cluster.kill(victim)  # kill -9 the process that answered last
            after = await _pids(session, 4, "after the kill")
            assert set(after) == {proc.pid for proc in cluster.processes.values()}
            cluster.start(victim)  # back in the pool: it takes the session's requests again
            restarted = cluster.processes[victim].pid
            # nginx keeps a failed server out for fail_timeout counted in whole seconds (up to
            # one more), and eases it back in by weight: call until it answers, within a bound.
            again: list[int] = []
            with anyio.fail_after(20):
                while restarted not in again:
                    again += await _pids(session, 1, "after the restart")
                    await anyio.sleep(0.1)
            assert set(again) <= {proc.pid for proc in cluster.processes.values()}


async def test_several_sessions_at_once_each_keep_their_own_state(cluster: Cluster) -> None:
    from mcp.client import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    seen: dict[int, set[int]] = {}

    async def one(n: int) -> None:
        async with _client() as http, streamable_http_client(cluster.url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                info = await session.initialize()
                assert info.server_info.name == "scale-out"
                seen[n] = set(await _pids(session, 4, f"session {n}"))

    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(one, n)
    assert len(seen) == 6
    assert set().union(*seen.values()) == {proc.pid for proc in cluster.processes.values()}


async def test_a_session_deleted_through_one_process_is_gone_in_the_other(cluster: Cluster) -> None:
    """DELETE (the client's terminate on close) removes the shared record: the next request
    with that id is 404 wherever it lands."""
    from mcp.client import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    captured: dict[str, str] = {}

    async def keep_id(response: Any) -> None:
        sid = response.headers.get("mcp-session-id")
        if sid:
            captured["id"] = sid

    async with _client() as http:
        http.event_hooks["response"].append(keep_id)
        async with streamable_http_client(cluster.url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await _pids(session, 2)
    headers = {"mcp-session-id": captured["id"], "accept": "application/json, text/event-stream",
               "content-type": "application/json", "mcp-protocol-version": "2025-11-25"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    for port in cluster.ports:
        answer = httpx.post(f"http://127.0.0.1:{port}/mcp", json=ping, headers=headers)
        assert answer.status_code == 404, (port, answer.text)


async def test_an_answer_to_a_server_request_reaches_the_process_whose_tool_waits(cluster: Cluster) -> None:
    """A tool samples the client's LLM; the client's answer is a new POST, which the balancer
    sends to either process: the other one passes it on through Redis."""
    import mcp_types as types
    from mcp.client import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    answered = 0

    async def sampling(context, params):
        nonlocal answered
        answered += 1
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="Paris"),
                                         model="test-model", stop_reason="endTurn")

    async with _client() as http, streamable_http_client(cluster.url, http_client=http) as (read, write):
        async with ClientSession(read, write, sampling_callback=sampling) as session:
            await session.initialize()
            pids = await _answers(session, "ask", 8, "Paris")
    assert answered == 8 and set(pids) == {proc.pid for proc in cluster.processes.values()}


async def test_notifications_reach_the_get_stream_held_by_another_process(cluster: Cluster) -> None:
    """The GET stream is held by one process; resources/updated raised in the other (where the
    tool ran) reaches it through Redis."""
    import warnings

    import mcp_types as types
    from mcp.client import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    heard: list[str] = []
    arrived = anyio.Event()

    async def on_message(message):
        nonlocal arrived
        if isinstance(message, types.ResourceUpdatedNotification):
            heard.append(str(message.params.uri))
            arrived.set()

    async with _client() as http, streamable_http_client(cluster.url, http_client=http) as (read, write):
        async with ClientSession(read, write, message_handler=on_message) as session:
            await session.initialize()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # subscriptions are deprecated from 2026-07-28 on
                await session.subscribe_resource("test://watched")
            with anyio.fail_after(15):  # the client opens its GET stream just after initialize
                while not heard:
                    await session.call_tool("touch", {})
                    with anyio.move_on_after(0.5):
                        await arrived.wait()
            heard.clear()
            pids = []
            for _ in range(8):
                arrived = anyio.Event()
                result = await session.call_tool("touch", {})
                pids.append(result.structured_content["pid"])
                with anyio.fail_after(10):
                    await arrived.wait()
    assert len(heard) == 8 and set(pids) == {proc.pid for proc in cluster.processes.values()}


async def test_a_stream_resumes_with_last_event_id_on_either_process(cluster: Cluster) -> None:
    """The tool ends its SSE stream early; the official client reconnects with GET and
    Last-Event-ID, landing on either process, and still gets the tool's result. (The client
    retries a failed resume, so the next test checks the replay itself, process by process.)"""
    from mcp.client import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with _client() as http, streamable_http_client(cluster.url, http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            pids = await _answers(session, "resumed", 6, "after the resume")
    assert set(pids) == {proc.pid for proc in cluster.processes.values()}


_BASE = {"accept": "application/json, text/event-stream", "content-type": "application/json",
         "mcp-protocol-version": "2025-11-25"}


def _open_session(http: httpx.Client, url: str) -> dict[str, str]:
    """Initialize a 2025-11-25 session at ``url``; the headers its requests carry."""
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    opened = http.post(url, json=init, headers=_BASE)
    headers = {**_BASE, "mcp-session-id": opened.headers["mcp-session-id"]}
    assert http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                     headers=headers).status_code == 202
    return headers


def _event_ids(http: httpx.Client, url: str, headers: dict[str, str], tool: str) -> list[str]:
    """POST a tools/call (id 7) of ``tool``; the event ids of the stream it answers on."""
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": {}}}
    with http.stream("POST", url, json=call, headers=headers) as streamed:
        ids = [line[4:] for line in streamed.iter_lines() if line.startswith("id: ")]
    assert ids, "the stream carried no event id"
    return ids


def _resume(http: httpx.Client, url: str, headers: dict[str, str], last_event_id: str,
            until_id: int | None = None) -> list[dict[str, Any]]:
    """GET ``url`` with Last-Event-ID: the JSON-RPC messages it streams, up to the one whose id
    is ``until_id`` (else until the server ends the stream)."""
    import json

    data: list[dict[str, Any]] = []
    with http.stream("GET", url, headers={**headers, "accept": "text/event-stream",
                                          "last-event-id": last_event_id}) as resumed:
        assert resumed.status_code == 200
        for line in resumed.iter_lines():
            if line.startswith("data: ") and line[6:].strip():
                data.append(json.loads(line[6:]))
                if until_id is not None and data[-1].get("id") == until_id:
                    break
    return data


def test_last_event_id_at_the_other_process_replays_the_rest_of_the_stream(cluster: Cluster) -> None:
    """Deterministically, without the balancer: the call's stream is opened at one process and
    resumed at the other, which replays it from Redis up to the result."""
    first, second = (f"http://127.0.0.1:{port}/mcp" for port in cluster.ports)
    with httpx.Client(timeout=20) as http:
        headers = _open_session(http, first)
        ids = _event_ids(http, first, headers, "resumed")
        data = _resume(http, second, headers, ids[-1], until_id=7)
    result = data[-1]["result"]["structuredContent"]
    assert result["answer"] == "after the resume"
    assert result["pid"] == cluster.processes[cluster.ports[0]].pid  # the first ran it, the second replayed it


def test_a_resume_of_a_call_whose_process_died_answers_send_it_again(cluster: Cluster) -> None:
    """The process running a call is killed while its client is between streams: the resume at
    the other process does not wait forever, it answers the call with an error that says to
    send it again, and the session goes on. (Without the writer's lease the stream never ends:
    keep-alive comments hold the read open, and the test's timeout fails it.)"""
    first, second = (f"http://127.0.0.1:{port}/mcp" for port in cluster.ports)
    with httpx.Client(timeout=30) as http:
        headers = _open_session(http, first)
        ids = _event_ids(http, first, headers, "stall")
        cluster.kill(cluster.ports[0])
        data = _resume(http, second, headers, ids[-1])
        assert [m.get("id") for m in data] == [7], data
        assert "send the request again" in data[0]["error"]["message"]
        ping = http.post(second, json={"jsonrpc": "2.0", "id": 8, "method": "ping"}, headers=headers)
        assert ping.status_code == 200 and '"result"' in ping.text
