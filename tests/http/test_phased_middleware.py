"""Phased middleware (before/after) fused by build_chain behaves exactly as the onion."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from conduit import Conduit, HTTPResponse
from conduit.framework.errors import ForbiddenError
from conduit.http.datastructures import MutableHeaders, prepare_headers
from conduit.http.middleware import PhasedMiddleware, build_chain
from conduit.testing import TestClient


class Step(PhasedMiddleware):
    """Logs its phases; may answer early, or raise in either phase, as told."""

    def __init__(self, name: str, log: list[str], *, answer: bool = False, fail_before: bool = False,
                 fail_after: bool = False, is_async: bool = False) -> None:
        self.name, self.log = name, log
        self.answer, self.fail_before, self.fail_after = answer, fail_before, fail_after
        if is_async:
            self.before = self._async_before  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"step {self.name}"

    def _before(self, request: Any) -> Any:
        self.log.append(f"{self.name}:in")
        if self.fail_before:
            raise ForbiddenError("refused", f"by {self.name}")
        if self.answer:
            return HTTPResponse(202).json({"answered_by": self.name})
        return f"ctx-{self.name}"

    def before(self, request: Any) -> Any:
        return self._before(request)

    async def _async_before(self, request: Any) -> Any:
        return self._before(request)

    def after(self, request: Any, response: HTTPResponse, context: Any) -> None:
        assert context == f"ctx-{self.name}"
        self.log.append(f"{self.name}:out:{response.status_code}")
        response.headers[f"X-{self.name}"] = "1"
        if self.fail_after:
            raise ForbiddenError("refused on the way out", f"by {self.name}")


class Onion:
    """The same middleware run as plain (request, call_next) middleware: never fused."""

    def __init__(self, step: Step) -> None:
        self.step = step

    async def __call__(self, request: Any, call_next: Any) -> HTTPResponse:
        return await PhasedMiddleware.__call__(self.step, request, call_next)


def serve(fused: bool, config: dict[str, Any], handler_fails: bool) -> tuple[list[str], int, dict[str, str]]:
    log: list[str] = []
    app = Conduit(plugins=[], monitoring=False)
    for name in "ABC":
        step = Step(name, log, **config.get(name, {}))
        app.use(step if fused else Onion(step))

    @app.get("/")
    async def handler(request: Any) -> dict[str, bool]:
        log.append("handler")
        if handler_fails:
            raise RuntimeError("boom")
        return {"ok": True}

    with TestClient(app) as client:
        response = client.get("/")
    return log, response.status_code, {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-")}


SCENARIOS = [{}] + [
    {name: {flag: True}} for name, flag in itertools.product("ABC", ["answer", "fail_before", "fail_after"])
] + [{"B": {"is_async": True}}, {"A": {"is_async": True, "fail_after": True}, "C": {"answer": True}}]


@pytest.mark.parametrize("handler_fails", [False, True])
@pytest.mark.parametrize("config", SCENARIOS, ids=repr)
def test_fused_phases_match_the_onion(config: dict[str, Any], handler_fails: bool) -> None:
    assert serve(True, config, handler_fails) == serve(False, config, handler_fails)


def test_fused_run_orders_phases_and_passes_contexts() -> None:
    log, status, headers = serve(True, {}, False)
    assert log == ["A:in", "B:in", "C:in", "handler", "C:out:200", "B:out:200", "A:out:200"]
    assert status == 200 and headers == {"x-a": "1", "x-b": "1", "x-c": "1"}


def test_early_answer_skips_inner_layers_and_its_own_after() -> None:
    log, status, headers = serve(True, {"B": {"answer": True}}, False)
    assert log == ["A:in", "B:in", "A:out:202"]
    assert status == 202 and headers == {"x-a": "1"}


def test_error_in_after_is_rendered_and_seen_by_outer_layers() -> None:
    log, status, headers = serve(True, {"C": {"fail_after": True}}, False)
    assert log[-2:] == ["B:out:403", "A:out:403"]
    assert status == 403 and set(headers) == {"x-a", "x-b"}  # C's header left with its response


def test_phased_and_onion_middleware_mix_in_order() -> None:
    log: list[str] = []
    app = Conduit(plugins=[], monitoring=False)
    app.use(Step("A", log))

    async def plain(request: Any, call_next: Any) -> HTTPResponse:
        log.append("plain:in")
        response = await call_next(request)
        log.append("plain:out")
        return response

    app.use(plain)
    app.use(Step("B", log))
    app.use(Step("C", log))

    @app.get("/")
    async def handler(request: Any) -> dict[str, bool]:
        log.append("handler")
        return {"ok": True}

    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    assert log == ["A:in", "plain:in", "B:in", "C:in", "handler", "C:out:200", "B:out:200", "plain:out", "A:out:200"]


def test_neighbouring_phased_middleware_become_one_layer() -> None:
    log: list[str] = []

    async def endpoint(request: Any) -> HTTPResponse:
        return HTTPResponse(200)

    chain = build_chain([Step("A", log), Step("B", log), Step("C", log)], endpoint)
    assert chain.__qualname__ == "fused[step A, step B, step C]"


def test_route_middleware_fuses_too() -> None:
    log: list[str] = []
    app = Conduit(plugins=[], monitoring=False)
    from conduit.http.middleware import route_middleware

    @app.get("/")
    @route_middleware(Step("A", log), Step("B", log))
    async def handler(request: Any) -> dict[str, bool]:
        log.append("handler")
        return {"ok": True}

    with TestClient(app) as client:
        assert client.get("/").headers["x-b"] == "1"
    assert log == ["A:in", "B:in", "handler", "B:out:200", "A:out:200"]


def test_prepared_headers_merge_as_setitem_and_setdefault_would() -> None:
    prepared = prepare_headers({"X-One": "1", "X-Two": 2})
    assert prepared == {"x-one": ("X-One", "1"), "x-two": ("X-Two", "2")}
    headers = MutableHeaders({"x-two": "mine"})
    headers.add("X-Two", "again")
    headers.update_prepared(prepared, replace=False)
    assert headers.raw_items() == [("x-two", "mine"), ("X-One", "1"), ("X-Two", "again")]
    headers.update_prepared(prepared)
    assert headers.getlist("x-two") == ["2"] and headers["x-one"] == "1"


def test_prepare_headers_refuses_line_breaks() -> None:
    with pytest.raises(ValueError, match="line break"):
        prepare_headers({"X-Evil": "a\r\nSet-Cookie: x=1"})


@pytest.mark.parametrize("inner_timeout", [None, 5.0])
def test_a_timeout_inside_a_fused_run_answers_504_to_the_outer_layers(inner_timeout: float | None) -> None:
    """request_timeout is phased: its `cancelled` phase turns its own deadline into the 504;
    a second, longer timeout inside it lets that cancellation through to the outer one."""
    import anyio

    from conduit.framework.edge_cases import request_timeout

    log: list[str] = []
    app = Conduit(plugins=[], monitoring=False)
    app.use(Step("A", log))
    app.use(request_timeout(timeout_seconds=0.2))
    if inner_timeout is not None:
        app.use(request_timeout(timeout_seconds=inner_timeout))
    app.use(Step("B", log))

    @app.get("/slow")
    async def slow(request: Any) -> dict[str, bool]:
        log.append("handler")
        await anyio.sleep(30)
        return {"done": True}

    assert len(app.middleware) == 3 + (inner_timeout is not None)
    with TestClient(app) as client:
        response = client.get("/slow")
        assert client.get("/nope").status_code == 404  # the task is not left cancelled
    assert response.status_code == 504 and response.json()["code"] == "request_timeout"
    assert response.headers["x-a"] == "1" and "x-b" not in response.headers
    assert log == ["A:in", "B:in", "handler", "A:out:504", "A:in", "B:in", "B:out:404", "A:out:404"]
