"""Security response headers (seed 000's four, plus Referrer-Policy and a CSP).

Headers a handler set itself are kept. The default Content-Security-Policy locks down
non-HTML responses (JSON, text), which no browser should render as a page; HTML pages
(the Swagger UI at ``/docs`` loads scripts from a CDN) get ``html_csp`` only if you set one.
"""

from __future__ import annotations

from typing import Any

from conduit.http.request import HTTPRequest
from conduit.http.response import HTTPResponse

__all__ = ["SecurityHeaders", "security_headers"]

API_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders:
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

    def __repr__(self) -> str:
        return f"security_headers({', '.join(self.headers)})"

    async def __call__(self, request: HTTPRequest, call_next: Any) -> HTTPResponse:
        response = await call_next(request)
        h = response.headers
        # `in` then set: MutableMapping.setdefault would raise and catch a KeyError per header.
        for name, value in self.headers.items():
            if name not in h:
                h[name] = value
        content_type = h["content-type"] if "content-type" in h else ""
        csp = self.html_csp if content_type.startswith("text/html") else self.content_security_policy
        if csp and "content-security-policy" not in h:
            h["Content-Security-Policy"] = csp
        return response


def security_headers(**options: Any) -> SecurityHeaders:
    """The seed's ``security_headers()``; ``options`` as :class:`SecurityHeaders`."""
    return SecurityHeaders(**options)
