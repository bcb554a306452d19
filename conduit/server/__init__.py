"""The HTTP server: h11 protocol state, the asyncio transport, and the anyio runner."""

from conduit.server.runner import Server, bind_socket, serve_forever

__all__ = ["Server", "bind_socket", "serve_forever"]
