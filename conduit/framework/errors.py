"""HTTP errors: exception types that map to a status and a JSON body (the seed's import path).

The exceptions live in :mod:`conduit.errors`, a leaf module every layer can import; the
seed's ``error_handler()`` middleware lives with the other middleware in
:mod:`conduit.http.middleware`. Both are re-exported here, unchanged.
"""

from __future__ import annotations

from conduit.errors import (
    BadRequestError,
    CacheError,
    ConduitError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    GatewayTimeoutError,
    HTTPError,
    InferenceError,
    InternalServerError,
    MethodNotAllowedError,
    MissingPluginError,
    ModelNotFoundError,
    NetworkError,
    NotFoundError,
    OOMError,
    PayloadTooLargeError,
    PluginError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnauthorizedError,
    UnprocessableEntityError,
    ValidationError,
    abort,
    error_for_status,
)
from conduit.http.middleware import ErrorHandlerMiddleware, error_handler

__all__ = [
    "BadRequestError",
    "CacheError",
    "ConduitError",
    "ConfigurationError",
    "ConflictError",
    "ErrorHandlerMiddleware",
    "ForbiddenError",
    "GatewayTimeoutError",
    "HTTPError",
    "InferenceError",
    "InternalServerError",
    "MethodNotAllowedError",
    "MissingPluginError",
    "ModelNotFoundError",
    "NetworkError",
    "NotFoundError",
    "OOMError",
    "PayloadTooLargeError",
    "PluginError",
    "ServiceUnavailableError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UnprocessableEntityError",
    "ValidationError",
    "abort",
    "error_for_status",
    "error_handler",
]
