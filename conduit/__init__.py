"""Conduit: a small HTTP kernel (h11 + anyio) with pluggy hooks for ML and LLM serving.

    from conduit import Conduit

    app = Conduit()

    @app.get("/hello/{name}")
    async def hello(request, name: str):
        return {"hello": name}

    app.run()
"""

from conduit.app import Conduit
from conduit.framework.errors import HTTPError, abort
from conduit.hookspecs import hookimpl
from conduit.http.request import HTTPRequest
from conduit.http.response import EventSourceResponse, HTTPResponse, StreamingResponse
from conduit.http.routing import Router

__all__ = [
    "Conduit",
    "EventSourceResponse",
    "HTTPError",
    "HTTPRequest",
    "HTTPResponse",
    "Router",
    "StreamingResponse",
    "abort",
    "hookimpl",
]
__version__ = "0.1.0"
