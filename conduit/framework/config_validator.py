"""Seed 003's ``lib.config_validator``: ``ConfigValidator``, ``ValidationError``, ``DependencyError``.

The validator is :class:`conduit.framework.validation.ConfigValidator`. ``ValidationError`` is
the configuration error it raises (:class:`conduit.framework.errors.ConfigurationError`), so
the seed's ``except ValidationError`` catches every invalid setting, a missing or too old
dependency (:class:`DependencyError`) included. (``conduit.framework.errors.ValidationError``
is another class: the 422 for invalid ML input.)
"""

from __future__ import annotations

from conduit.framework.errors import ConfigurationError as ValidationError
from conduit.framework.validation import ConfigValidator, DependencyError

__all__ = ["ConfigValidator", "DependencyError", "ValidationError"]
