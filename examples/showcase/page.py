"""The landing page at ``/``: plain HTML, one script and one stylesheet, all served by the app.

The page itself is public; the API is not. Its script sends the key the user pastes (kept
in the tab's ``sessionStorage``), or the one in the URL fragment printed at start-up
(``/#key=...``: a fragment never leaves the browser, so the key is not in any server log).
Without a key, or with one the API refuses, the page asks for it and says where the server
printed it, rather than showing the API's 401 answers.
Nothing is loaded from another origin, and the page's own Content-Security-Policy says so.
"""

from __future__ import annotations

from pathlib import Path

from conduit import HTTPRequest, HTTPResponse

__all__ = ["CSP", "add_routes"]

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _file(name: str) -> HTTPResponse:
    path = STATIC / name
    response = HTTPResponse(200)
    response.headers["Content-Type"] = _TYPES[path.suffix]
    response.headers["Cache-Control"] = "no-cache"
    if path.suffix == ".html":
        response.headers["Content-Security-Policy"] = CSP
    response.body = path.read_bytes()
    return response


def add_routes(app: object) -> None:
    """``GET /``, ``/static/showcase.js`` and ``/static/showcase.css`` (left out of the OpenAPI document)."""

    async def index(request: HTTPRequest) -> HTTPResponse:
        return _file("index.html")

    async def script(request: HTTPRequest) -> HTTPResponse:
        return _file("showcase.js")

    async def style(request: HTTPRequest) -> HTTPResponse:
        return _file("showcase.css")

    app.add_route("/", index, ["GET"], include_in_schema=False)  # type: ignore[attr-defined]
    app.add_route("/static/showcase.js", script, ["GET"], include_in_schema=False)  # type: ignore[attr-defined]
    app.add_route("/static/showcase.css", style, ["GET"], include_in_schema=False)  # type: ignore[attr-defined]
