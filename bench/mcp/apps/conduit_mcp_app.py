"""The benchmark's tool on Conduit: conduit-mcp's MCPServer mounted at /mcp (Streamable HTTP).

Served by ``conduit run conduit_mcp_app:app`` (bench/mcp/toolcall.py sets CONDUIT_PLUGINS=mcp).
``GET /`` answers bench/http's readiness probe.
"""

from conduit import Conduit
from conduit.mcp import MCPServer

server = MCPServer(name="bench", version="1.0.0")


@server.tool()
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


app = Conduit(plugins=[])
app.mount_mcp("/mcp", server)


@app.get("/")
async def hello(request):
    return {"message": "Hello, World!"}
