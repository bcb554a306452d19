"""Pure-ASGI middleware a careful Starlette user would write for the seed's production stack.

Starlette ships CORS (``starlette.middleware.cors.CORSMiddleware``, used as is); the other
pieces of Conduit's stack have no Starlette counterpart, so they are written here the way
Conduit's own behave (conduit/framework/headers.py, limits.py, monitoring.py,
ratelimit.py, http/middleware.py), each as plain ASGI (no ``BaseHTTPMiddleware``):

- :class:`SecurityHeaders`: the same five headers as ``security_headers()`` on a non-HTML
  response, HSTS only over TLS, headers the app set itself kept.
- :class:`SizeLimit`: 413 past ``max_bytes``, from ``Content-Length`` and while the body streams.
- :class:`Timeout`: 504 when the inner layers take longer than ``seconds`` (``asyncio.timeout``).
- :class:`AccessLog`: one line per request at INFO, checked with ``isEnabledFor`` first, as
  ``logging_middleware()`` does; at the benchmark's log level (warning) it writes nothing.
- :class:`LimitsRateLimit`: a moving-window limiter on the ``limits`` library (memory
  storage), keyed like Conduit's ``client_key`` (API key, else client address), with the
  same ``X-RateLimit-*`` / ``RateLimit-Policy`` / ``RateLimit`` response headers.
- :class:`ErrorHandler`: an exception from inner layers becomes a JSON 500 here, inside the
  outer layers, so the error response still carries their headers (as in Conduit).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from typing import Any

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException

Scope = dict[str, Any]
ASGIApp = Any

API_CSP = b"default-src 'none'; frame-ancestors 'none'"


def _json_error(status: int, message: str, detail: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json.dumps({"error": message, "detail": detail, "status": status}, separators=(",", ":")).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts_max_age: int = 31536000) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"x-xss-protection", b"1; mode=block"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]
        hsts = [(b"strict-transport-security", f"max-age={hsts_max_age}".encode())]
        api = [*common, (b"content-security-policy", API_CSP)]
        self._plain = (api, common)  # (non-HTML, HTML)
        self._tls = (api + hsts, common + hsts)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api, html = self._tls if scope.get("scheme") == "https" else self._plain

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                is_html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers)
                headers += [(n, v) for n, v in (html if is_html else api) if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                start, body = _json_error(413, "Payload Too Large", f"the request body exceeds {self.max_bytes} bytes")
                await send(start)
                await send(body)
                return
        seen = 0

        async def counting_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # raised in the handler: Starlette's ExceptionMiddleware answers 413
                    raise HTTPException(413, f"the request body exceeds {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)


class Timeout:
    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        deadline = asyncio.timeout(self.seconds)
        try:
            async with deadline:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if started or not deadline.expired():  # not ours, or too late to answer
                raise
            start, body = _json_error(504, "Gateway Timeout", f"the request did not complete within {self.seconds:g}s")
            await send(start)
            await send(body)


class AccessLog:
    def __init__(self, app: ASGIApp, *, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.app = app
        self.logger = logger or logging.getLogger("anchors.access")
        self.level = level

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def status_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            if self.logger.isEnabledFor(self.level):
                ms = (time.perf_counter() - start) * 1000
                self.logger.log(self.level, "%s %s -> %d in %.2fms", scope["method"], scope["path"], status, ms)


def _client_key(scope: Scope) -> str:
    """Conduit's ``client_key``: a hash of ``X-API-Key`` or a bearer token, else the address."""
    for name, value in scope["headers"]:
        if name == b"x-api-key" and value:
            return "key:" + hashlib.sha256(value).hexdigest()[:32]
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return "key:" + hashlib.sha256(token.strip()).hexdigest()[:32]
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


class LimitsRateLimit:
    """Moving window on ``limits`` (memory storage): one ``hit`` and one ``get_window_stats``
    per request, the second for the headers (slowapi makes the same two calls)."""

    def __init__(
        self, app: ASGIApp, *, max_requests: int, window_seconds: int, exempt_paths: tuple[str, ...] = ("/health",)
    ) -> None:
        self.app = app
        self.item = RateLimitItemPerSecond(max_requests, window_seconds)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.exempt = exempt_paths
        self.exempt_below = tuple(p + "/" for p in exempt_paths)
        self.limit_header = (b"x-ratelimit-limit", str(max_requests).encode())
        self.policy_header = (b"ratelimit-policy", f'"default";q={max_requests};w={window_seconds}'.encode())

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in self.exempt or path.startswith(self.exempt_below):
            await self.app(scope, receive, send)
            return
        key = _client_key(scope)
        allowed = self.limiter.hit(self.item, key)
        reset_at, remaining = self.limiter.get_window_stats(self.item, key)
        reset = max(0, math.ceil(reset_at - time.time()))
        headers = [
            self.limit_header,
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", str(reset).encode()),
            self.policy_header,
            (b"ratelimit", f'"default";r={remaining};t={reset}'.encode()),
        ]
        if not allowed:
            start, body = _json_error(429, "Too Many Requests", f"retry in {reset} s")
            start["headers"] += [*headers, (b"retry-after", str(reset).encode())]
            await send(start)
            await send(body)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ErrorHandler:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            logging.getLogger("anchors.errors").exception("unhandled error")
            start, body = _json_error(500, "Internal Server Error", "an unexpected error occurred")
            await send(start)
            await send(body)
