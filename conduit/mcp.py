"""``from conduit.mcp import MCPServer``: the seed's import path for the MCP server.

A thin facade: the implementation lives in the conduit-mcp plugin, which offers it
through the ``conduit_register_apis`` hook (name ``"mcp"``); the kernel imports no plugin.
The facade hands out the names the plugin's package lists in its ``__all__``, looked up on
first use. They are there once the plugin is installed (an app need not enable it: creating
a server in code is asking for the capability). When the plugin is not installed, or is
disabled (``disabled_plugins`` / ``CONDUIT_DISABLED_PLUGINS``), the import fails with
:class:`~conduit.framework.errors.MissingPluginError` naming what to install.
"""

from __future__ import annotations

from typing import Any

from conduit._facades import plugin_facade
from conduit.plugins import plugin_api


def _api() -> Any:
    return plugin_api("mcp", "The MCP server", "mcp")


__getattr__, __dir__ = plugin_facade(__name__, _api)
