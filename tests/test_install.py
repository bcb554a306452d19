"""conduit/_install.py: the install command names the folder Conduit came from, or its index."""

from __future__ import annotations

import json
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest

from conduit._install import install_command, install_hint
from conduit.framework.errors import MissingPluginError


def installed_conduit(site: Path, direct_url: dict[str, object] | None) -> PathDistribution:
    """A real dist-info folder as pip writes it, with ``direct_url.json`` when given (PEP 610)."""
    info = site / "conduit-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: conduit\nVersion: 0.1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return PathDistribution(info)


def test_installed_from_a_clone_the_command_names_the_clone(tmp_path: Path) -> None:
    clone = tmp_path / "my clone"  # a space: the command quotes the path
    clone.mkdir()
    dist = installed_conduit(tmp_path / "site", {"url": clone.as_uri(), "dir_info": {}})
    assert install_command("router", dist) == f'pip install "{clone}[router]"'
    assert install_hint("router", dist) == f'`pip install "{clone}[router]"`'


def test_an_editable_install_stays_editable(tmp_path: Path) -> None:
    dist = installed_conduit(tmp_path / "site", {"url": tmp_path.as_uri(), "dir_info": {"editable": True}})
    assert install_command("mcp", dist) == f'pip install -e "{tmp_path}[mcp]"'


def test_a_path_the_shell_would_expand_is_single_quoted(tmp_path: Path) -> None:
    clone = tmp_path / "$HOME"
    dist = installed_conduit(tmp_path / "site", {"url": clone.as_uri(), "dir_info": {}})
    assert install_command("otel", dist) == f"pip install '{clone}[otel]'"


@pytest.mark.parametrize(
    "direct_url",
    [
        None,  # from an index: pip writes no direct_url.json
        {"url": "file:///wheels/conduit-0.1.0-py3-none-any.whl", "archive_info": {}},  # a wheel file
        {"url": "https://git.example/conduit.git", "vcs_info": {"vcs": "git", "commit_id": "0" * 40}},
    ],
    ids=["index", "wheel-file", "vcs"],
)
def test_installed_from_elsewhere_the_command_names_conduits_own_index(
    tmp_path: Path, direct_url: dict[str, object] | None
) -> None:
    dist = installed_conduit(tmp_path / "site", direct_url)
    assert install_command("vector", dist) == 'pip install "conduit[vector]"'
    assert install_hint("vector", dist) == (
        '`pip install "conduit[vector]"` from the package index Conduit came from, never the public one '
        "(docs/deployment.md)"
    )


def test_the_installed_conduit_is_read_when_no_distribution_is_given() -> None:
    from importlib.metadata import distribution

    assert install_command("onnx") == install_command("onnx", distribution("conduit"))


def test_missing_plugin_error_says_how_to_install_the_plugin_here() -> None:
    error = MissingPluginError("The LLM router", "router")
    assert str(error) == (
        "The LLM router needs the conduit-router plugin, which is not installed or is disabled; "
        f"install it with {install_hint('router')} and check `conduit plugins`"
    )
    assert (error.capability, error.extra) == ("The LLM router", "router")
