"""Cross-origin resource sharing (the Fetch standard's CORS protocol).

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is
answered here, without reaching a handler: 204 with the allowed methods, headers and
``Access-Control-Max-Age`` when the origin, method and headers are all allowed, else 400
naming what was refused. Other requests from an allowed origin get
``Access-Control-Allow-Origin`` (and ``-Allow-Credentials`` / ``-Expose-Headers``), error
responses included. ``Vary: Origin`` is added whenever the answer depends on the origin,
so caches keep the variants apart; with any origin allowed and no credentials, every answer
carries ``Access-Control-Allow-Origin: *``, Origin or not, so it depends on none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conduit.framework.errors import BadRequestError
from conduit.http.datastructures import prepare_headers
from conduit.http.middleware import PhasedMiddleware
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse

__all__ = ["CORSPolicy", "enable_cors"]

_SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})


def _add_vary(response: HTTPResponse, *names: str) -> None:
    current = [v.strip() for v in response.headers.get("vary", "").split(",") if v.strip()]
    lowered = {v.lower() for v in current}
    if "*" in lowered:
        return
    current += [n for n in names if n.lower() not in lowered]
    response.headers["Vary"] = ", ".join(current)


class CORSPolicy(PhasedMiddleware):
    """CORS middleware (``enable_cors`` is this class); see the module docstring."""

    def __init__(
        self,
        allowed_origins: Iterable[str] = ("*",),
        allowed_methods: Iterable[str] = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"),
        allowed_headers: Iterable[str] = ("Content-Type", "Authorization"),
        *,
        expose_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        max_age: int = 600,
    ) -> None:
        origins = [o.rstrip("/") for o in allowed_origins]
        self.any_origin = "*" in origins
        self.origins = frozenset(origins) - {"*"}
        self.methods = [m.upper() for m in allowed_methods]
        self.any_header = "*" in allowed_headers
        self.headers = [h for h in allowed_headers if h != "*"]
        self._header_set = {h.lower() for h in self.headers} | _SAFELISTED_HEADERS
        self.expose_headers = ", ".join(expose_headers)
        self.allow_credentials = allow_credentials
        self.max_age = max_age
        # Any origin without credentials: the same fields on every answer, checked once here.
        public = {"Access-Control-Allow-Origin": "*"}
        if self.expose_headers:
            public["Access-Control-Expose-Headers"] = self.expose_headers
        self._public = prepare_headers(public) if self.any_origin and not allow_credentials else None

    def __repr__(self) -> str:
        return f"enable_cors(origins={'*' if self.any_origin else sorted(self.origins)})"

    def origin_allowed(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/") in self.origins

    def _allow_origin_value(self, origin: str) -> str:
        # With credentials the Fetch standard forbids "*": echo the (allowed) origin instead.
        return "*" if self.any_origin and not self.allow_credentials else origin

    def _preflight(self, request: HTTPRequest, origin: str) -> HTTPResponse:
        method = request.headers.get("access-control-request-method", "").upper()
        requested = [
            h.strip() for h in request.headers.get("access-control-request-headers", "").split(",") if h.strip()
        ]
        problems = []
        if not self.origin_allowed(origin):
            problems.append("origin")
        if method not in self.methods:
            problems.append("method")
        if not self.any_header and any(h.lower() not in self._header_set for h in requested):
            problems.append("headers")
        if problems:
            raise BadRequestError(
                "CORS preflight refused",
                f"this server does not allow the requested {', '.join(problems)}",
                code="cors_preflight_refused",
            )
        response = HTTPResponse(204)
        h = response.headers
        h["Access-Control-Allow-Origin"] = self._allow_origin_value(origin)
        h["Access-Control-Allow-Methods"] = ", ".join(self.methods)
        allow_headers = requested if self.any_header else self.headers
        if allow_headers:
            h["Access-Control-Allow-Headers"] = ", ".join(allow_headers)
        h["Access-Control-Max-Age"] = str(self.max_age)
        if self.allow_credentials:
            h["Access-Control-Allow-Credentials"] = "true"
        _add_vary(response, "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
        return response

    def before(self, request: HTTPRequest) -> Any:
        """Answer a preflight here; otherwise hand the request's ``Origin`` to :meth:`after`."""
        origin = request.headers.get("origin")
        if origin and request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            return self._preflight(request, origin)
        return origin

    def after(self, request: HTTPRequest, response: HTTPResponse, origin: Any) -> None:
        if self._public is not None:
            # Any origin, no credentials: the same headers with or without Origin, so that a
            # cache may hand one stored answer to every client (no Vary needed).
            response.headers.update_prepared(self._public)
            return
        if origin and self.origin_allowed(origin):
            h = response.headers
            h["Access-Control-Allow-Origin"] = self._allow_origin_value(origin)
            if self.allow_credentials:
                h["Access-Control-Allow-Credentials"] = "true"
            if self.expose_headers:
                h["Access-Control-Expose-Headers"] = self.expose_headers
        if not self.any_origin or self.allow_credentials:
            _add_vary(response, "Origin")


enable_cors = CORSPolicy
"""The seed's ``enable_cors``: ``app.use(enable_cors(["https://app.example.com"]))``.

``"*"`` in ``allowed_origins`` allows any origin (echoed back when ``allow_credentials``
is on, as the standard requires); ``"*"`` in ``allowed_headers`` allows whatever headers
a preflight asks for.
"""
