"""``from conduit.mcp import MCPServer``: the seed's import path for the MCP server.

A thin facade: the implementation lives in the conduit-mcp plugin, which offers it
through the ``conduit_register_apis`` hook (name ``"mcp"``); the kernel imports no plugin.
It is there once the plugin is installed (an app need not enable it: creating a server in
code is asking for the capability). When the plugin is not installed, or is disabled
(``disabled_plugins`` / ``CONDUIT_DISABLED_PLUGINS``), the import fails with
:class:`~conduit.framework.errors.MissingPluginError` naming what to install.
"""

from __future__ import annotations

from typing import Any

from conduit.plugins import plugin_api

__all__ = [
    "Audio",
    "Completion",
    "Context",
    "ElicitResult",
    "EmbeddedResource",
    "Image",
    "MCPError",
    "MCPServer",
    "Message",
    "ResourceLink",
    "SamplingResult",
    "mount_mcp",
]

def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'conduit.mcp' has no attribute {name!r}")
    return getattr(plugin_api("mcp", "The MCP server", "mcp"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
