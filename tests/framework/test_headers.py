"""security_headers: the seed's four, Referrer-Policy and a CSP that spares HTML pages."""

from __future__ import annotations

from conduit.app import Conduit
from conduit.framework.errors import BadRequestError
from conduit.framework.security import security_headers
from conduit.http.response import HTTPResponse
from conduit.testing import TestClient


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
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert data.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert bad_r.status_code == 400 and "Content-Security-Policy" in bad_r.headers
    assert "Content-Security-Policy" not in page.headers
    assert own_r.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_every_header_is_configurable() -> None:
    app = Conduit(plugins=[])
    app.use(security_headers(
        hsts_max_age=600, hsts_include_subdomains=True, frame_options=None, xss_protection=None,
        referrer_policy="no-referrer", html_csp="default-src 'self'",
    ))
    app.get("/page")(lambda request: HTTPResponse().html("<p>x</p>"))
    with TestClient(app) as client:
        r = client.get("/page")
    assert r.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"
    assert "X-Frame-Options" not in r.headers and "X-XSS-Protection" not in r.headers
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Content-Security-Policy"] == "default-src 'self'"
