"""The same tool on the official MCP Python SDK's own server (``mcp.server.MCPServer``, formerly
FastMCP), run the SDK's way: ``server.run("streamable-http")`` (uvicorn, its defaults).

    python sdk_mcp_app.py PORT

``GET /`` (an SDK ``custom_route``) answers bench/http's readiness probe. The log level is
WARNING, as Conduit's is in the benchmark, so neither writes an access log line per request.
"""

import sys

from mcp.server import MCPServer
from starlette.responses import JSONResponse

server = MCPServer(name="bench", log_level="WARNING")


@server.tool()
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.custom_route("/", methods=["GET"])
async def hello(request):
    return JSONResponse({"message": "Hello, World!"})


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
