"""Session records in a shared state store, so any process can serve any session.

With Redis, answers to server-to-client requests travel too: a client's answer to a sampling,
elicitation or roots request that reaches a process other than the one whose tool waits for
it is published on ``mcp:reply:<session id>``, and every process listens (one pattern
subscription per mount) and hands it to the waiting tool. A notification for a session's GET
stream raised in a process that does not hold that stream goes out on
``mcp:notify:<session id>`` to the one that does.

With several workers or hosts behind a balancer without affinity, a client's requests land
on whichever process takes the connection. Each Streamable HTTP session's negotiated state
(:meth:`~conduit_mcp.protocol.ServerSession.snapshot`) is kept in the app's state store
(``conduit.storage``: Redis when ``redis_url`` is configured) under
``mcp:session:<id>``, with the session TTL as its expiry. A process that meets a session
id it does not know loads the record and goes on with it; a DELETE anywhere removes it
everywhere (each request checks the record exists); the store's expiry ends idle sessions.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from conduit_mcp.errors import INTERNAL_ERROR

logger = logging.getLogger("conduit.mcp")

__all__ = ["SessionRecords"]

PREFIX = "mcp:session:"


class SessionRecords:
    """Reads and writes session records in ``store`` (an async ``get``/``set``/``delete`` state store)."""

    def __init__(self, store: Any, ttl: float, *, prefix: str = PREFIX) -> None:
        self.store = store
        self.ttl = ttl
        self.prefix = prefix
        # What this process last wrote per session, and when: a record is written again when
        # it changed, or to push its expiry out once a tenth of the TTL has passed.
        self._written: dict[str, tuple[bytes, float]] = {}
        self._writers: set[Any] = set()  # event mirrors still writing
        # Seconds a stream's writer may go silent before a replaying process takes it for dead.
        self.writer_lease = 3.0

    def _key(self, session_id: str) -> str:
        return self.prefix + session_id

    async def load(self, session_id: str) -> dict[str, Any] | None:
        raw = await self.store.get(self._key(session_id))
        if raw is None:
            self._written.pop(session_id, None)
            return None
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return record if isinstance(record, dict) else None

    async def save(self, session_id: str, record: dict[str, Any], *, force: bool = False) -> None:
        data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        now = time.monotonic()
        last = self._written.get(session_id)
        if not force and last is not None and last[0] == data and now - last[1] < self.ttl / 10:
            return
        await self.store.set(self._key(session_id), data, ttl=self.ttl)
        self._written[session_id] = (data, now)

    async def delete(self, session_id: str) -> None:
        self._written.pop(session_id, None)
        await self.store.delete(self._key(session_id))

    # -- answers to server-to-client requests, between processes (Redis pub/sub) ------------

    @property
    def relays(self) -> bool:
        """Whether answers can travel between processes (the store is Redis)."""
        return hasattr(self.store, "client") and hasattr(self.store.client, "pubsub")

    def _channel(self, kind: str, session_id: str) -> str:
        return f"{getattr(self.store, 'prefix', '')}mcp:{kind}:{session_id}"

    async def publish(self, kind: str, session_id: str, message: dict[str, Any]) -> int:
        """Hand ``message`` (``kind`` "reply": an answer a tool awaits; "notify": for the GET
        stream) to whichever process can take it; how many processes listened."""
        return int(await self.store.client.publish(self._channel(kind, session_id), orjson.dumps(message)))

    async def listen(self, deliver: Any) -> None:
        """Call ``deliver(kind, session_id, message)`` for every message another process
        publishes, until cancelled; subscribes again after a failure."""
        import anyio

        prefix = self._channel("", "")  # ".../mcp::"
        base = prefix[: -1]  # ".../mcp:"
        while True:
            pubsub = self.store.client.pubsub()
            try:
                await pubsub.psubscribe(base + "reply:*", base + "notify:*")
                async for item in pubsub.listen():
                    if item.get("type") != "pmessage":
                        continue
                    channel = item["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                    kind, _, session_id = channel[len(base):].partition(":")
                    try:
                        message = orjson.loads(item["data"])
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(message, dict):
                        await deliver(kind, session_id, message)
            except Exception:
                logger.warning("MCP reply relay lost its Redis subscription; subscribing again", exc_info=True)
                await anyio.sleep(1.0)
            finally:
                with anyio.CancelScope(shield=True):
                    try:
                        await pubsub.aclose()
                    except Exception:  # noqa: BLE001, S110 - a subscription that is going anyway
                        pass

    # -- POST streams' events, for Last-Event-ID at another process (Redis streams) ----------

    def _events_key(self, session_id: str, stream_id: str) -> str:
        return f"{getattr(self.store, 'prefix', '')}mcp:events:{session_id}:{stream_id}"

    async def mirror(self, session_id: str, stream_id: str, max_events: int, request_ids: list[Any],
                     kept: list[tuple[int, bytes]]) -> Any:
        """A ``mirror(number, frame)`` for an EventStream: every event, in order, appended to a
        Redis stream (``number`` None: the end), by one writer task on the running loop.

        The events ``kept`` so far (the priming event) are written before this returns, so a
        client never holds an event id that Redis lacks. While the stream is open the writer
        holds a short lease (``<key>:live``), so that a process replaying it can tell a slow
        answer from one whose process died; ``<key>:ids`` names the requests it answers."""
        import asyncio

        key = self._events_key(session_id, stream_id)
        live = key + ":live"
        queue: asyncio.Queue[tuple[int | None, bytes]] = asyncio.Queue()
        client = self.store.client
        ttl = max(1, int(self.ttl))
        lease = self.writer_lease

        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(key + ":ids", orjson.dumps(request_ids), ex=ttl)
                pipe.set(live, b"1", px=int(lease * 1000))
                for number, frame in kept:
                    pipe.xadd(key, {"n": number, "f": frame})
                pipe.expire(key, ttl)
                await pipe.execute()
        except Exception:  # noqa: BLE001 - as below
            logger.warning("MCP stream %s: its start could not be written to Redis", stream_id)

        async def write() -> None:
            while True:
                try:
                    number, frame = await asyncio.wait_for(queue.get(), timeout=lease / 3)
                except TimeoutError:
                    try:
                        await client.set(live, b"1", px=int(lease * 1000))
                    except Exception:  # noqa: BLE001 - a resume elsewhere may give up early
                        logger.warning("MCP stream %s: its lease could not be renewed in Redis", stream_id)
                    continue
                fields = {"n": -1 if number is None else number, "f": frame}
                try:
                    await client.xadd(key, fields, maxlen=max_events + 1, approximate=False)
                    await client.expire(key, ttl)
                    if number is None:
                        await client.delete(live)
                except Exception:  # noqa: BLE001 - a resume elsewhere will miss it; this process still serves it
                    logger.warning("MCP stream %s: an event could not be written to Redis", stream_id)
                if number is None:
                    return

        task = asyncio.get_running_loop().create_task(write())
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)

        def put(number: int | None, frame: bytes) -> None:
            queue.put_nowait((number, frame))

        return put

    async def has_events(self, session_id: str, stream_id: str) -> bool:
        return bool(await self.store.client.exists(self._events_key(session_id, stream_id)))

    async def replay(self, session_id: str, stream_id: str, after: int, keepalive: float) -> Any:
        """The frames of another process's stream after number ``after``, then the rest as it is
        written, until its end (an async iterator of bytes; keep-alive comments while waiting).

        When the writing process is gone (its lease expired before the end), each request the
        stream had not answered gets a JSON-RPC error saying to send it again, and the stream ends."""
        key = self._events_key(session_id, stream_id)
        client = self.store.client
        last = "0-0"
        pending = dict.fromkeys(_ids(await client.get(key + ":ids") or b"[]"))
        # Each XREAD blocks briefly: within the store's socket timeout (a longer block reads as a
        # dead connection), and often enough to notice the writer's lease run out.
        check = min(keepalive, self.writer_lease / 3, 0.5)
        quiet = 0.0
        while True:
            entries = await client.xread({key: last}, count=500, block=max(1, int(check * 1000)))
            if not entries:
                if not await client.exists(key + ":live"):
                    for request_id in pending:
                        yield _sse_error(request_id)
                    return
                quiet += check
                if quiet >= keepalive:
                    quiet = 0.0
                    yield b": keep-alive\n\n"
                continue
            quiet = 0.0
            for _, items in entries:
                for entry_id, fields in items:
                    last = entry_id
                    number = int(_field(fields, "n"))
                    if number < 0:
                        return
                    frame = _field(fields, "f")
                    for answered in _answered(frame):
                        pending.pop(answered, None)
                    if number > after:
                        yield frame


_GONE = ("The server process answering this request stopped before it finished; "
         "send the request again (the session goes on)")


def _field(fields: Any, name: str) -> Any:
    return fields[name.encode()] if name.encode() in fields else fields[name]


def _ids(raw: Any) -> list[Any]:
    try:
        ids = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    return [i for i in ids if isinstance(i, (str, int))] if isinstance(ids, list) else []


def _answered(frame: bytes) -> list[Any]:
    """The ids of the JSON-RPC responses in one SSE frame."""
    data = b"".join(line[5:].lstrip(b" ") for line in frame.split(b"\n") if line.startswith(b"data:"))
    if not data.strip():
        return []
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        return []
    messages = message if isinstance(message, list) else [message]
    return [m.get("id") for m in messages
            if isinstance(m, dict) and "method" not in m and ("result" in m or "error" in m)
            and isinstance(m.get("id"), (str, int))]


def _sse_error(request_id: Any) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "error": {"code": INTERNAL_ERROR, "message": _GONE}}
    return b"event: message\ndata: " + orjson.dumps(message) + b"\n\n"
