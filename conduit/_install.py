"""The pip command that installs one of Conduit's extras from where this Conduit came from.

The package index holds unrelated projects named ``conduit`` and ``conduit-mcp``, so
``pip install conduit[mcp]`` would fetch a stranger's code. Conduit installed from a folder
(a clone: ``pip install .``, editable or not) records that folder in its PEP 610
``direct_url.json``; the command then names the folder, whose extras name each plugin by
its path. Conduit installed from an index (Conduit's own, see docs/deployment.md) gets the
index's command, with a note saying which index.

A leaf: it imports nothing of Conduit, so the errors module can use it. The command may name
a local path: it belongs in CLI output and logs, never in an HTTP response.
"""

from __future__ import annotations

import functools
import json
import shlex
from importlib import metadata
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

__all__ = ["install_command", "install_hint"]

_DISTRIBUTION = "conduit"
_UNSAFE_IN_DOUBLE_QUOTES = set('"$`\\!')


def _source_folder(distribution: metadata.Distribution | None = None) -> tuple[str, bool] | None:
    """The local folder Conduit was installed from and whether the install is editable.

    ``distribution`` defaults to the installed ``conduit``. None when it was installed from an
    index or an archive, or is not installed at all (imported from a source tree).
    """
    if distribution is None:
        return _installed_folder()
    text = distribution.read_text("direct_url.json")
    if not text:
        return None
    try:
        direct = json.loads(text)
    except ValueError:
        return None
    if not isinstance(direct, dict) or not isinstance(direct.get("dir_info"), dict):
        return None  # PEP 610: only a local directory has dir_info
    url = urlsplit(str(direct.get("url", "")))
    if url.scheme != "file":
        return None
    return url2pathname(unquote(url.path)), bool(direct["dir_info"].get("editable", False))


@functools.cache
def _installed_folder() -> tuple[str, bool] | None:
    """:func:`_source_folder` of the installed ``conduit``, looked up once per process."""
    try:
        return _source_folder(metadata.distribution(_DISTRIBUTION))
    except metadata.PackageNotFoundError:
        return None


def install_command(extra: str, distribution: metadata.Distribution | None = None) -> str:
    """The command that installs Conduit's ``extra`` (``"mcp"``, ``"redis"``…) where Conduit is.

    From a folder: ``pip install "/path/to/clone[mcp]"`` (with ``-e`` when Conduit is an
    editable install, so that it stays one); from an index: ``pip install "conduit[mcp]"``.
    ``distribution`` defaults to the installed ``conduit``.
    """
    found = _source_folder(distribution)
    if found is None:
        return f'pip install "conduit[{extra}]"'
    folder, editable = found
    target = f"{folder}[{extra}]"
    quoted = shlex.quote(target) if set(target) & _UNSAFE_IN_DOUBLE_QUOTES else f'"{target}"'
    return f"pip install {'-e ' if editable else ''}{quoted}"


def install_hint(extra: str, distribution: metadata.Distribution | None = None) -> str:
    """:func:`install_command` in backticks, for a message: "install it with {hint}".

    The index's command says which index: the public one's ``conduit`` is another project.
    """
    command = f"`{install_command(extra, distribution)}`"
    if _source_folder(distribution) is None:
        command += " from the package index Conduit came from, never the public one (docs/deployment.md)"
    return command
