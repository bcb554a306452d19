"""Settings: sources, precedence, parsing and the problems they report."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit import Conduit
from conduit.config import Setting, load_settings
from conduit.framework.errors import ConfigurationError


def test_precedence_defaults_files_env_code(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.conduit]\nport = 7000\nworkers = 2\nlog-level = 'debug'\n")
    (tmp_path / "conduit.toml").write_text("port = 7001\n")
    files = [tmp_path / "pyproject.toml", tmp_path / "conduit.toml"]
    s = load_settings(environ={}, files=files)
    assert (s.port, s.workers, s.log_level, s.host) == (7001, 2, "debug", "0.0.0.0")
    assert s.sources["port"] == "conduit.toml"
    s = load_settings(environ={"CONDUIT_PORT": "7002"}, files=files)
    assert s.port == 7002 and s.sources["port"] == "$CONDUIT_PORT"
    s = load_settings({"port": 7003}, environ={"CONDUIT_PORT": "7002"}, files=files)
    assert s.port == 7003 and s.sources["port"] == "code"


def test_env_values_are_parsed_by_type() -> None:
    s = load_settings(
        environ={"CONDUIT_ACCESS_LOG": "yes", "CONDUIT_HEADER_TIMEOUT": "2.5", "CONDUIT_DISABLED_PLUGINS": "a, b"},
        files=[],
    )
    assert s.access_log is True and s.header_timeout == 2.5 and s.disabled_plugins == ["a", "b"]


@pytest.mark.parametrize(
    "env,message",
    [
        ({"CONDUIT_PORT": "eighty"}, "'port' from $CONDUIT_PORT must be an integer"),
        ({"CONDUIT_PORT": "70000"}, "must be <= 65535"),
        ({"CONDUIT_HTTP": "h3"}, "must be one of 'auto', 'h11', 'httptools'"),
        ({"CONDUIT_ACCESS_LOG": "maybe"}, "must be true or false"),
        ({"CONDUIT_MAX_BODY_SIZE": "0"}, "must be greater than 0"),
    ],
)
def test_bad_values_are_reported_naming_setting_source_and_fix(env: dict[str, str], message: str) -> None:
    s = load_settings(environ=env, files=[])
    assert any(message in p for p in s.problems), s.problems
    with pytest.raises(ConfigurationError, match="invalid configuration"):
        s.raise_for_problems()


def test_app_refuses_to_start_with_bad_settings(monkeypatch) -> None:
    monkeypatch.setenv("CONDUIT_WORKERS", "0")
    with pytest.raises(ConfigurationError, match="'workers' from \\$CONDUIT_WORKERS must be >= 1"):
        Conduit()


def test_invalid_toml_is_a_clear_problem(tmp_path: Path) -> None:
    (tmp_path / "conduit.toml").write_text("port = \n")
    s = load_settings(environ={}, files=[tmp_path / "conduit.toml"])
    assert s.problems and s.problems[0].startswith("conduit.toml is not valid TOML")


def test_plugin_schemas_extend_settings_and_unknown_keys_are_listed() -> None:
    s = load_settings(environ={"CONDUIT_MY_LIMIT": "5", "CONDUIT_TYPO_SETTING": "1"}, files=[])
    s.extend({"my_limit": Setting(int, 1, "a plugin's limit", minimum=1)})
    assert s.my_limit == 5
    assert s.unknown() == ["typo_setting (from $CONDUIT_TYPO_SETTING)"]


def test_the_seeds_environment_variables_name_settings() -> None:
    """Seed 001/004: REDIS_URL, API_MAX_REQUEST_SIZE and a PostgreSQL DATABASE_URL configure
    the state store, the router's body limit and its history; CONDUIT_* wins where both are set."""
    from conduit.config import load_settings

    env = {"REDIS_URL": "redis://cache:6379/1", "API_MAX_REQUEST_SIZE": "10000",
           "DATABASE_URL": "postgresql://app@db/history"}
    settings = load_settings(environ=env, files=[])
    assert settings.redis_url == "redis://cache:6379/1" and settings.sources["redis_url"] == "$REDIS_URL"
    assert settings.raw["router_max_request_size"] == ("10000", "$API_MAX_REQUEST_SIZE")  # GET exempt: the router's
    assert settings.max_body_size == 16 * 1024 * 1024  # not the server's limit of every route
    assert settings.raw["router_history"] == ("postgresql://app@db/history", "$DATABASE_URL")
    both = load_settings(environ={**env, "CONDUIT_REDIS_URL": "redis://other:6379/0"}, files=[])
    assert both.redis_url == "redis://other:6379/0"
    assert "router_history" not in load_settings(environ={"DATABASE_URL": "mysql://x/y"}, files=[]).raw


def test_seed_004s_log_level_sets_the_level_in_any_case() -> None:
    """Seed 004's .env says LOG_LEVEL=INFO; CONDUIT_LOG_LEVEL wins, and a level that is no level
    is a problem naming the variable."""
    from conduit.config import load_settings

    settings = load_settings(environ={"LOG_LEVEL": "DEBUG"}, files=[])
    assert settings.log_level == "debug" and settings.sources["log_level"] == "$LOG_LEVEL"
    assert load_settings(environ={"LOG_LEVEL": "INFO", "CONDUIT_LOG_LEVEL": "Warning"}, files=[]).log_level == "warning"
    [problem] = load_settings(environ={"LOG_LEVEL": "loud"}, files=[]).problems
    assert "$LOG_LEVEL must be one of" in problem and "'loud'" in problem


def test_redis_url_from_the_seed_makes_the_app_share_its_state_in_redis(monkeypatch) -> None:
    from conduit import Conduit
    from conduit.storage import RedisStateStore

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert isinstance(Conduit().state_store, RedisStateStore)
