"""Middleware: onion order, early answers, post-processors, errors keep outer headers."""

from __future__ import annotations

import re

from conduit import Conduit, HTTPResponse
from conduit.framework.errors import ForbiddenError, abort
from conduit.http.middleware import (
    cors_middleware,
    error_handler,
    logger_middleware,
    request_id_middleware,
    route_middleware,
    timing_middleware,
)
from conduit.testing import TestClient


def recorder(name: str, log: list[str]):
    async def mw(request, call_next):
        log.append(f"{name}:in")
        response = await call_next(request)
        log.append(f"{name}:out")
        response.headers[f"X-{name}"] = "1"
        return response

    return mw


def test_first_registered_is_outermost() -> None:
    log: list[str] = []
    app = Conduit()
    app.use(recorder("A", log))
    app.use(recorder("B", log))

    @app.get("/")
    async def h(r):
        log.append("handler")
        return {}

    with TestClient(app) as c:
        r = c.get("/")
    assert log == ["A:in", "B:in", "handler", "B:out", "A:out"]
    assert r.headers["x-a"] == r.headers["x-b"] == "1"


def test_middleware_may_answer_early() -> None:
    app = Conduit()

    async def gate(request, call_next):
        if request.get_header("x-key") != "ok":
            return HTTPResponse(401).json({"error": "no key"})
        return await call_next(request)

    app.use(gate)

    @app.get("/")
    async def h(r):
        return {"in": True}

    with TestClient(app) as c:
        assert c.get("/").status_code == 401
        assert c.get("/", headers={"X-Key": "ok"}).json() == {"in": True}


def test_seed_post_processing_objects_run_after_the_handler() -> None:
    class PoweredBy:
        def apply(self, request, response):
            response.set_header("X-Powered-By", "Conduit")

    app = Conduit()
    app.use(PoweredBy())

    @app.get("/")
    def h(r):
        return {}

    with TestClient(app) as c:
        assert c.get("/").headers["x-powered-by"] == "Conduit"


def test_errors_from_handlers_and_inner_middleware_keep_outer_headers() -> None:
    app = Conduit()
    app.use(cors_middleware(origin="https://example.com"))
    app.use(request_id_middleware())

    async def deny(request, call_next):
        if request.path == "/denied":
            raise ForbiddenError("Forbidden", "you may not")
        return await call_next(request)

    app.use(deny)

    @app.get("/boom")
    def boom(r):
        raise RuntimeError("/secret/path/to/file.py leaked?")

    @app.get("/abort")
    def ab(r):
        abort(409, "Conflict here", "the thing exists")

    with TestClient(app) as c:
        for path, status in [("/boom", 500), ("/denied", 403), ("/abort", 409), ("/missing", 404)]:
            r = c.get(path)
            assert r.status_code == status
            assert r.headers["access-control-allow-origin"] == "https://example.com"
            body = r.json()
            assert body["status"] == status and body["request_id"] == r.headers["x-request-id"]
        boom_body = c.get("/boom").text
        assert "secret" not in boom_body and "Traceback" not in boom_body and "RuntimeError" not in boom_body


def _detail_of_a_500(*middleware) -> str:
    app = Conduit()
    for mw in middleware:
        app.use(mw)

    @app.get("/boom")
    def boom(r):
        raise ValueError("secret detail")

    with TestClient(app) as c:
        return c.get("/boom").json()["detail"]


def test_error_handler_expose_type_prefixes_the_exception_class_to_the_detail() -> None:
    assert _detail_of_a_500(error_handler(expose_type=True)) == "ValueError: " + _detail_of_a_500(error_handler())


def test_outer_middleware_sees_the_exception_behind_a_500_for_telemetry() -> None:
    seen: list[BaseException | None] = []

    async def observe(request, call_next):
        response = await call_next(request)
        seen.append(request.exception)
        return response

    app = Conduit()
    app.use(observe)

    @app.get("/boom")
    def boom(r):
        raise KeyError("x")

    with TestClient(app) as c:
        c.get("/boom")
    assert [type(exc) for exc in seen] == [KeyError]


def test_unexpected_error_is_logged_once_with_the_request_id(caplog) -> None:
    app = Conduit()

    @app.get("/boom")
    def boom(r):
        raise ValueError("kaput")

    with TestClient(app) as c:
        rid = c.get("/boom").json()["request_id"]
    records = [rec for rec in caplog.records if rec.name == "conduit.errors"]
    assert len(records) == 1 and rid in records[0].getMessage() and records[0].exc_info


def test_timing_middleware_reports_real_elapsed_time() -> None:
    import time

    app = Conduit()
    app.use(timing_middleware())

    @app.get("/")
    def h(r):
        time.sleep(0.05)
        return {}

    with TestClient(app) as c:
        value = c.get("/").headers["x-response-time"]
    assert re.fullmatch(r"\d+\.\d\dms", value) and float(value[:-2]) >= 50.0


def test_logger_middleware_logs_request_and_status(caplog) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="conduit.access")
    app = Conduit()
    app.use(logger_middleware(prefix="[API]"))

    @app.post("/users")
    def h(r):
        return HTTPResponse(201).json({})

    with TestClient(app) as c:
        c.post("/users")
    assert [r.getMessage() for r in caplog.records if r.name == "conduit.access"] == ["[API] POST /users", "[API] -> 201"]


def test_route_middleware_wraps_only_its_route() -> None:
    log: list[str] = []
    app = Conduit()

    @app.get("/guarded")
    @route_middleware(recorder("R", log))
    def guarded(r):
        return {}

    @app.get("/open")
    def open_(r):
        return {}

    with TestClient(app) as c:
        assert c.get("/guarded").headers.get("x-r") == "1"
        assert c.get("/open").headers.get("x-r") is None
    assert log == ["R:in", "R:out"]


def test_head_and_options_are_answered() -> None:
    app = Conduit()

    @app.get("/thing")
    def thing(r):
        return {"big": "x" * 100}

    with TestClient(app) as c:
        head = c.head("/thing")
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(b'{"big":"' + b"x" * 100 + b'"}'))
        opt = c.options("/thing")
        assert opt.status_code == 204 and opt.headers["allow"] == "GET, HEAD, OPTIONS"
        r = c.post("/thing")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"
