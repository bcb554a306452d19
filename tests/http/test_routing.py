"""Routing: patterns, converters, priorities, 404/405 and prefixes."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, strategies as st

from conduit.framework.errors import ConfigurationError
from conduit.http.routing import Router


def _endpoint(name: str):
    def fn(request):  # pragma: no cover - never called here
        return name

    fn.__name__ = name
    return fn


def test_static_and_parameter_segments_are_matched_at_run_time() -> None:
    r = Router()
    r.add_route("/users", _endpoint("list"))
    r.add_route("/users/:id", _endpoint("colon"))
    r.add_route("/posts/{post_id}/comments/{cid:int}", _endpoint("nested"))
    m = r.match("GET", "/users/42")
    assert m.route.name == "colon" and m.params == {"id": "42"}
    m = r.match("GET", "/posts/abc/comments/7")
    assert m.route.name == "nested" and m.params == {"post_id": "abc", "cid": 7}
    assert r.match("GET", "/users").route.name == "list"


def test_converters_convert_and_reject() -> None:
    r = Router()
    r.add_route("/i/{v:int}", _endpoint("int"))
    r.add_route("/f/{v:float}", _endpoint("float"))
    r.add_route("/u/{v:uuid}", _endpoint("uuid"))
    r.add_route("/p/{v:path}", _endpoint("path"))
    assert r.match("GET", "/i/-12").params == {"v": -12}
    assert r.match("GET", "/i/1.5").route is None
    assert r.match("GET", "/f/1.5").params == {"v": 1.5}
    u = uuid.uuid4()
    assert r.match("GET", f"/u/{u}").params == {"v": u}
    assert r.match("GET", "/u/not-a-uuid").route is None
    assert r.match("GET", "/p/a/b/c.txt").params == {"v": "a/b/c.txt"}


def test_static_beats_typed_beats_str_parameter() -> None:
    r = Router()
    r.add_route("/items/{name}", _endpoint("by_name"))
    r.add_route("/items/{id:int}", _endpoint("by_id"))
    r.add_route("/items/new", _endpoint("new"))
    assert r.match("GET", "/items/new").route.name == "new"
    assert r.match("GET", "/items/5").route.name == "by_id"
    assert r.match("GET", "/items/five").route.name == "by_name"


def test_backtracks_when_a_deeper_segment_fails() -> None:
    r = Router()
    r.add_route("/a/{x:int}/left", _endpoint("int_left"))
    r.add_route("/a/{y}/right", _endpoint("str_right"))
    m = r.match("GET", "/a/3/right")
    assert m.route.name == "str_right" and m.params == {"y": "3"}


def test_percent_encoded_segments_are_decoded_into_params() -> None:
    r = Router()
    r.add_route("/files/{name}", _endpoint("file"))
    assert r.match("GET", "/files/a%20b%2Fc").params == {"name": "a b/c"}


def test_unknown_method_reports_allowed_methods_and_head_follows_get() -> None:
    r = Router()
    r.add_route("/thing", _endpoint("get"), ["GET"])
    r.add_route("/thing", _endpoint("post"), ["POST"])
    m = r.match("DELETE", "/thing")
    assert m.route is None
    assert m.allowed == {"GET", "HEAD", "POST", "OPTIONS"}
    assert r.match("HEAD", "/thing").route.name == "get"
    assert r.match("GET", "/other").allowed == frozenset()


def test_duplicate_route_names_both_owners() -> None:
    r = Router()
    r.add_route("/x", _endpoint("first"), owner="plugin-a")
    with pytest.raises(ConfigurationError, match="plugin-a.*plugin-b"):
        r.add_route("/x", _endpoint("second"), owner="plugin-b")


@pytest.mark.parametrize(
    "pattern,problem",
    [
        ("nope", "must start with '/'"),
        ("/a/{x:bogus}", "unknown converter"),
        ("/a/{x}/{x}", "appears twice"),
        ("/a/{rest:path}/b", "last segment"),
        ("/a/b{c}", "not a valid parameter"),
    ],
)
def test_invalid_patterns_are_rejected_with_a_reason(pattern: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        Router().add_route(pattern, _endpoint("x"))


def test_include_applies_prefixes_and_keeps_metadata() -> None:
    api = Router(prefix="/api", tags=["api"])
    api.add_route("/items/{id:int}", _endpoint("item"), summary="One item")
    root = Router()
    root.include(api, prefix="/v1")
    m = root.match("GET", "/v1/api/items/3")
    assert m.route.name == "item" and m.params == {"id": 3}
    assert m.route.summary == "One item" and m.route.tags == ("api",)


segment = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=12)


@given(parts=st.lists(segment, min_size=1, max_size=6))
def test_any_static_path_registered_is_found_exactly(parts: list[str]) -> None:
    r = Router()
    path = "/" + "/".join(parts)
    r.add_route(path, _endpoint("target"))
    assert r.match("GET", path).route.name == "target"
    assert r.match("GET", path + "/extra").route is None


@given(value=st.integers(min_value=-(10**12), max_value=10**12), name=segment)
def test_int_and_str_parameters_round_trip(value: int, name: str) -> None:
    r = Router()
    r.add_route("/n/{v:int}", _endpoint("int"))
    r.add_route("/s/{v}", _endpoint("str"))
    assert r.match("GET", f"/n/{value}").params == {"v": value}
    assert r.match("GET", f"/s/{name}").params == {"v": name}


@given(path=st.text(max_size=40))
def test_matching_never_raises_on_arbitrary_paths(path: str) -> None:
    r = Router()
    r.add_route("/a/{x:int}", _endpoint("a"))
    r.add_route("/b/{rest:path}", _endpoint("b"))
    r.match("GET", "/" + path)
