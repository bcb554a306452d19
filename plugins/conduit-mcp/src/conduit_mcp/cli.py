"""``conduit mcp stdio module:server`` (and ``conduit mcp http``): serve an MCPServer.

``module:attribute`` names an :class:`MCPServer` (or a function returning one); the
current directory is importable, as with ``conduit run``.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import sys
from typing import Any

from conduit.framework.errors import ConfigurationError
from conduit_mcp.server import MCPServer

__all__ = ["ARGUMENTS", "cmd_mcp", "load_server"]

ARGUMENTS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("transport",), {"choices": ["stdio", "http"], "help": "stdio, or Streamable HTTP on a Conduit app"}),
    (("server",), {"help": "the MCPServer to serve, as module:attribute (e.g. examples.mcp_server:server)"}),
    (("--host",), {"default": "127.0.0.1", "help": "http: interface to bind (default 127.0.0.1)"}),
    (("--port",), {"type": int, "default": 8000, "help": "http: port (default 8000)"}),
    (("--path",), {"default": "/mcp", "help": "http: the endpoint's path (default /mcp)"}),
]


def load_server(target: str) -> MCPServer:
    """Import ``module:attribute`` and return the MCPServer it names (or a factory's)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(f"server {target!r} must be written module:attribute, e.g. examples.mcp_server:server")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = pkgutil.resolve_name(target)
    except ModuleNotFoundError as exc:
        if not (exc.name and module_name.startswith(exc.name)):
            raise
        raise ConfigurationError(f"cannot import {module_name!r}; run conduit from the folder that holds it") from None
    except AttributeError:
        raise ConfigurationError(f"module {module_name!r} has no attribute {attr!r}") from None
    if callable(obj) and not isinstance(obj, MCPServer):
        obj = obj()
    if not isinstance(obj, MCPServer):
        raise ConfigurationError(f"{target} is a {type(obj).__name__}, not an MCPServer")
    return obj


def cmd_mcp(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    server = load_server(args.server)
    if args.transport == "stdio":
        server.run("stdio")
        return 0
    from conduit.app import Conduit
    from conduit_mcp.http import mount_mcp

    app = Conduit(host=args.host, port=args.port)
    mount_mcp(app, args.path, server)
    app.run(host=args.host, port=args.port)
    return 0
