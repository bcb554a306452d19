"""The sampled-out fast path takes the decision the SDK's ratio sampler would take."""

from __future__ import annotations

import conduit_otel
import pytest
from conduit_otel.sampling import TRACE_ID_LIMIT, PresetIdGenerator, root_bound
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

import conduit.telemetry
from conduit.testing import TestClient

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def ratio(value: str, parent_based: bool = True) -> dict[str, str]:
    name = "parentbased_traceidratio" if parent_based else "traceidratio"
    return {"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": value}


@pytest.mark.parametrize("parent_based", [True, False])
def test_every_root_is_decided_by_its_trace_id_as_the_ratio_rule_says(instrumented, parent_based) -> None:
    t = instrumented(ratio("0.5", parent_based))
    seen: list[tuple[int, int, bool]] = []

    @t.app.get("/")
    def root(request):
        ctx = trace.get_current_span().get_span_context()
        seen.append((ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled))
        with conduit.telemetry.span("child", pm=request.app.plugin_manager):
            pass
        return {}

    with TestClient(t.app) as client:
        for _ in range(600):
            client.get("/")
    bound = TraceIdRatioBased.get_bound_for_rate(0.5)
    assert all(trace_id and span_id for trace_id, span_id, _ in seen)
    assert all(sampled == ((trace_id & TRACE_ID_LIMIT) < bound) for trace_id, _, sampled in seen)
    sampled = {trace_id for trace_id, _, flag in seen if flag}
    servers = [s for s in t.finished() if s.name == "GET /"]
    children = [s for s in t.finished() if s.name == "child"]
    # Exactly the sampled roots were recorded, under the trace id the handler saw, with their children.
    assert {s.context.trace_id for s in servers} == sampled and len(servers) == len(sampled)
    assert {s.context.trace_id for s in children} == sampled and len(children) == len(sampled)
    # Binomial(600, 0.5): sd 12.2; 200..400 is beyond 8 of them.
    assert 200 <= len(sampled) <= 400
    assert len({trace_id for trace_id, _, _ in seen}) == 600


def test_always_off_roots_get_a_valid_unsampled_context_to_propagate(instrumented) -> None:
    t = instrumented({"OTEL_TRACES_SAMPLER": "parentbased_always_off"})

    @t.app.get("/")
    def call(request):
        return conduit_otel.inject({})

    with TestClient(t.app) as client:
        first = client.get("/").json()["traceparent"]
        second = client.get("/").json()["traceparent"]
    assert t.finished() == []
    for header in (first, second):
        version, trace_id, span_id, flags = header.split("-")
        assert version == "00" and flags == "00" and int(trace_id, 16) and int(span_id, 16)
    assert first.split("-")[1] != second.split("-")[1]


def test_a_sampled_caller_is_followed_even_at_ratio_zero(instrumented) -> None:
    t = instrumented(ratio("0"))
    t.app.get("/")(lambda request: {})
    with TestClient(t.app) as client:
        client.get("/")
        client.get("/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    (span,) = t.finished()
    assert f"{span.context.trace_id:032x}" == TRACE_ID


def test_a_request_handled_inside_a_sampled_span_is_its_child_not_a_new_root(instrumented) -> None:
    import asyncio

    from opentelemetry.sdk.trace import TracerProvider

    from conduit.testing import _build_request

    t = instrumented(ratio("0"))  # roots are never sampled; a sampled local parent is followed
    t.app.get("/")(lambda request: {})
    outer_tracer = TracerProvider().get_tracer("caller")

    async def main() -> int:
        await t.app.startup()
        try:
            with outer_tracer.start_as_current_span("outer") as outer:
                request = _build_request(t.app, "GET", "/", params=None, headers={}, json=None, content=None,
                                         data=None, client=("127.0.0.1", 1))
                await t.app.handle(request)
                return outer.get_span_context().span_id
        finally:
            await t.app.shutdown()

    outer_id = asyncio.run(main())
    (span,) = t.finished()
    assert span.parent is not None and span.parent.span_id == outer_id


def test_the_fast_path_is_only_for_samplers_that_decide_roots_by_trace_id() -> None:
    from conduit_otel.config import OtelConfig

    def bound(env):
        return root_bound(OtelConfig.from_sources(None, {"OTEL_ENABLED": "1", **env}))

    assert bound(ratio("0.25")) == TraceIdRatioBased.get_bound_for_rate(0.25)
    assert bound({"OTEL_TRACES_SAMPLER": "always_off"}) == 0
    assert bound({"OTEL_TRACES_SAMPLER": "parentbased_always_on"}) is None
    assert bound({}) is None


def test_a_preset_trace_id_is_used_once_by_its_own_thread() -> None:
    import threading

    ids = PresetIdGenerator()
    ids.preset(42)
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(ids.generate_trace_id()))
    thread.start()
    thread.join()
    assert other[0] != 42
    assert ids.generate_trace_id() == 42
    assert ids.generate_trace_id() != 42
