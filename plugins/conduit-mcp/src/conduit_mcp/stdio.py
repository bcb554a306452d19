"""The stdio transport: newline-delimited JSON-RPC on stdin and stdout.

Each line read is one message (or batch), handled in its own task so a slow tool
never holds up ``ping`` or ``notifications/cancelled``. Responses and notifications
are written one line each, under a lock. While serving, ``sys.stdout`` points at
stderr, so a stray ``print()`` in a tool cannot corrupt the protocol stream. When
stdin closes the session ends once the requests already read are answered (a client that will not wait
terminates the process, as the MCP stdio shutdown sequence says).
"""

from __future__ import annotations

import logging
import sys
from typing import IO, TYPE_CHECKING, Any

import anyio

from conduit_mcp.convert import dumps

if TYPE_CHECKING:
    from conduit_mcp.server import MCPServer

__all__ = ["serve_stdio"]

logger = logging.getLogger("conduit.mcp")


async def serve_stdio(server: MCPServer, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
    """Serve one client on ``stdin``/``stdout`` (the process's own by default)."""
    redirect = stdout is None
    raw_out = stdout if stdout is not None else sys.stdout.buffer
    raw_in = stdin if stdin is not None else sys.stdin.buffer
    out = anyio.wrap_file(raw_out)
    lock = anyio.Lock()

    async def write(message: Any) -> None:
        data = dumps(message) + b"\n"
        async with lock:
            await out.write(data)
            await out.flush()

    session = server.create_session(write)
    saved_stdout = sys.stdout
    if redirect:
        sys.stdout = sys.stderr
    try:
        async with anyio.create_task_group() as outbox_group:
            outbox_group.start_soon(session.run_outbox)

            async def handle(line: bytes) -> None:
                reply = await session.handle_bytes(line)
                if reply is not None:
                    async with lock:
                        await out.write(reply + b"\n")
                        await out.flush()

            async with anyio.create_task_group() as requests:
                async for line in anyio.wrap_file(raw_in):
                    if line.strip():
                        requests.start_soon(handle, line)
            # stdin closed: the requests already read have been answered; stop
            session.close()
            outbox_group.cancel_scope.cancel()
    except (BrokenPipeError, anyio.BrokenResourceError):
        logger.info("MCP stdio client went away")
    finally:
        session.close()
        if redirect:
            sys.stdout = saved_stdout
