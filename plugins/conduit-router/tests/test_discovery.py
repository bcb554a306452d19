"""The plugin is found through its `conduit` entry point and comes from this repository."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import conduit_router.plugin

from conduit.config import load_settings
from conduit.plugins import create_plugin_manager, list_plugins

PLUGIN_ROOT = Path(__file__).resolve().parents[1]


def test_entry_point_is_registered_in_the_conduit_group() -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="conduit")}
    assert names.get("router") == "conduit_router.plugin"


def test_installed_distribution_is_the_one_in_this_repository() -> None:
    module_file = Path(conduit_router.plugin.__file__).resolve()
    assert module_file.is_relative_to(PLUGIN_ROOT / "src"), module_file
    assert importlib.metadata.distribution("conduit-router").version == "0.1.0"


def test_plugin_manager_loads_it_when_enabled_and_blocks_it_when_disabled() -> None:
    enabled = create_plugin_manager(load_settings({"plugins": ["router"]}, environ={}, files=[]))
    assert enabled.get_plugin("router") is conduit_router.plugin
    disabled = create_plugin_manager(load_settings({"disabled_plugins": ["router"]}, environ={}, files=[]))
    assert disabled.get_plugin("router") is None
    info = {p.name: p for p in list_plugins(disabled)}
    assert info["router"].enabled is False
