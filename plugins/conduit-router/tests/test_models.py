"""The public data types validate their input and name the field that is wrong."""

from __future__ import annotations

import pytest
from conduit_router import ModelSpec, Objective, Query, QueryConstraints


def test_model_spec_prices_a_call_at_list_price() -> None:
    spec = ModelSpec("m", "openai", 2.5, 10.0)
    assert spec.cost(1_000_000, 0) == pytest.approx(2.5)
    assert spec.cost(1000, 500) == pytest.approx(0.0025 + 0.005)


@pytest.mark.parametrize("kwargs, field", [
    ({"input_cost_per_mtok": -1}, "input_cost_per_mtok"),
    ({"quality_prior": 1.5}, "quality_prior"),
    ({"expected_latency_ms": 0}, "expected_latency_ms"),
    ({"max_context": 0}, "max_context"),
])
def test_model_spec_rejects_out_of_range_fields(kwargs: dict, field: str) -> None:
    base = {"name": "m", "provider": "openai", "input_cost_per_mtok": 1.0, "output_cost_per_mtok": 1.0}
    with pytest.raises(ValueError, match=field):
        ModelSpec(**{**base, **kwargs})


def test_query_rejects_empty_text_and_accepts_constraints_as_a_mapping() -> None:
    with pytest.raises(ValueError, match="empty"):
        Query(text="   ")
    q = Query(text="hi", constraints={"max_cost": 0.01, "allowed_models": ["a"]})
    assert q.constraints == QueryConstraints(max_cost=0.01, allowed_models=("a",))
    assert len(q.id) == 32 and Query(text="hi").id != q.id


@pytest.mark.parametrize("data, message", [
    ({"max_cost": -0.1}, "max_cost"),
    ({"min_quality": 2}, "min_quality"),
    ({"max_latency_ms": 0}, "max_latency_ms"),
    ({"allowed_models": []}, "allowed_models"),
    ({"allowed_models": "gpt-4o"}, "allowed_models"),
    ({"cheap": True}, "unknown constraint"),
    ({"max_cost": 10**400}, "max_cost must be a finite number"),
])
def test_constraints_reject_bad_values(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QueryConstraints.from_dict(data)


def test_objective_normalises_weights_and_parses_presets_and_strings() -> None:
    assert Objective(2, 1, 1).to_dict() == {"quality": 0.5, "cost": 0.25, "latency": 0.25}
    assert Objective.parse("quality").quality > Objective.parse("cost").quality
    assert Objective.parse("quality=3,cost=1").to_dict() == {"quality": 0.75, "cost": 0.25, "latency": 0.0}
    with pytest.raises(ValueError, match="quality must be > 0"):
        Objective(0, 1, 0)
    with pytest.raises(ValueError, match="preset"):
        Objective.parse("speedy")
