"""The stable HTTP semantic conventions, as Conduit requests and responses map onto them.

Names come from ``opentelemetry-semantic-conventions`` (the stable ``attributes``
modules); this module only knows how a :class:`conduit.HTTPRequest` fills them in:
the span name (``GET /users/{id}``), the route template, the method normalised to the
known set (``_OTHER`` otherwise), ``server.address``/``server.port`` from ``Host``.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.semconv.attributes.client_attributes import CLIENT_ADDRESS
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.semconv.attributes.network_attributes import NETWORK_PROTOCOL_VERSION
from opentelemetry.semconv.attributes.server_attributes import (
    SERVER_ADDRESS,
    SERVER_PORT,
)
from opentelemetry.semconv.attributes.url_attributes import (
    URL_PATH,
    URL_QUERY,
    URL_SCHEME,
)
from opentelemetry.semconv.attributes.user_agent_attributes import USER_AGENT_ORIGINAL

__all__ = [
    "CLIENT_ADDRESS",
    "DURATION_BUCKETS",
    "ERROR_TYPE",
    "HTTP_REQUEST_METHOD",
    "HTTP_REQUEST_METHOD_ORIGINAL",
    "HTTP_RESPONSE_STATUS_CODE",
    "HTTP_ROUTE",
    "KNOWN_METHODS",
    "NETWORK_PROTOCOL_VERSION",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "URL_PATH",
    "URL_QUERY",
    "URL_SCHEME",
    "USER_AGENT_ORIGINAL",
    "method_attributes",
    "route_template",
    "server_address",
    "span_name",
]

# http.server.request.duration's advised explicit bucket boundaries (seconds).
DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)

KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"})

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}|(?<=/):([A-Za-z_][A-Za-z0-9_]*)")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_templates: dict[str, str] = {}


def route_template(pattern: str) -> str:
    """``/users/{id:int}`` and ``/users/:id`` both become ``/users/{id}`` (cached)."""
    template = _templates.get(pattern)
    if template is None:
        template = _PARAM.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", pattern)
        if len(_templates) < 10_000:  # patterns are bounded by the app's routes; stay bounded anyway
            _templates[pattern] = template
    return template


def method_attributes(method: str) -> tuple[str, dict[str, Any]]:
    """The ``http.request.method`` value and any extra attribute for an unknown method."""
    if method in KNOWN_METHODS:
        return method, {}
    upper = method.upper()
    if upper in KNOWN_METHODS:
        return upper, {HTTP_REQUEST_METHOD_ORIGINAL: method}
    return "_OTHER", {HTTP_REQUEST_METHOD_ORIGINAL: method}


def span_name(method: str, template: str | None) -> str:
    """``METHOD /route/template``; ``METHOD`` alone without a route; ``HTTP`` for ``_OTHER``."""
    if method == "_OTHER":
        method = "HTTP"
    return f"{method} {template}" if template else method


def server_address(host_header: str, scheme: str) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` from a ``Host`` header (IPv6 literals allowed)."""
    if not host_header:
        return None, None
    host, port = host_header, ""
    if host.startswith("["):
        end = host.find("]")
        if end != -1:
            host, port = host[1:end], host[end + 2 :] if host[end + 1 : end + 2] == ":" else ""
    elif host.count(":") == 1:
        host, port = host.split(":", 1)
    if port.isdigit():
        return host, int(port)
    return host, _DEFAULT_PORTS.get(scheme)
