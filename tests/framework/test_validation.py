"""ConfigValidator: ports, environment variables, model paths, dependencies, everything at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduit.config import load_settings
from conduit.framework.errors import ConfigurationError
from conduit.framework.validation import ConfigValidator, DependencyError, compare_versions


def test_validate_port_accepts_valid_ports_and_warns_for_privileged() -> None:
    v = ConfigValidator(environ={})
    assert v.validate_port(8080) == {"valid": True, "port": 8080}
    assert "privileged" in v.validate_port("80")["warning"]
    assert "free port" in v.validate_port(0)["warning"]


@pytest.mark.parametrize("port", [-1, 65536, "http", True, 3.5e9])
def test_validate_port_refuses_impossible_ports(port: object) -> None:
    with pytest.raises(ConfigurationError, match="port"):
        ConfigValidator(environ={}).validate_port(port)


def test_validate_env_var_converts_and_bounds() -> None:
    v = ConfigValidator(environ={"MAX_REQUESTS": "250", "DEBUG": "yes", "HOSTS": "a, b,,c", "MODE": "fast"})
    assert v.validate_env_var("MAX_REQUESTS", required=True, var_type="int", min_value=1, max_value=10000) == {
        "valid": True, "value": 250, "var_name": "MAX_REQUESTS", "set": True,
    }
    assert v.validate_env_var("DEBUG", var_type="bool")["value"] is True
    assert v.validate_env_var("HOSTS", var_type="list")["value"] == ["a", "b", "c"]
    assert v.validate_env_var("MISSING", default="x") == {"valid": True, "value": "x", "var_name": "MISSING", "set": False}
    with pytest.raises(ConfigurationError, match="MISSING is required"):
        v.validate_env_var("MISSING", required=True)
    with pytest.raises(ConfigurationError, match="MAX_REQUESTS must be <= 100"):
        v.validate_env_var("MAX_REQUESTS", var_type="int", max_value=100)
    with pytest.raises(ConfigurationError, match="MODE must be one of"):
        v.validate_env_var("MODE", choices=("slow", "safe"))


def test_env_var_errors_do_not_echo_secrets() -> None:
    v = ConfigValidator(environ={"API_TIMEOUT": "api_key=sk-0123456789abcdefghijklmn"})
    with pytest.raises(ConfigurationError) as info:
        v.validate_env_var("API_TIMEOUT", var_type="float")
    assert "sk-0123456789" not in str(info.value)


def test_validate_model_path_reports_a_real_file(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x01" * 50)
    result = ConfigValidator(environ={}).validate_model_path(model, allowed_suffixes=(".onnx",))
    assert result == {
        "valid": True, "path": str(model), "exists": True, "is_file": True, "readable": True, "size_bytes": 100,
    }


@pytest.mark.parametrize("path", ["../etc/passwd", "models/../../secret.onnx", "..\\windows\\system.ini", "a/..", "x\x00.onnx", " "])
def test_validate_model_path_refuses_traversal_and_nonsense(path: str) -> None:
    with pytest.raises(ConfigurationError):
        ConfigValidator(environ={}).validate_model_path(path, must_exist=False)


def test_validate_model_path_keeps_symlinks_inside_the_base_dir(tmp_path: Path) -> None:
    base = tmp_path / "models"
    base.mkdir()
    (base / "ok.onnx").write_bytes(b"x")
    outside = tmp_path / "secret.onnx"
    outside.write_bytes(b"x")
    (base / "escape.onnx").symlink_to(outside)
    v = ConfigValidator(environ={})
    assert v.validate_model_path("ok.onnx", base_dir=base)["path"] == str(base / "ok.onnx")
    with pytest.raises(ConfigurationError, match="outside the allowed model directory"):
        v.validate_model_path("escape.onnx", base_dir=base)
    with pytest.raises(ConfigurationError, match="outside"):
        v.validate_model_path(str(outside), base_dir=base)


def test_missing_model_names_the_file_and_the_fix_without_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        ConfigValidator(environ={}).validate_model_path(tmp_path / "x.onnx")
    assert str(info.value) == "model file 'x.onnx' not found; set CONDUIT_MODEL_PATH or pass path="


def test_validate_dependency_by_distribution_or_import_name() -> None:
    v = ConfigValidator(environ={})
    assert v.validate_dependency("h11", "0.14")["valid"]
    assert v.validate_dependency("prometheus_client")["name"] == "prometheus_client"
    with pytest.raises(DependencyError, match="too old"):
        v.validate_dependency("anyio", "999.0")
    with pytest.raises(DependencyError, match="not installed; install it with `pip install surely-not-a-package`"):
        v.validate_dependency("surely-not-a-package")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.10", "1.9", 1), ("2.0", "2.0.0", 0), ("2.0.0rc1", "2.0", -1), ("2.1.0.dev3", "2.0", 1),
        ("2.0.0+cu121", "2.0", 0), ("5.2.1", "5.2", 1), ("0.16.0", "0.16", 0), ("1.0.post1", "1.0", 0), ("v3", "2.9", 1),
    ],
)
def test_compare_versions(a: str, b: str, expected: int) -> None:
    assert compare_versions(a, b) == expected


@given(st.lists(st.integers(0, 50), min_size=1, max_size=4), st.lists(st.integers(0, 50), min_size=1, max_size=4))
def test_compare_versions_orders_like_padded_tuples(a: list[int], b: list[int]) -> None:
    width = max(len(a), len(b))
    pa, pb = a + [0] * (width - len(a)), b + [0] * (width - len(b))
    expected = (pa > pb) - (pa < pb)
    assert compare_versions(".".join(map(str, a)), ".".join(map(str, b))) == expected
    assert compare_versions(".".join(map(str, b)), ".".join(map(str, a))) == -expected


def test_validate_all_config_collects_every_problem(tmp_path: Path) -> None:
    env = {
        "CONDUIT_PORT": "99999",
        "CONDUIT_REDIS_URL": "memcached://cache:11211",
        "CONDUIT_MODEL_PATH": str(tmp_path / "missing.onnx"),
        "CONDUIT_TYPO_SETTING": "1",
    }
    v = ConfigValidator(environ=env, settings=load_settings(environ=env, files=[]))
    v.add_check("gpu", lambda: "no GPU found; running on CPU")
    result = v.validate_all_config()
    assert not result["valid"]
    joined = "\n".join(result["errors"])
    assert "'port'" in joined and "65535" in joined
    assert "redis_url (CONDUIT_REDIS_URL) must start with" in joined
    assert "model file 'missing.onnx' not found" in joined
    assert "unknown setting typo_setting (from $CONDUIT_TYPO_SETTING)" in result["warnings"]
    assert "no GPU found; running on CPU" in result["warnings"]
    assert result["checks_failed"] == len(result["errors"]) == 3


def test_validate_all_config_passes_a_sound_setup(redis_url: str) -> None:
    env = {"CONDUIT_PORT": "8080", "CONDUIT_REDIS_URL": redis_url}
    result = ConfigValidator(environ=env, settings=load_settings(environ=env, files=[])).validate_all_config()
    assert result["valid"], result["errors"]
    assert result["errors"] == [] and result["checks_failed"] == 0
    assert result["checks_passed"] >= 2 + 5  # port, redis and the kernel's five dependencies
