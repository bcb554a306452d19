"""Seed 001's two integration calls: ``setup_telemetry(app)`` and ``setup_middleware(app)``.

The seed's service wires OpenTelemetry and its production middleware with two calls in its
app module. Conduit does much of this from configuration (API keys, the router's body
limit, ``OTEL_ENABLED``); these functions are the seed's calls for an app built in code::

    from conduit.framework.setup import setup_middleware, setup_telemetry

    setup_telemetry(app)
    setup_middleware(app)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conduit.errors import MissingPluginError

__all__ = ["SEED_MAX_REQUEST_SIZE", "SEED_REQUESTS_PER_MINUTE", "setup_middleware", "setup_telemetry"]

#: Seed 001's defaults: "Configurable limits (default: 100 requests/minute)", "default: 10KB".
SEED_REQUESTS_PER_MINUTE = 100
SEED_MAX_REQUEST_SIZE = 10_000
_EXEMPT = ("/health",)


def setup_telemetry(app: Any) -> None:
    """Enable conduit-otel for ``app``; ``OTEL_ENABLED`` and the ``OTEL_*`` variables then
    decide what it exports (docs/otel.md). MissingPluginError names the install command
    when conduit-otel is not installed."""
    if app.plugin_manager.get_plugin("otel") is None:
        raise MissingPluginError("OpenTelemetry (setup_telemetry)", "otel")
    app.enable_plugin("otel")


def setup_middleware(
    app: Any,
    *,
    cors_origins: Iterable[str] = (),
    requests_per_minute: int | None = None,
    max_request_size: int | None = None,
    log_requests: bool = True,
) -> None:
    """Seed 001's stack on ``app``, outermost first as the seed orders it:

    1. CORS for ``cors_origins`` (none by default: only same-origin pages may call; ``("*",)``
       opens the API to every origin, without credentials);
    2. the request size limit: ``max_request_size``, else ``router_max_request_size`` /
       ``API_MAX_REQUEST_SIZE``, else the seed's 10,000 bytes (a body-less GET passes; 0:
       none);
    3. the rate limit: ``requests_per_minute`` (the seed's 100) per API key, else per client
       address, in the app's state store (Redis with ``redis_url``), failing open, with
       ``X-RateLimit-*`` headers; the health probes are exempt;
    4. authentication: the kernel's, from ``api_keys`` (``API_KEY`` with ``API_REQUIRE_AUTH``):
       nothing is added here, so it is never applied twice;
    5. a log line per request (``log_requests``).
    """
    from conduit.framework.cors import CORSPolicy
    from conduit.framework.limits import RequestSizeLimit
    from conduit.framework.ratelimit import rate_limit
    from conduit.http.middleware import logger_middleware

    origins = tuple(cors_origins)
    if origins:
        app.use(CORSPolicy(allowed_origins=origins))
    size = max_request_size if max_request_size is not None else app.settings.get("router_max_request_size")
    size = SEED_MAX_REQUEST_SIZE if size is None else int(size)
    if size:  # 0: no limit of its own (the server's max_body_size still applies)
        app.use(RequestSizeLimit(size))
    per_minute = SEED_REQUESTS_PER_MINUTE if requests_per_minute is None else requests_per_minute
    if per_minute:
        app.use(rate_limit(per_minute, 60.0, exempt_paths=_EXEMPT))
    if log_requests:
        app.use(logger_middleware())
