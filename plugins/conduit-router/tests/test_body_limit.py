"""Seed 001's request size limit on the router's /v1 routes: 10000 bytes by default, GET exempt,
``API_MAX_REQUEST_SIZE`` (or ``router_max_request_size``) sets it; a POST over it is 413 with
the size in the message, in OpenAI's error shape on /v1/chat/completions. Over the in-process
client and over a real socket (a chunked body, and a declared length whose body never comes)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import orjson
import pytest
from conduit_router.standin import StandIn

from conduit import Conduit
from conduit.testing import LiveServer, TestClient

_JSON = {"content-type": "application/json"}
_POSTS = ["/v1/route", "/v1/complete", "/v1/feedback", "/v1/chat/completions"]


@pytest.fixture(autouse=True)
def _no_size_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_MAX_REQUEST_SIZE", "CONDUIT_MAX_BODY_SIZE", "CONDUIT_ROUTER_MAX_REQUEST_SIZE"):
        monkeypatch.delenv(name, raising=False)


def _app(standin: StandIn, **settings: object) -> Conduit:
    app = Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url,
                  router_max_retries=0, router_history="none", **settings)

    @app.post("/upload")
    async def upload(request):  # noqa: ANN001, ANN202 - an app route beside the router's
        return {"bytes": len(await request.read())}

    return app


def _query(size: int) -> bytes:
    """A valid /v1/route body of exactly ``size`` bytes."""
    body = orjson.dumps({"text": "x" * (size - 11)})
    assert len(body) == size
    return body


def _chat(size: int) -> bytes:
    head = b'{"model":"auto","messages":[{"role":"user","content":"'
    body = head + b"y" * (size - len(head) - 4) + b'"}]}'
    assert len(body) == size and orjson.loads(body)
    return body


@pytest.fixture
def client(standin: StandIn) -> Iterator[TestClient]:
    standin.reset()
    with TestClient(_app(standin)) as c:
        yield c


def test_the_default_is_seed_001s_10000_bytes(client: TestClient) -> None:
    assert client.post("/v1/route", content=_query(10_000), headers=_JSON).status_code == 200
    r = client.post("/v1/route", content=_query(10_001), headers=_JSON)
    assert r.status_code == 413
    assert r.json() == {"error": "Payload Too Large", "detail": "the request body is 10001 bytes; the limit is "
                        "10000 bytes", "status": 413, "code": "body_too_large", "request_id": r.json()["request_id"]}


@pytest.mark.parametrize("path", ["/v1/route", "/v1/complete", "/v1/feedback"])
def test_every_post_route_of_the_service_refuses_an_oversized_body(client: TestClient, path: str) -> None:
    r = client.post(path, content=b"{" + b" " * 20_000 + b"}", headers=_JSON)
    assert r.status_code == 413, r.text
    assert "the request body is 20002 bytes; the limit is 10000 bytes" == r.json()["detail"]


def test_chat_completions_answers_413_in_openais_error_shape(client: TestClient) -> None:
    assert client.post("/v1/chat/completions", content=_chat(9_000), headers=_JSON).status_code == 200
    r = client.post("/v1/chat/completions", content=_chat(12_000), headers=_JSON)
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "body_too_large" and error["param"] is None
    assert error["message"].startswith("the request body is 12000 bytes; the limit is 10000 bytes; send a smaller body")
    assert "API_MAX_REQUEST_SIZE" in error["message"]


def test_get_is_exempt_and_other_routes_are_not_touched(client: TestClient) -> None:
    big = b"z" * 50_000
    assert client.request("GET", "/v1/stats", content=big).status_code == 200
    assert client.request("GET", "/v1/models", content=big).status_code == 200
    r = client.post("/upload", content=big)
    assert r.status_code == 200 and r.json() == {"bytes": 50_000}


def test_api_max_request_size_sets_the_limit(monkeypatch: pytest.MonkeyPatch, standin: StandIn) -> None:
    monkeypatch.setenv("API_MAX_REQUEST_SIZE", "2000")
    with TestClient(_app(standin)) as c:
        assert c.post("/v1/route", content=_query(2000), headers=_JSON).status_code == 200
        r = c.post("/v1/route", content=_query(2001), headers=_JSON)
        assert r.status_code == 413 and r.json()["detail"] == "the request body is 2001 bytes; the limit is 2000 bytes"
    monkeypatch.setenv("API_MAX_REQUEST_SIZE", "50000")  # above seed 001's default: larger bodies pass
    with TestClient(_app(standin)) as c:
        assert c.post("/v1/route", content=_query(40_000), headers=_JSON).status_code == 200


def test_a_bad_api_max_request_size_stops_the_app_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                                      standin: StandIn) -> None:
    from conduit.framework.errors import ConfigurationError

    monkeypatch.setenv("API_MAX_REQUEST_SIZE", "lots")
    with pytest.raises(ConfigurationError, match=r"\$API_MAX_REQUEST_SIZE"):
        _app(standin).prepare()


def test_router_max_request_size_wins_and_zero_turns_the_routers_own_limit_off(
        monkeypatch: pytest.MonkeyPatch, standin: StandIn) -> None:
    monkeypatch.setenv("API_MAX_REQUEST_SIZE", "20000")
    monkeypatch.setenv("CONDUIT_ROUTER_MAX_REQUEST_SIZE", "1000")
    with TestClient(_app(standin)) as c:
        assert c.post("/v1/route", content=_query(1001), headers=_JSON).status_code == 413
    monkeypatch.delenv("API_MAX_REQUEST_SIZE")
    with TestClient(_app(standin, router_max_request_size=0)) as c:
        assert c.post("/v1/route", content=_query(200_000), headers=_JSON).status_code == 200


def test_the_openapi_document_declares_the_413(standin: StandIn) -> None:
    app = _app(standin)
    app.enable_docs()
    with TestClient(app) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in _POSTS:
        assert "413" in paths[path]["post"]["responses"], path
    assert "413" not in paths["/v1/stats"]["get"]["responses"]


def _chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    yield b'{"text": "'
    sent = 10
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_refused_on_a_real_socket(standin: StandIn) -> None:
    standin.reset()
    with LiveServer(_app(standin)) as server, httpx.Client(base_url=server.url) as http:
        r = http.post("/v1/route", content=_chunks(30_000), headers=_JSON)
        assert r.status_code == 413 and r.json()["code"] == "body_too_large"
        assert "exceeds the limit of 10000 bytes" in r.json()["detail"]
        r = http.post("/v1/chat/completions", content=_chunks(30_000), headers=_JSON)
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "body_too_large" and r.json()["error"]["type"] == "invalid_request_error"
        assert "exceeds the limit of 10000 bytes" in r.json()["error"]["message"]
        r = http.post("/v1/route", content=_chunks(5_000), headers=_JSON)  # under it, chunked: served
        assert r.status_code == 200, r.text


def test_a_declared_length_over_the_limit_is_answered_before_the_body_is_sent(standin: StandIn) -> None:
    """The client sends only the head announcing 1 MB and waits: the 413 comes anyway."""
    standin.reset()
    with LiveServer(_app(standin)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000000\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert orjson.loads(body)["error"]["message"].startswith("the request body is 1000000 bytes; the limit is 10000")
