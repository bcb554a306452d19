"""security_headers: the seed's four, Referrer-Policy and a CSP that spares HTML pages."""

from __future__ import annotations

import anyio
import httpx

from conduit.app import Conduit
from conduit.framework.errors import BadRequestError
from conduit.framework.security import security_headers
from conduit.http.response import HTTPResponse
from conduit.testing import LiveServer, TestClient


def test_headers_on_json_html_and_error_responses() -> None:
    app = Conduit(plugins=[])
    app.use(security_headers())
    app.get("/data")(lambda request: {"a": 1})
    app.get("/page")(lambda request: HTTPResponse().html("<h1>hi</h1>"))

    @app.get("/own")
    def own(request):
        return HTTPResponse(headers={"X-Frame-Options": "SAMEORIGIN"}).json({})

    @app.get("/bad")
    def bad(request):
        raise BadRequestError("bad", "really")

    with TestClient(app) as client:
        data, page, own_r, bad_r = (client.get(p) for p in ("/data", "/page", "/own", "/bad"))
    for r in (data, page, bad_r):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-XSS-Protection"] == "1; mode=block"
        assert "Strict-Transport-Security" not in r.headers  # plain HTTP: see the HSTS tests below
        assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert data.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert bad_r.status_code == 400 and "Content-Security-Policy" in bad_r.headers
    assert "Content-Security-Policy" not in page.headers
    assert own_r.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_every_header_is_configurable() -> None:
    app = Conduit(plugins=[])
    app.use(security_headers(
        hsts_max_age=600, hsts_include_subdomains=True, frame_options=None, xss_protection=None,
        referrer_policy="no-referrer", html_csp="default-src 'self'", behind_tls=True,
    ))
    app.get("/page")(lambda request: HTTPResponse().html("<p>x</p>"))
    with TestClient(app) as client:
        r = client.get("/page")
    assert r.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"
    assert "X-Frame-Options" not in r.headers and "X-XSS-Protection" not in r.headers
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Content-Security-Policy"] == "default-src 'self'"


def _hsts_app(**options: object) -> Conduit:
    app = Conduit(plugins=[])
    app.use(security_headers(**options))
    app.get("/data")(lambda request: {"a": 1})
    app.get("/page")(lambda request: HTTPResponse().html("<h1>hi</h1>"))
    return app


def _over_https(app: Conduit, path: str) -> httpx.Response:
    """One request that reached the app over TLS: an ASGI server's scope says ``https``."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="https://example.test") as client:
            return await client.get(path)

    return anyio.run(get)


def test_hsts_goes_out_over_https_only_never_over_plain_http() -> None:
    """RFC 6797 7.2: an HSTS host must not send the header over a non-secure transport."""
    app = _hsts_app()
    with LiveServer(app) as server:
        plain = [httpx.get(server.url + path) for path in ("/data", "/page", "/missing")]
    for r in plain:
        assert "strict-transport-security" not in r.headers, r.url
        assert r.headers["x-content-type-options"] == "nosniff"  # the other headers still go out
    secure = [_over_https(_hsts_app(), path) for path in ("/data", "/page", "/missing")]
    for r in secure:
        assert r.headers["strict-transport-security"] == "max-age=31536000", r.url
    assert secure[2].status_code == 404


def test_hsts_behind_a_tls_terminating_proxy_is_sent_over_the_plain_hop() -> None:
    app = _hsts_app(behind_tls=True, hsts_max_age=600)
    with LiveServer(app) as server:
        r = httpx.get(server.url + "/data")
    assert r.headers["strict-transport-security"] == "max-age=600"
    assert "strict-transport-security" not in _over_https(_hsts_app(hsts_max_age=None), "/data").headers
