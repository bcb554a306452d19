"""JSON-RPC and MCP error codes, and the exception that carries one to the client.

Raise :class:`MCPError` from a resource or prompt function (or anything the server
calls) to answer the request with that JSON-RPC error instead of a generic -32603.
A tool that raises any exception gives a ``CallToolResult`` with ``isError`` instead;
that is how MCP lets the model see and correct a failed call.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CONNECTION_CLOSED",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "REQUEST_TIMEOUT",
    "RESOURCE_NOT_FOUND",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "MCPError",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RESOURCE_NOT_FOUND = -32002
"""MCP 2025-11-25: resources/read for a URI the server does not serve."""
CONNECTION_CLOSED = -32000
"""The session ended while the server waited for the client's answer (as the SDKs number it)."""
REQUEST_TIMEOUT = -32001
"""The client did not answer a server-to-client request in time."""
UNSUPPORTED_PROTOCOL_VERSION = -32022
"""MCP 2026-07-28: the request's protocol version is not served."""


class MCPError(Exception):
    """An error answered to the client as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error

    def __repr__(self) -> str:
        return f"MCPError({self.code}, {self.message!r})"
