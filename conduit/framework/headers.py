"""Security response headers (seed 000's four, plus Referrer-Policy and a CSP).

Headers a handler set itself are kept. The default Content-Security-Policy locks down
non-HTML responses (JSON, text), which no browser should render as a page; HTML pages
(the Swagger UI at ``/docs`` loads scripts from a CDN) get ``html_csp`` only if you set one.
"""

from __future__ import annotations

from typing import Any

from conduit.http.datastructures import prepare_headers
from conduit.http.middleware import PhasedMiddleware
from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse

__all__ = ["SecurityHeaders", "security_headers"]

API_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders(PhasedMiddleware):
    """Middleware adding security headers to every response (errors included)."""

    def __init__(
        self,
        *,
        hsts_max_age: int | None = 31536000,
        hsts_include_subdomains: bool = False,
        frame_options: str | None = "DENY",
        xss_protection: str | None = "1; mode=block",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        content_security_policy: str | None = API_CSP,
        html_csp: str | None = None,
    ) -> None:
        common: dict[str, str] = {"X-Content-Type-Options": "nosniff"}
        if frame_options:
            common["X-Frame-Options"] = frame_options
        if xss_protection:
            common["X-XSS-Protection"] = xss_protection
        if hsts_max_age is not None:
            common["Strict-Transport-Security"] = f"max-age={hsts_max_age}" + (
                "; includeSubDomains" if hsts_include_subdomains else ""
            )
        if referrer_policy:
            common["Referrer-Policy"] = referrer_policy
        self.headers = common
        self.content_security_policy = content_security_policy
        self.html_csp = html_csp
        # Checked once; each response gets a dict merge that keeps what the handler set.
        self._api = prepare_headers(
            {**common, "Content-Security-Policy": content_security_policy} if content_security_policy else common
        )
        self._html = prepare_headers({**common, "Content-Security-Policy": html_csp} if html_csp else common)

    def __repr__(self) -> str:
        return f"security_headers({', '.join(self.headers)})"

    def after(self, request: HTTPRequest, response: HTTPResponse, context: Any) -> None:
        h = response.headers
        html = "content-type" in h and h["content-type"].startswith("text/html")
        h.update_prepared(self._html if html else self._api, replace=False)


def security_headers(**options: Any) -> SecurityHeaders:
    """The seed's ``security_headers()``; ``options`` as :class:`SecurityHeaders`."""
    return SecurityHeaders(**options)
