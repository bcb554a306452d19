"""HTTP errors: exception types that map to a status and a JSON body (the seed's import path).

The exceptions live in :mod:`conduit.errors`, a leaf module every layer can import; the
seed's ``error_handler()`` middleware lives with the other middleware in
:mod:`conduit.http.middleware`. Both are re-exported here, unchanged.
"""

from __future__ import annotations

from conduit.errors import *  # noqa: F403 - every exception, under the seed's import path
from conduit.errors import __all__ as _exceptions
from conduit.http.middleware import ErrorHandlerMiddleware, error_handler

__all__ = [*_exceptions, "ErrorHandlerMiddleware", "error_handler"]
