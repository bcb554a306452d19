"""Sliding-window rate limiting, app-wide or per route, on a state store.

``rate_limit(max_requests, window_seconds)`` is the seed's API, used two ways::

    app.use(rate_limit(max_requests=100, window_seconds=60))      # every request

    @app.post("/api/data")
    @rate_limit(max_requests=10, window_seconds=60)              # this route only
    def process_data(req, res): ...

Clients are told apart by a hash of their API key (``X-API-Key`` or ``Authorization:
Bearer``) or else their IP address; the address from a proxy header is used only when
``trusted_proxy_header`` names it. Every limited response carries
``X-RateLimit-Limit/Remaining/Reset`` and the IETF ``RateLimit-Policy`` / ``RateLimit``
fields; a refused one is a 429 with ``Retry-After``. When the store (Redis) cannot be
reached the limiter fails open (or closed, ``fail_open=False``: 503) with one warning per
outage, and resumes by itself when the store answers again.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import math
from collections.abc import Callable
from typing import Any

from conduit.framework.errors import ServiceUnavailableError, TooManyRequestsError
from conduit.http.datastructures import PreparedHeaders, prepare_headers
from conduit.http.middleware import PhasedMiddleware, route_middleware
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse
from conduit.storage import (
    AcquireResult,
    StateStore,
    StoreUnavailableError,
    create_state_store,
)

__all__ = ["DEFAULT_EXEMPT_PATHS", "RateLimiter", "client_key", "path_matches", "rate_limit"]

logger = logging.getLogger("conduit.ratelimit")

DEFAULT_EXEMPT_PATHS: tuple[str, ...] = ("/health",)


def path_matches(path: str, prefixes: tuple[str, ...]) -> bool:
    """True when ``path`` is one of ``prefixes`` or below one (segment-aware: ``/health``
    covers ``/health/ready`` but not ``/healthz``)."""
    for prefix in prefixes:
        base = prefix.rstrip("/")
        if not base or path == base or path.startswith(base + "/"):
            return True
    return False


def _api_key(request: HTTPRequest, header_name: str) -> str | None:
    headers = request.headers
    key = headers.get(header_name)
    if key:
        return key
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def client_key(
    request: HTTPRequest,
    *,
    header_name: str = "X-API-Key",
    trusted_proxy_header: str | None = None,
    trusted_hops: int = 1,
) -> str:
    """Who is asking: ``key:<sha256 of the API key>``, else ``ip:<address>``.

    With ``trusted_proxy_header`` (e.g. ``X-Forwarded-For``), the address is the entry
    ``trusted_hops`` from the right of that header, the one your own proxy appended;
    entries further left are client-supplied and never trusted.
    """
    key = _api_key(request, header_name)
    if key:
        return "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    if trusted_proxy_header:
        hops = [h.strip() for h in ",".join(request.headers.getlist(trusted_proxy_header)).split(",") if h.strip()]
        if len(hops) >= trusted_hops:
            return "ip:" + hops[-trusted_hops]
    client = request.client
    return "ip:" + (client.host if client is not None else "unknown")


class RateLimiter(PhasedMiddleware):
    """A sliding-window limiter; see the module docstring.

    ``store`` is a :class:`~conduit.storage.StateStore`; by default the app's shared
    ``app.state_store``, created on first use from the app's settings (memory, or
    Redis when ``CONDUIT_REDIS_URL`` / ``redis_url`` is set). ``key_func(request)`` replaces
    :func:`client_key`. ``exempt_paths`` (health probes by default) are never limited.
    """

    def __init__(
        self,
        max_requests: int,
        window_seconds: float = 60.0,
        *,
        store: StateStore | None = None,
        key_func: Callable[[HTTPRequest], str] | None = None,
        trusted_proxy_header: str | None = None,
        fail_open: bool = True,
        exempt_paths: tuple[str, ...] = DEFAULT_EXEMPT_PATHS,
        policy_name: str = "default",
        prefix: str = "ratelimit",
    ) -> None:
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ValueError(f"max_requests must be an integer >= 1, got {max_requests!r}")
        if not window_seconds > 0:
            raise ValueError(f"window_seconds must be > 0, got {window_seconds!r}")
        self.max_requests = max_requests
        self.window_seconds = float(window_seconds)
        self.store = store
        self.key_func = key_func or (
            functools.partial(client_key, trusted_proxy_header=trusted_proxy_header) if trusted_proxy_header else client_key
        )
        self.fail_open = fail_open
        self.exempt_paths = exempt_paths
        self.policy_name = policy_name
        self.prefix = prefix
        self._per_route = False
        self._outage = False
        # The constant fields, checked once; each response adds the counts (digits only).
        constant = prepare_headers({
            "X-RateLimit-Limit": str(max_requests),
            "RateLimit-Policy": f'"{policy_name}";q={max_requests};w={math.ceil(self.window_seconds)}',
            "RateLimit": f'"{policy_name}";r=',
        })
        self._limit = constant["x-ratelimit-limit"]
        self._policy = constant["ratelimit-policy"]
        self._rate_prefix = constant["ratelimit"][1]

    @property
    def exempt_paths(self) -> tuple[str, ...]:
        return self._exempt_paths

    @exempt_paths.setter
    def exempt_paths(self, paths: tuple[str, ...]) -> None:
        # path_matches() as a set lookup plus one str.startswith over a tuple.
        self._exempt_paths = tuple(paths)
        bases = [p.rstrip("/") for p in self._exempt_paths]
        self._exempt_all = any(not b for b in bases)
        self._exempt_exact = frozenset(bases)
        self._exempt_below = tuple(b + "/" for b in bases)

    def _exempt(self, path: str) -> bool:
        return self._exempt_all or path in self._exempt_exact or path.startswith(self._exempt_below)

    def __repr__(self) -> str:
        return f"rate_limit({self.max_requests}/{self.window_seconds:g}s)"

    def __call__(self, *args: Any) -> Any:
        """``limiter(request, call_next)`` as middleware; ``limiter(handler)`` as a route decorator."""
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], HTTPRequest):
            limiter = copy.copy(self)
            limiter._per_route = True  # keyed by method and route pattern as well as client
            return route_middleware(limiter)(args[0])
        return self.dispatch(*args)

    async def dispatch(self, request: HTTPRequest, call_next: Any) -> HTTPResponse:
        """The limiter as ``(request, call_next)`` middleware (what the kernel fuses: the phases)."""
        return await PhasedMiddleware.__call__(self, request, call_next)

    def _store_for(self, request: HTTPRequest) -> StateStore:
        if self.store is not None:  # given explicitly: the caller owns it
            return self.store
        app = request.app
        if app is None:
            self.store = create_state_store()
            return self.store
        return app.state_store  # shared, and closed and renewed with the app's lifecycle

    def _key(self, request: HTTPRequest) -> str:
        if self._per_route:
            route = request.route
            scope = f"{request.method}:{route.path if route is not None else request.path}"
            return f"{self.prefix}:{scope}:{self.key_func(request)}"
        return self.prefix + ":app:" + self.key_func(request)

    def _headers(self, result: AcquireResult) -> PreparedHeaders:
        reset = str(math.ceil(result.reset_after))
        remaining = str(result.remaining)
        return {
            "x-ratelimit-limit": self._limit,
            "x-ratelimit-remaining": ("X-RateLimit-Remaining", remaining),
            "x-ratelimit-reset": ("X-RateLimit-Reset", reset),
            "ratelimit-policy": self._policy,
            "ratelimit": ("RateLimit", self._rate_prefix + remaining + ";t=" + reset),
        }

    async def before(self, request: HTTPRequest) -> AcquireResult | None:
        """Count the request; 429 past the limit. Its counts go to :meth:`after`."""
        path = request.path
        if self._exempt_all or path in self._exempt_exact or path.startswith(self._exempt_below):
            return None
        store = self.store
        if store is None:
            store = self._store_for(request)
        try:
            acquire_nowait = getattr(store, "acquire_nowait", None)  # the memory store's: no coroutine
            if acquire_nowait is not None:
                result = acquire_nowait(self._key(request), self.max_requests, self.window_seconds)
            else:
                result = await store.acquire(self._key(request), self.max_requests, self.window_seconds)
        except StoreUnavailableError as exc:
            if not self._outage:
                self._outage = True
                logger.warning(
                    "rate limiting is failing %s: the state store is unavailable (%s)",
                    "open (requests are allowed)" if self.fail_open else "closed (503)",
                    exc,
                )
            if self.fail_open:
                return None
            raise ServiceUnavailableError(
                "Service temporarily unavailable",
                "the rate limiter cannot reach its store; retry shortly",
                headers={"Retry-After": "1"},
                code="rate_limiter_unavailable",
            ) from None
        if self._outage:
            self._outage = False
            logger.warning("rate limiting recovered: the state store answers again")
        if not result.allowed:
            headers = {name: value for name, value in self._headers(result).values()}
            headers["Retry-After"] = str(max(1, math.ceil(result.retry_after)))
            raise TooManyRequestsError(
                "Too Many Requests",
                f"the limit is {self.max_requests} requests per {self.window_seconds:g}s; "
                f"retry in {headers['Retry-After']}s",
                headers=headers,
                code="rate_limited",
            )
        return result

    def after(self, request: HTTPRequest, response: HTTPResponse, result: AcquireResult | None) -> None:
        if result is not None:
            response.headers.update_prepared(self._headers(result))


def rate_limit(
    max_requests: int = 100,
    window_seconds: float = 60.0,
    **options: Any,
) -> RateLimiter:
    """The seed's ``rate_limit``: middleware for ``app.use`` and a route decorator.

    ``options`` are those of :class:`RateLimiter` (``store=``, ``key_func=``,
    ``trusted_proxy_header=``, ``fail_open=``, ``exempt_paths=``, ``policy_name=``).
    """
    return RateLimiter(max_requests, window_seconds, **options)
