"""HTTPRequest and HTTPResponse: every member of the seed's API and the additions."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from conduit import Conduit, HTTPRequest, HTTPResponse
from conduit.framework.errors import BadRequestError
from conduit.http.response import EventSourceResponse, StreamingResponse, format_sse
from conduit.testing import TestClient


def make(method="GET", path="/p", qs="", headers=(), body=b"") -> HTTPRequest:
    return HTTPRequest(method, path, qs, [(k.encode(), v.encode()) for k, v in headers], body=body)


def test_request_head_members() -> None:
    req = make("POST", "/users", "page=1&limit=10&tag=a&tag=b", [("content-type", "application/json"), ("x-a", "1"), ("x-a", "2")])
    assert req.method == "POST" and req.path == "/users"
    assert req.query_string == "page=1&limit=10&tag=a&tag=b"
    assert req.query.get("page") == "1" and req.query.get("missing", "d") == "d"
    assert "limit" in req.query and req.query["limit"] == "10"
    assert req.query.getlist("tag") == ["a", "b"]
    assert req.headers.get("Content-Type") == "application/json"
    assert req.get_header("CONTENT-TYPE") == "application/json"
    assert req.get_header("absent") == "" and req.get_header("absent", "x") == "x"
    assert req.headers.getlist("X-A") == ["1", "2"]


def test_cookies_and_state() -> None:
    req = make(headers=[("cookie", 'a=1; b="two words"; junk; c=3')])
    assert req.cookies == {"a": "1", "b": "two words", "c": "3"}
    req.state.user = "alice"
    assert req.state.user == "alice"
    with pytest.raises(AttributeError, match="set it first"):
        req.state.missing  # noqa: B018


def test_body_and_json_of_any_shape_in_sync_code() -> None:
    req = make(body=b'{"a": [1, {"b": null}], "n": 2.5}')
    assert req.body == '{"a": [1, {"b": null}], "n": 2.5}'
    assert req.content == b'{"a": [1, {"b": null}], "n": 2.5}'
    assert req.json() == {"a": [1, {"b": None}], "n": 2.5}
    assert req.parse_json() == {"a": [1, {"b": None}], "n": 2.5}
    assert make(body=b"[1,2]").json() == [1, 2]
    assert make(body=b"").parse_json() == {}


def test_invalid_json_is_a_400_naming_the_problem() -> None:
    with pytest.raises(BadRequestError) as info:
        make(body=b"{bad").json()
    assert info.value.status_code == 400 and "not valid JSON" in info.value.detail


@pytest.mark.anyio
async def test_json_and_read_are_awaitable_in_async_code() -> None:
    req = make(body=b'{"x": 1}')
    assert await req.json() == {"x": 1}
    assert await req.read() == b'{"x": 1}'


def test_response_seed_api_and_chaining() -> None:
    res = HTTPResponse()
    assert res.status_code == 200
    res.headers["Cache-Control"] = "no-cache"
    res.set_header("X-Request-ID", "12345")
    assert res.get_header("x-request-id") == "12345" and res.get_header("nope", "d") == "d"
    out = HTTPResponse(201).json({"name": "Alice", "age": 30, "tags": ["a"], "nested": {"ok": True}})
    assert out.status_code == 201 and out.get_header("Content-Type") == "application/json"
    assert out.body == b'{"name":"Alice","age":30,"tags":["a"],"nested":{"ok":true}}'
    res.body = '{"message": "Hello"}'
    assert res.body == b'{"message": "Hello"}'


def test_text_html_bytes_and_cookies() -> None:
    assert HTTPResponse().text("hé").headers["content-type"] == "text/plain; charset=utf-8"
    assert HTTPResponse().html("<b>x</b>").body == b"<b>x</b>"
    assert HTTPResponse().bytes(b"\x00\x01", "image/png").headers["Content-Type"] == "image/png"
    res = HTTPResponse().set_cookie("sid", "abc", httponly=True, max_age=60).set_cookie("theme", "dark")
    cookies = res.headers.getlist("set-cookie")
    assert len(cookies) == 2 and "sid=abc" in cookies[0] and "HttpOnly" in cookies[0] and "Max-Age=60" in cookies[0]


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        HTTPResponse().set_header("X-Bad", "a\r\nSet-Cookie: x=1")


def test_json_serialises_dataclasses() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    assert HTTPResponse().json([Point(1, 2)]).body == b'[{"x":1,"y":2}]'


def test_sse_framing() -> None:
    assert format_sse({"a": 1}, event="tick", id="7") == b'event: tick\nid: 7\ndata: {"a":1}\n\n'
    assert format_sse("line1\nline2") == b"data: line1\ndata: line2\n\n"


def _client() -> tuple[Conduit, TestClient]:
    app = Conduit()
    return app, TestClient(app)


def test_streaming_and_sse_responses_through_the_app() -> None:
    app = Conduit()

    @app.get("/gen")
    def gen(request):
        return StreamingResponse((f"{i}," for i in range(3)), media_type="text/plain")

    @app.get("/sse")
    async def sse(request):
        async def events():
            for i in range(2):
                yield {"data": {"i": i}, "event": "n"}

        return EventSourceResponse(events())

    with TestClient(app) as c:
        r = c.get("/gen")
        assert r.content == b"0,1,2," and r.chunks == [b"0,", b"1,", b"2,"]
        r = c.get("/sse")
        assert r.headers["content-type"] == "text/event-stream"
        assert r.text == 'event: n\ndata: {"i":0}\n\nevent: n\ndata: {"i":1}\n\n'


def test_a_5xx_detail_carrying_a_path_or_secret_is_redacted_for_the_client(caplog) -> None:
    """Seed 003 (VUL-003): InferenceError("failed", str(e)) must not hand the client a file
    path or a key; the server's log keeps the whole text."""
    from conduit.framework.errors import InferenceError

    app = Conduit(plugins=[])

    @app.post("/predict")
    def predict(request):
        raise InferenceError("failed", "boom at /srv/secret/model.onnx with api_key=sk-abcdefghijklmnopqrstuv")

    @app.get("/bad")
    def bad(request):
        raise BadRequestError("Bad input", "field /items/0 must be a number")

    with TestClient(app) as client:
        answer = client.post("/predict")
        kept_4xx = client.get("/bad")
    body = answer.json()
    assert answer.status_code == 500 and "/srv/secret" not in answer.text and "sk-abcdef" not in answer.text
    assert body["detail"].startswith("boom at <path>") and body["error"] == "failed"
    assert "/srv/secret/model.onnx" in caplog.text  # the operator still sees it
    assert kept_4xx.json()["detail"] == "field /items/0 must be a number"  # 4xx details are the app's words


def test_json_answers_carry_pydantic_fields_in_json_mode_and_bytes_as_text() -> None:
    """A pydantic model's URL and Decimal fields, and bytes, become JSON rather than a 500
    (conduit-mcp's tool results go through the same dumps)."""
    import decimal

    pydantic = pytest.importorskip("pydantic")
    from conduit.http.response import dumps

    class Item(pydantic.BaseModel):
        link: pydantic.HttpUrl
        price: decimal.Decimal

    body = dumps({"item": Item(link="https://example.com/a", price=decimal.Decimal("9.50")), "raw": b"caf\xc3\xa9"})
    assert orjson.loads(body) == {"item": {"link": "https://example.com/a", "price": "9.50"}, "raw": "café"}
