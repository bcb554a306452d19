"""The per-request :class:`Context` a tool, resource or prompt may ask for.

Annotate a parameter with ``Context`` and the server fills it (it never appears in the
input schema)::

    @server.tool()
    async def index(paths: list[str], ctx: Context) -> int:
        for done, path in enumerate(paths, 1):
            await ctx.report_progress(done, len(paths), message=path)
        await ctx.info("indexed", logger="indexer")
        return len(paths)

Progress goes out as ``notifications/progress`` only when the client's request asked
for it (``_meta.progressToken``); log messages as ``notifications/message`` only at or
above the level the client set with ``logging/setLevel``. A sync tool runs in a worker
thread: call these through ``anyio.from_thread.run(ctx.report_progress, 1, 2)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Context", "LOG_LEVELS"]

LOG_LEVELS: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""RFC 5424 severities, least to most severe, as MCP names them."""

Send = Callable[[dict[str, Any]], Awaitable[None]]


class Context:
    """What a handler can learn about, and send back within, the request it serves."""

    def __init__(
        self,
        *,
        request_id: str | int | None,
        meta: dict[str, Any] | None,
        send: Send,
        log_level: Callable[[], str | None],
        protocol_version: str | None,
    ) -> None:
        self.request_id = request_id
        self.meta: dict[str, Any] = meta or {}
        self.protocol_version = protocol_version
        self._send = send
        self._log_level = log_level

    @property
    def progress_token(self) -> str | int | None:
        """The token the client sent to ask for progress, or None."""
        token = self.meta.get("progressToken")
        return token if isinstance(token, (str, int)) and not isinstance(token, bool) else None

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send ``notifications/progress``; a no-op when the client asked for none.

        ``progress`` must increase with every call, as the protocol requires.
        """
        token = self.progress_token
        if token is None:
            return
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self._send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    async def log(self, level: str, data: Any, *, logger: str | None = None) -> None:
        """Send ``notifications/message`` when ``level`` is at or above the client's level."""
        if level not in LOG_LEVELS:
            raise ValueError(f"log level {level!r} is not one of {', '.join(LOG_LEVELS)}")
        threshold = self._log_level()
        if threshold is None or LOG_LEVELS.index(level) < LOG_LEVELS.index(threshold):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self._send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})

    async def debug(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("debug", data, logger=logger)

    async def info(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("info", data, logger=logger)

    async def warning(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("warning", data, logger=logger)

    async def error(self, data: Any, *, logger: str | None = None) -> None:
        await self.log("error", data, logger=logger)
