"""Conduit's exceptions: HTTP errors that map to a status and a JSON body, and the rest.

A leaf module: it imports nothing of Conduit but the install hint (itself a leaf), so every
layer (``conduit.http``, ``conduit.server``, ``conduit.framework``, the plugins) can use it.
``conduit.framework.errors`` re-exports it under the seed's import path.

Raise one of these anywhere in a handler or middleware; the kernel renders it as
``{"error": message, "detail": detail, "status": status, "request_id": ...}``.
Anything else that escapes a handler becomes a 500 whose body carries the request
id and nothing of the exception (no paths, no tracebacks); the traceback goes to the
``conduit.errors`` logger with the same request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NoReturn

from conduit._install import install_hint  # a leaf as well: no import cycle

__all__ = [
    "BadRequestError",
    "CacheError",
    "ConduitError",
    "ConfigurationError",
    "ConflictError",
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
]

logger = logging.getLogger("conduit.errors")


class ConduitError(Exception):
    """Base of every exception Conduit raises on purpose."""


class ConfigurationError(ConduitError):
    """Settings are invalid; the message names the setting and what to change."""


class CacheError(ConduitError):
    """A cache operation failed (seed 003; see conduit.framework.error_handler)."""


class OOMError(ConduitError, MemoryError):
    """An out-of-memory condition was detected (seed 003); also a MemoryError."""


class NetworkError(ConduitError, ConnectionError):
    """A network operation failed (seed 003); also a ConnectionError."""


class PluginError(ConduitError):
    """A plugin failed to load or to register; the message names the plugin."""


class MissingPluginError(ConduitError, ImportError):
    """A capability was asked for whose plugin is not installed or not enabled."""

    def __init__(self, capability: str, extra: str) -> None:
        self.capability = capability
        self.extra = extra
        # The hint may name the folder Conduit was installed from: this message is for the CLI
        # and logs. No response carries it: a handler's MissingPluginError is a bare 500, and
        # an MCP tool's result says only what is missing.
        super().__init__(
            f"{capability} needs the conduit-{extra} plugin, which is not installed or is "
            f"disabled; install it with {install_hint(extra)} and check `conduit plugins`"
        )


class HTTPError(ConduitError):
    """An error with an HTTP status.

    ``message`` is the short, safe summary shown as ``error``; ``detail`` the
    longer explanation (what was wrong, what to change). ``headers`` are added to
    the error response (for example ``Retry-After`` or ``WWW-Authenticate``);
    ``code`` is an optional stable machine-readable error code.
    """

    status_code: int = 500
    default_message: str = "Internal Server Error"

    def __init__(
        self,
        message: str | None = None,
        detail: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.message = message if message is not None else self.default_message
        self.detail = detail
        self.headers = dict(headers or {})
        self.code = code
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": self.message,
            "detail": self.detail,
            "status": self.status_code,
        }
        if self.code is not None:
            body["code"] = self.code
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code}, {self.message!r})"


class BadRequestError(HTTPError):
    """400: the input is invalid."""

    status_code = 400
    default_message = "Bad Request"


class UnauthorizedError(HTTPError):
    """401: authentication required."""

    status_code = 401
    default_message = "Unauthorized"


class ForbiddenError(HTTPError):
    """403: access denied."""

    status_code = 403
    default_message = "Forbidden"


class NotFoundError(HTTPError):
    """404: no such resource."""

    status_code = 404
    default_message = "Not Found"


class MethodNotAllowedError(HTTPError):
    """405: the route exists but not for this method."""

    status_code = 405
    default_message = "Method Not Allowed"


class ConflictError(HTTPError):
    """409: the resource is in a conflicting state."""

    status_code = 409
    default_message = "Conflict"


class PayloadTooLargeError(HTTPError):
    """413: the body is too big."""

    status_code = 413
    default_message = "Payload Too Large"


class UnprocessableEntityError(HTTPError):
    """422: well-formed but semantically invalid."""

    status_code = 422
    default_message = "Unprocessable Entity"


class TooManyRequestsError(HTTPError):
    """429: rate limit exceeded."""

    status_code = 429
    default_message = "Too Many Requests"


class InternalServerError(HTTPError):
    """500: server error."""

    status_code = 500
    default_message = "Internal Server Error"


class ServiceUnavailableError(HTTPError):
    """503: overloaded or not ready; retry later."""

    status_code = 503
    default_message = "Service Unavailable"


class GatewayTimeoutError(HTTPError):
    """504: the request took too long."""

    status_code = 504
    default_message = "Gateway Timeout"


class ModelNotFoundError(HTTPError):
    """404: the ML model does not exist."""

    status_code = 404
    default_message = "Model Not Found"


class InferenceError(HTTPError):
    """500: the ML prediction failed."""

    status_code = 500
    default_message = "Inference Failed"


class ValidationError(HTTPError):
    """422: ML input validation failed."""

    status_code = 422
    default_message = "Validation Failed"


_BY_STATUS: dict[int, type[HTTPError]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        PayloadTooLargeError,
        UnprocessableEntityError,
        TooManyRequestsError,
        InternalServerError,
        ServiceUnavailableError,
        GatewayTimeoutError,
    )
}


def error_for_status(status: int, message: str | None = None, detail: Any = None, **kwargs: Any) -> HTTPError:
    """Build the most specific HTTPError for ``status``."""
    if not 400 <= status <= 599:
        raise ValueError(f"an error status must be 4xx or 5xx, got {status}")
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(message, detail, **kwargs)
    from http import HTTPStatus

    try:
        default = HTTPStatus(status).phrase
    except ValueError:
        default = "Error"
    return HTTPError(message if message is not None else default, detail, status_code=status, **kwargs)


def abort(status: int, message: str | None = None, detail: Any = None, **kwargs: Any) -> NoReturn:
    """Stop handling the request and answer ``status`` with a JSON error body."""
    raise error_for_status(status, message, detail, **kwargs)
