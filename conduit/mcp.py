"""``from conduit.mcp import MCPServer``: the seed's import path for the MCP server.

A thin facade: the implementation lives in the conduit-mcp plugin (``conduit_mcp``),
imported on first use. When the plugin is not installed, or is disabled in the
configuration (``disabled_plugins`` / ``CONDUIT_DISABLED_PLUGINS``, or left out of a
``plugins`` allow-list), the import fails with
:class:`~conduit.framework.errors.MissingPluginError` naming what to install.
"""

from __future__ import annotations

import importlib
from typing import Any

from conduit.framework.errors import MissingPluginError

__all__ = [
    "MCPServer",
    "Context",
    "Message",
    "MCPError",
    "mount_mcp",
    "Image",
    "Audio",
    "EmbeddedResource",
    "ResourceLink",
    "Completion",
    "SamplingResult",
    "ElicitResult",
]

_PLUGIN = "mcp"


def _plugin_module() -> Any:
    from conduit.plugins import is_enabled

    if not is_enabled(_PLUGIN):
        raise MissingPluginError("The MCP server", _PLUGIN)
    try:
        return importlib.import_module("conduit_mcp")
    except ModuleNotFoundError as exc:
        if exc.name != "conduit_mcp":
            raise
        raise MissingPluginError("The MCP server", _PLUGIN) from None


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'conduit.mcp' has no attribute {name!r}")
    value = getattr(_plugin_module(), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
