"""Hook implementations of the conduit-mcp plugin (entry point `conduit`: `mcp`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit import hookimpl

__all__ = ["conduit_register_apis", "conduit_register_commands"]


@hookimpl
def conduit_register_commands(register: Callable[..., Any]) -> None:
    """``conduit mcp stdio|http module:server``."""
    from conduit_mcp import cli

    register("mcp", cli.cmd_mcp, help="serve an MCPServer over stdio or Streamable HTTP", arguments=cli.ARGUMENTS)


@hookimpl
def conduit_register_apis(register: Callable[..., Any]) -> None:
    """``conduit.mcp`` and ``app.mount_mcp`` (the package is imported on first use)."""

    def load() -> Any:
        import conduit_mcp

        return conduit_mcp

    register("mcp", load)
