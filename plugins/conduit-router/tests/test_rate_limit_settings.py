"""Seed 002's token buckets from settings: per provider (``router_rate_limit``, seed 002's
``DEFAULT_RATE_LIMIT``) and per model (``router_model_rate_limits``), waited for through the
stand-in rather than failed; bad values are ConfigurationErrors that say what to write."""

from __future__ import annotations

from pathlib import Path

import pytest
from conduit_router.providers.ratelimit import RateLimits, parse_model_rates
from conduit_router.service import build_router
from conduit_router.standin import StandIn
from hypothesis import given
from hypothesis import strategies as st

from conduit import Conduit
from conduit.framework.errors import ConfigurationError
from conduit.testing import TestClient

_VARIABLES = ("DEFAULT_RATE_LIMIT", "CONDUIT_ROUTER_RATE_LIMIT", "CONDUIT_ROUTER_MODEL_RATE_LIMITS")


@pytest.fixture(autouse=True)
def _no_rate_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _router(**settings: object):  # noqa: ANN202 - a Router
    app = Conduit(plugins=["router"], router_embedder="hash", router_history="none", **settings)
    app.prepare()
    return build_router(app.settings)


def test_without_settings_no_bucket_is_made_the_documented_default() -> None:
    """docs/router.md: off by default (a shared server would queue every user behind one
    process's bucket; the providers' 429 + Retry-After bind instead)."""
    router = _router()
    for name in ("openai", "anthropic"):
        limits = router.provider(name).limits
        assert limits.provider_bucket is None and limits.bucket("gpt-4o") is None
        assert limits.to_dict() == {"provider": None, "models": {}}


def test_per_model_rate_limits_come_from_settings_with_a_star_for_the_rest() -> None:
    router = _router(router_model_rate_limits="gpt-4o=5, claude-sonnet-4-0=2,*=20")
    openai, anthropic = router.provider("openai").limits, router.provider("anthropic").limits
    assert (openai.model_rate("gpt-4o"), openai.model_rate("gpt-4o-mini")) == (5.0, 20.0)
    assert (anthropic.model_rate("claude-sonnet-4-0"), anthropic.model_rate("claude-3-5-haiku-latest")) == (2.0, 20.0)
    assert openai.bucket("gpt-4o").rate == 5.0 and openai.bucket("gpt-4o").name == "openai/gpt-4o"
    # Each provider holds only its own models' entries.
    assert openai.to_dict() == {"provider": None, "models": {"gpt-4o": 5.0, "*": 20.0}}
    assert anthropic.to_dict() == {"provider": None, "models": {"claude-sonnet-4-0": 2.0, "*": 20.0}}


def test_a_model_without_an_entry_and_no_star_has_no_model_bucket() -> None:
    router = _router(router_model_rate_limits="gpt-4o=5")
    assert router.provider("openai").limits.bucket("gpt-4o-mini") is None
    assert router.provider("anthropic").limits.to_dict() == {"provider": None, "models": {}}


def test_seed_002s_variable_and_the_model_setting_combine_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_RATE_LIMIT", "10")
    monkeypatch.setenv("CONDUIT_ROUTER_MODEL_RATE_LIMITS", "gpt-4o=3")
    app = Conduit(plugins=["router"], router_embedder="hash", router_history="none")
    app.prepare()
    assert app.settings.sources["router_rate_limit"] == "$DEFAULT_RATE_LIMIT"
    assert app.settings.sources["router_model_rate_limits"] == "$CONDUIT_ROUTER_MODEL_RATE_LIMITS"
    limits = build_router(app.settings).provider("openai").limits
    assert limits.to_dict() == {"provider": 10.0, "models": {"gpt-4o": 3.0}}


def test_a_toml_table_works_as_well_as_the_string_form(tmp_path: Path) -> None:
    from conduit.config import load_settings

    config = tmp_path / "conduit.toml"
    config.write_text('[conduit]\nrouter_rate_limit = 8\n[conduit.router_model_rate_limits]\n"gpt-4o" = 4\n')
    settings = load_settings({"plugins": ["router"], "router_embedder": "hash", "router_history": "none"},
                             environ={}, files=[config])
    app = Conduit(settings=settings)
    app.prepare()
    assert build_router(app.settings).provider("openai").limits.to_dict() == {"provider": 8.0,
                                                                             "models": {"gpt-4o": 4.0}}


