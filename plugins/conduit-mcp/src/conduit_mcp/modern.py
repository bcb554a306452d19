"""MCP revision 2026-07-28: no handshake, ``server/discover``, a version on every request.

A 2026-07-28 client sends no ``initialize``; each request carries its protocol version
and capabilities in ``params._meta`` (the "envelope"), and ``server/discover`` tells it
which revisions the server speaks. This module holds what differs from the handshake
revisions, so :mod:`conduit_mcp.protocol` can serve both eras side by side, choosing per
request:

- :func:`envelope_version` says whether a request is in the new era;
- :func:`check_envelope` validates the envelope (-32602 for a malformed one, -32022
  with ``{"supported", "requested"}`` for a revision not served);
- :func:`complete` adds the fields every 2026-07-28 result carries (``resultType``, and
  ``ttlMs``/``cacheScope`` on cacheable results);
- log messages are sent only to requests that opt in with a ``logLevel`` in ``_meta``.
"""

from __future__ import annotations

from typing import Any

from conduit_mcp.errors import INVALID_PARAMS, UNSUPPORTED_PROTOCOL_VERSION, MCPError

__all__ = [
    "CLIENT_CAPABILITIES_KEY",
    "LOG_LEVEL_KEY",
    "MODERN_PROTOCOL_VERSIONS",
    "PROTOCOL_VERSION_KEY",
    "SERVER_INFO_KEY",
    "check_envelope",
    "complete",
    "discover_result",
    "envelope_version",
]

MODERN_PROTOCOL_VERSIONS: tuple[str, ...] = ("2026-07-28",)
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
_CACHEABLE = frozenset(
    {"server/discover", "tools/list", "resources/list", "resources/templates/list", "resources/read", "prompts/list"}
)


def envelope_version(method: str, meta: Any, handshake_versions: tuple[str, ...]) -> str | None:
    """The requested revision when the request belongs to the 2026-07-28 era, else None.

    ``server/discover`` always does; so does any request whose ``_meta`` names a
    revision that is not a handshake one (an unknown one is rejected by
    :func:`check_envelope`, not silently served the old way).
    """
    version = meta.get(PROTOCOL_VERSION_KEY) if isinstance(meta, dict) else None
    if method == "server/discover":
        return version if isinstance(version, str) else MODERN_PROTOCOL_VERSIONS[-1]
    if version is None or version in handshake_versions:
        return None
    return version if isinstance(version, str) else repr(version)


def check_envelope(meta: Any, method: str) -> MCPError | None:
    """What is wrong with a 2026-07-28 request's ``_meta``, or None."""
    if not isinstance(meta, dict):
        return MCPError(INVALID_PARAMS, f"params._meta must be an object carrying {PROTOCOL_VERSION_KEY!r} and "
                        f"{CLIENT_CAPABILITIES_KEY!r}")
    missing = [key for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY) if key not in meta]
    if missing and method != "server/discover":
        return MCPError(INVALID_PARAMS, f"params._meta is missing the required envelope key(s): {', '.join(missing)}")
    version = meta.get(PROTOCOL_VERSION_KEY, MODERN_PROTOCOL_VERSIONS[-1])
    if not isinstance(version, str):
        return MCPError(INVALID_PARAMS, f"params._meta[{PROTOCOL_VERSION_KEY!r}] must be a string")
    if version not in MODERN_PROTOCOL_VERSIONS:
        return MCPError(
            UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            {"supported": list(MODERN_PROTOCOL_VERSIONS), "requested": version},
        )
    return None


def complete(method: str, result: dict[str, Any]) -> dict[str, Any]:
    """Add the 2026-07-28 result fields (results are built fresh per request)."""
    result["resultType"] = "complete"
    if method in _CACHEABLE:
        result.setdefault("ttlMs", 0)
        result.setdefault("cacheScope", "private")
    return result


def discover_result(
    capabilities: dict[str, Any],
    server_info: dict[str, Any],
    handshake_versions: tuple[str, ...],
    instructions: str | None,
) -> dict[str, Any]:
    """The ``server/discover`` answer: every revision served, newest first."""
    result: dict[str, Any] = {
        "supportedVersions": [*MODERN_PROTOCOL_VERSIONS, *handshake_versions],
        "capabilities": capabilities,
        "_meta": {SERVER_INFO_KEY: server_info},
    }
    if instructions:
        result["instructions"] = instructions
    return result
