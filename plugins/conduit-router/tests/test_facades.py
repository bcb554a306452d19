"""The seed's import paths and its five-line quick start, offline."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conduit.framework.errors import MissingPluginError

QUICKSTART = textwrap.dedent("""
    import asyncio
    from conduit.engines.router import Router
    from conduit.core.models import Query

    async def main():
        router = Router()
        decision = await router.route(Query(text="What is 2+2?"))
        print(f"Route to: {decision.selected_model} (confidence: {decision.confidence:.0%})")

    asyncio.run(main())
""")


def test_seed_import_paths_give_the_plugins_classes() -> None:
    import conduit_router

    from conduit.core.models import Query, QueryConstraints, RoutingDecision
    from conduit.engines.router import Router

    assert Router is conduit_router.Router and Query is conduit_router.Query
    assert QueryConstraints is conduit_router.QueryConstraints and RoutingDecision is conduit_router.RoutingDecision


def test_the_models_facade_hands_out_exactly_what_the_models_module_lists() -> None:
    import conduit.core.models
    import conduit_router.models

    assert conduit.core.models.__all__ == conduit_router.models.__all__
    assert dir(conduit.core.models) == sorted(conduit_router.models.__all__)
    namespace: dict[str, object] = {}
    exec("from conduit.core.models import *", namespace)
    assert all(namespace[name] is getattr(conduit_router.models, name) for name in conduit_router.models.__all__)
    with pytest.raises(AttributeError, match=r"module 'conduit\.core\.models' has no attribute 'Router'"):
        conduit.core.models.Router  # noqa: B018


def test_facades_name_the_package_when_the_plugin_is_disabled(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("CONDUIT_DISABLED_PLUGINS", "router")
    import conduit.core.models
    import conduit.engines.router
    from conduit.plugins import reset_default_plugin_manager

    reset_default_plugin_manager()  # outside an app, facades use the process-wide manager: built from the env now
    request.addfinalizer(reset_default_plugin_manager)

    with pytest.raises(MissingPluginError, match=r'install it with `pip install (-e )?"[^"`]*\[router\]"`'):
        conduit.engines.router.Router  # noqa: B018
    with pytest.raises(MissingPluginError, match="conduit-router"):
        conduit.core.models.Query  # noqa: B018
    with pytest.raises(AttributeError):
        conduit.engines.router.Nothing  # noqa: B018
    # Private and dunder names never look for the plugin (that would raise MissingPluginError).
    assert not hasattr(conduit.core.models, "__path__") and not hasattr(conduit.core.models, "_api_cache")
    with pytest.raises(MissingPluginError):
        conduit.core.models.__all__  # noqa: B018


@pytest.mark.slow
def test_the_seed_quick_start_runs_offline() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "HF_HUB_OFFLINE": "1", "NO_PROXY": "*"}
    done = subprocess.run([sys.executable, "-c", QUICKSTART], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Route to: ") and "(confidence: " in done.stdout