@pytest.mark.parametrize(("value", "message"), [
    ("gpt-4o", r"'gpt-4o' is not model=rate; write model=rate pairs separated by commas"),
    ("=5", r"'=5' is not model=rate"),
    ("gpt-4o=fast", r"model 'gpt-4o': the rate must be a number of requests per second, got 'fast'"),
    ("gpt-4o=0", r"model 'gpt-4o': the rate must be a number > 0"),
    ("gpt-4o=-2", r"model .gpt-4o.: the rate must be a number > 0 \(requests per second\), got .-2."),
    ("gpt-4o=inf", r"model .gpt-4o.: the rate must be a number > 0 \(requests per second\), got .inf."),
    ("gpt-4o=5,gpt-4o=6", r"model 'gpt-4o' is given twice"),
])
def test_a_malformed_value_is_a_configuration_error_naming_the_setting_and_the_form(
        monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    monkeypatch.setenv("CONDUIT_ROUTER_MODEL_RATE_LIMITS", value)
    app = Conduit(plugins=["router"], router_embedder="hash", router_history="none")
    with pytest.raises(ConfigurationError, match=r"setting 'router_model_rate_limits' from "
                                                 r"\$CONDUIT_ROUTER_MODEL_RATE_LIMITS: " + message):
        app.prepare()


def test_a_model_the_catalogue_lacks_fails_at_start_up_naming_the_catalogue() -> None:
    app = Conduit(plugins=["router"], router_embedder="hash", router_history="none",
                  router_model_rate_limits="gpt-4o=5,gpt-9=1")
    with pytest.raises(ConfigurationError, match=r"names 'gpt-9', which the model catalogue lacks; use names "
                                                 r"from GET /v1/models \(.*gpt-4o-mini.*\), or \* for every model"):
        app.prepare()


def test_a_per_model_limit_makes_calls_wait_through_the_standin_and_none_fails(standin: StandIn) -> None:
    """Seed 002: "waits for rate limit instead of failing". Four calls to a model limited to
    2/s (a bucket of 2): the third and fourth wait; every one answers; the other provider's
    model, not limited, never waits."""
    standin.reset()
    app = Conduit(plugins=["router"], router_embedder="hash", router_standin_url=standin.url, router_cache=False,
                  router_max_retries=0, router_history="none", router_model_rate_limits="gpt-4o-mini=2")
    with TestClient(app) as client:
        for i in range(4):
            r = client.post("/v1/complete", json={"text": f"question {i}", "max_tokens": 20,
                                                  "constraints": {"allowed_models": ["gpt-4o-mini"]}})
            assert r.status_code == 200, r.text
            assert r.json()["model"] == "gpt-4o-mini"
        for i in range(4):
            r = client.post("/v1/complete", json={"text": f"question {i}", "max_tokens": 20,
                                                  "constraints": {"allowed_models": ["claude-3-5-haiku-latest"]}})
            assert r.status_code == 200, r.text
        providers = client.get("/v1/stats").json()["providers"]
    assert providers["openai"]["successes"] == 4 and providers["openai"]["errors"] == {}
    assert providers["openai"]["rate_limit_wait_s"] > 0
    assert providers["openai"]["rate_limits"] == {"provider": None, "models": {"gpt-4o-mini": 2.0}}
    assert providers["anthropic"]["rate_limit_wait_s"] == 0 and providers["anthropic"]["successes"] == 4
    assert len(standin.seen("gpt-4o-mini")) == 4


def test_rate_limits_take_a_mapping_directly() -> None:
    limits = RateLimits("openai", per_model={"gpt-4o": 5, "*": 1})
    assert (limits.model_rate("gpt-4o"), limits.model_rate("other")) == (5.0, 1.0)
    with pytest.raises(ValueError, match="the rate must be a number > 0"):
        RateLimits("openai", per_model={"gpt-4o": 0})


_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._:/", min_size=1, max_size=30)
_RATES = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.dictionaries(_NAMES, _RATES, min_size=0, max_size=8), st.sampled_from([",", ", ", " ,"]))
def test_parse_model_rates_reads_back_what_is_written(rates: dict[str, float], separator: str) -> None:
    text = separator.join(f"{name}={rate!r}" for name, rate in rates.items())
    assert parse_model_rates(text) == rates
    assert parse_model_rates(rates) == rates


@given(st.text(max_size=40))
def test_parse_model_rates_either_parses_or_raises_value_error(text: str) -> None:
    try:
        parsed = parse_model_rates(text)
    except ValueError as exc:
        assert "model" in str(exc) or "rate" in str(exc)
    else:
        assert all(name and name == name.strip() and rate > 0 for name, rate in parsed.items())
