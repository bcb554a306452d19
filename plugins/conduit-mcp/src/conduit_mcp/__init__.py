"""conduit-mcp: a Model Context Protocol server for Conduit (tools, resources, prompts).

``from conduit.mcp import MCPServer`` reaches this package through the kernel's facade.
"""

from conduit_mcp.completions import Completion
from conduit_mcp.content import Audio, ContentBlock, EmbeddedResource, Image, ResourceLink
from conduit_mcp.context import Context, ElicitResult, SamplingResult
from conduit_mcp.errors import MCPError
from conduit_mcp.prompts import Message
from conduit_mcp.protocol import LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, ServerSession
from conduit_mcp.server import MCPServer

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "Audio",
    "Completion",
    "ContentBlock",
    "Context",
    "ElicitResult",
    "EmbeddedResource",
    "Image",
    "MCPError",
    "MCPServer",
    "Message",
    "ResourceLink",
    "SamplingResult",
    "ServerSession",
    "mount_mcp",
]


def __getattr__(name: str) -> object:
    # The HTTP transport needs the Conduit kernel; stdio servers never import it.
    if name == "mount_mcp":
        from conduit_mcp.http import mount_mcp

        return mount_mcp
    raise AttributeError(f"module 'conduit_mcp' has no attribute {name!r}")
