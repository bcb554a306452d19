"""Security response headers (seed 000's four, plus Referrer-Policy and a CSP).

Headers a handler set itself are kept. The default Content-Security-Policy locks down
non-HTML responses (JSON, text), which no browser should render as a page; HTML pages
(the Swagger UI at ``/docs`` loads scripts from a CDN) get ``html_csp`` only if you set one.

``Strict-Transport-Security`` goes out only on responses to requests that came over TLS
(``request.scheme == "https"``: an ASGI server serving TLS, or one that trusts a proxy's
``X-Forwarded-Proto``), as RFC 6797 section 7.2 requires. Behind a proxy that terminates TLS
and forwards plain HTTP to Conduit's own server, every request reads ``http``: pass
``behind_tls=True`` to send it anyway (only when clients cannot reach the app but through TLS).
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
        behind_tls: bool = False,
    ) -> None:
        common: dict[str, str] = {"X-Content-Type-Options": "nosniff"}
        if frame_options:
            common["X-Frame-Options"] = frame_options
        if xss_protection:
            common["X-XSS-Protection"] = xss_protection
        if referrer_policy:
            common["Referrer-Policy"] = referrer_policy
        hsts: dict[str, str] = {}
        if hsts_max_age is not None:
            hsts["Strict-Transport-Security"] = f"max-age={hsts_max_age}" + (
                "; includeSubDomains" if hsts_include_subdomains else ""
            )
        self.headers = {**common, **hsts}  # every header it may send
        self.content_security_policy = content_security_policy
        self.html_csp = html_csp
        self.behind_tls = behind_tls
        api = {**common, "Content-Security-Policy": content_security_policy} if content_security_policy else common
        html = {**common, "Content-Security-Policy": html_csp} if html_csp else common
        # Checked once; each response gets a dict merge that keeps what the handler set.
        # (api, html) for plain HTTP, then the same with HSTS for TLS.
        self._plain = (prepare_headers(api), prepare_headers(html))
        self._tls = (prepare_headers({**api, **hsts}), prepare_headers({**html, **hsts}))

    def __repr__(self) -> str:
        return f"security_headers({', '.join(self.headers)})"

    def after(self, request: HTTPRequest, response: HTTPResponse, context: Any) -> None:
        h = response.headers
        content_type = h.get("content-type")
        html = content_type is not None and content_type.startswith("text/html")
        api_headers, html_headers = self._tls if self.behind_tls or request.scheme == "https" else self._plain
        h.update_prepared(html_headers if html else api_headers, replace=False)


def security_headers(**options: Any) -> SecurityHeaders:
    """The seed's ``security_headers()``; ``options`` as :class:`SecurityHeaders`."""
    return SecurityHeaders(**options)
