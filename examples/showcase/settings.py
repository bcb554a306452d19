"""The showcase's own settings, declared to Conduit: typed, checked, and not "unknown".

Conduit reads every ``CONDUIT_*`` variable (and ``[tool.conduit]`` / ``conduit.toml`` key)
as a setting, and reports one that no schema declares as an "unknown setting" at start.
This module declares the showcase's through the ``conduit_config_schema`` hook; ``build_app``
registers it on its app (``Conduit(extra_plugins=[...])``) and reads the values from
``app.settings``. A bad value (``CONDUIT_SHOWCASE_RATE_LIMIT=abc``) stops the start with a
configuration error naming the variable. The example models' cache
(``CONDUIT_EXAMPLES_CACHE``) is declared by examples/models/iris.py the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import conduit
from conduit.config import Setting, Settings

__all__ = ["SCHEMA", "conduit_config_schema", "read_settings"]

_OPTIONAL_STR = (str, type(None))
_OPTIONAL_INT = (int, type(None))

SCHEMA: dict[str, Setting] = {
    "showcase_api_key": Setting(_OPTIONAL_STR, None, "the one API key the showcase's API accepts (X-API-Key or "
                                "Authorization: Bearer); unset: one is generated per process and printed"),
    "showcase_rate_limit": Setting(int, 600, "requests a minute per API key (or client address), app-wide",
                                   minimum=1),
    "showcase_ask_rate_limit": Setting(_OPTIONAL_INT, None, "POST /api/ask requests a minute per API key, inside "
                                       "the app-wide limit; unset: no limit of its own", minimum=1),
    "showcase_docs": Setting(_OPTIONAL_STR, None, "folder of .md/.txt files to index "
                             "(default: the repository's docs/)"),
    "showcase_quiet": Setting(bool, False, "print the start-up output on stderr instead of stdout"),
}


@conduit.hookimpl
def conduit_config_schema() -> dict[str, Any]:
    """The showcase's settings (see the module docstring)."""
    return dict(SCHEMA)


def read_settings(app: Any, *more: Mapping[str, Setting]) -> Settings:
    """``app.settings`` with the showcase's settings (and ``more`` schemas) parsed now, while
    the app is being built (the hooks declare them again when the app prepares; that changes
    nothing); raises :class:`~conduit.framework.errors.ConfigurationError` naming each bad value."""
    for schema in (SCHEMA, *more):
        app.settings.extend(schema)
    app.settings.raise_for_problems()
    return app.settings
