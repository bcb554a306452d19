"""enable_cors: the preflight matrix and headers on actual responses, errors included."""

from __future__ import annotations

import pytest

from conduit.app import Conduit
from conduit.framework.errors import NotFoundError
from conduit.framework.security import enable_cors
from conduit.testing import TestClient

ORIGIN = "https://app.example.com"


def make_app(**options) -> Conduit:
    app = Conduit(plugins=[])
    app.use(enable_cors(**options))

    @app.route("/items", methods=["GET", "POST", "DELETE"])
    def items(request):
        if request.method == "DELETE":
            raise NotFoundError("gone", "no such item")
        return {"items": []}

    return app


def preflight(client, method: str = "POST", origin: str = ORIGIN, headers: str | None = "Content-Type"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return client.options("/items", headers=h)


@pytest.mark.parametrize(
    ("origin", "method", "headers", "allowed"),
    [
        (ORIGIN, "POST", "Content-Type", True),
        (ORIGIN, "DELETE", "content-type, authorization", True),
        (ORIGIN + "/", "GET", None, True),
        ("https://evil.example", "POST", "Content-Type", False),
        (ORIGIN, "PATCH", "Content-Type", False),
        (ORIGIN, "POST", "X-Custom", False),
        ("null", "GET", None, False),
    ],
)
def test_preflight_matrix(origin: str, method: str, headers: str | None, allowed: bool) -> None:
    app = make_app(allowed_origins=[ORIGIN], allowed_methods=["GET", "POST", "DELETE"], max_age=3600)
    with TestClient(app) as client:
        r = preflight(client, method, origin, headers)
    if allowed:
        assert r.status_code == 204
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Methods"] == "GET, POST, DELETE"
        assert r.headers["Access-Control-Allow-Headers"] == "Content-Type, Authorization"
        assert r.headers["Access-Control-Max-Age"] == "3600"
        assert "Origin" in r.headers["Vary"] and "Access-Control-Request-Headers" in r.headers["Vary"]
        assert "Access-Control-Allow-Credentials" not in r.headers
    else:
        assert r.status_code == 400
        assert "Access-Control-Allow-Origin" not in r.headers
        assert r.json()["code"] == "cors_preflight_refused"


def test_wildcard_origin_without_credentials_answers_star_and_mirrors_with_credentials() -> None:
    with TestClient(make_app(expose_headers=["X-Request-ID"])) as client:
        star = client.get("/items", headers={"Origin": ORIGIN})
        no_origin = client.get("/items")  # what a shared cache may store and hand to a CORS request
    assert star.headers["Access-Control-Allow-Origin"] == no_origin.headers["Access-Control-Allow-Origin"] == "*"
    assert no_origin.headers["Access-Control-Expose-Headers"] == "X-Request-ID"
    assert "Vary" not in star.headers and "Vary" not in no_origin.headers
    with TestClient(make_app(allow_credentials=True, allowed_headers=["*"])) as client:
        mirrored = client.get("/items", headers={"Origin": ORIGIN})
        pre = preflight(client, headers="X-Anything, X-Else")
    assert mirrored.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert mirrored.headers["Access-Control-Allow-Credentials"] == "true"
    assert mirrored.headers["Vary"] == "Origin"
    assert pre.headers["Access-Control-Allow-Headers"] == "X-Anything, X-Else"


def test_actual_requests_and_error_responses_carry_cors_headers() -> None:
    app = make_app(allowed_origins=[ORIGIN], expose_headers=["X-Request-ID"])
    with TestClient(app) as client:
        ok = client.get("/items", headers={"Origin": ORIGIN})
        error = client.delete("/items", headers={"Origin": ORIGIN})
        stranger = client.get("/items", headers={"Origin": "https://evil.example"})
        no_origin = client.get("/items")
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert ok.headers["Access-Control-Expose-Headers"] == "X-Request-ID"
    assert error.status_code == 404 and error.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert stranger.status_code == 200 and "Access-Control-Allow-Origin" not in stranger.headers
    assert stranger.headers["Vary"] == no_origin.headers["Vary"] == "Origin"
