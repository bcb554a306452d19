"""Built-in plugin: API keys on every route once keys are configured.

``api_keys`` (``CONDUIT_API_KEYS=k1,k2``, or seed 001's ``API_KEY`` with
``API_REQUIRE_AUTH=true``) switches it on: every route then needs a key in ``X-API-Key``
(``api_key_header``) or ``Authorization: Bearer``, the routes of enabled plugins
included, except the health probes and routes marked ``public=True``. No key configured
and a non-loopback address: the server warns at start-up, naming the routes that spend
money or write data (see :func:`conduit.framework.auth.exposure_warnings`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit.config import Setting
from conduit.hookspecs import hookimpl

__all__ = ["MIDDLEWARE_ORDER", "conduit_check", "conduit_config_schema", "conduit_register_middleware"]

# Inside the request metrics (-1000) and access log (-999), so refusals are counted and
# logged; outside every other plugin's middleware (order 0 by default) and the app's own.
MIDDLEWARE_ORDER = -500


@hookimpl
def conduit_config_schema() -> dict[str, Setting]:
    return {
        "api_keys": Setting(list, [], "API keys (comma-separated in CONDUIT_API_KEYS); when set, every route needs "
                            "one except health probes and routes marked public"),
        "api_key_header": Setting(str, "X-API-Key", "header that carries the API key (Authorization: Bearer "
                                  "works too)"),
    }


@hookimpl
def conduit_register_middleware(register: Callable[..., Any], app: Any) -> None:
    from conduit.framework.auth import AuthMiddleware, configured_keys

    keys = configured_keys(app.settings)
    if keys:
        health = (app.settings.get("health_prefix") or "/health").rstrip("/") or "/health"
        register(AuthMiddleware(keys, app.settings.get("api_key_header") or "X-API-Key", exempt_paths=(health,)),
                 order=MIDDLEWARE_ORDER)


@hookimpl
def conduit_check(settings: Any, warn: Callable[[str], None], fail: Callable[[str], None]) -> None:
    from conduit.framework.auth import configured_keys
    from conduit.framework.errors import ConfigurationError

    try:
        configured_keys(settings)
    except ConfigurationError as exc:
        fail(str(exc))
