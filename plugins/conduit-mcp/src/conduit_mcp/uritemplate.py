"""Match resource URIs against RFC 6570 URI templates (the subset MCP servers use).

``doc://{id}`` matches ``doc://42`` with ``{"id": "42"}``. Supported expressions:
``{var}`` (one segment: no ``/``, ``?`` or ``#``), ``{+var}`` (reserved expansion: any
text, slashes included) and ``{var1,var2}`` is refused with a message, as are the
other operators, because a template that cannot be matched back would silently serve
nothing. Matched values are percent-decoded.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["UriTemplate"]

_EXPRESSION = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UriTemplate:
    """A compiled URI template: ``.variables`` and ``.match(uri)``."""

    def __init__(self, template: str) -> None:
        self.template = template
        pattern = ["^"]
        variables: list[str] = []
        position = 0
        for match in _EXPRESSION.finditer(template):
            pattern.append(re.escape(template[position : match.start()]))
            expression = match.group(1)
            reserved = expression.startswith("+")
            name = expression[1:] if reserved else expression
            if not _NAME.match(name):
                raise ValueError(
                    f"URI template {template!r}: expression {{{expression}}} is not supported; "
                    "use {name} for one path segment or {+name} for the rest of the URI"
                )
            if name in variables:
                raise ValueError(f"URI template {template!r} uses variable {name!r} twice")
            variables.append(name)
            pattern.append(f"(?P<{name}>.+)" if reserved else f"(?P<{name}>[^/?#]+)")
            position = match.end()
        pattern.append(re.escape(template[position:]) + "$")
        if "{" in template[position:] or "}" in template[position:]:
            raise ValueError(f"URI template {template!r} has an unbalanced brace")
        self.variables: tuple[str, ...] = tuple(variables)
        self._regex = re.compile("".join(pattern))

    @staticmethod
    def is_template(uri: str) -> bool:
        """True when ``uri`` holds at least one ``{expression}``."""
        return _EXPRESSION.search(uri) is not None

    def match(self, uri: str) -> dict[str, str] | None:
        """The variables of ``uri`` (percent-decoded), or None when it does not match."""
        found = self._regex.match(uri)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}

    def __repr__(self) -> str:
        return f"UriTemplate({self.template!r})"
