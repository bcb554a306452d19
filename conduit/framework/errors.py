"""HTTP errors: exception types that map to a status and a JSON body.

Raise one of these anywhere in a handler or middleware; the kernel renders it as
``{"error": message, "detail": detail, "status": status, "request_id": ...}``.
Anything else that escapes a handler becomes a 500 whose body carries the request
id and nothing of the exception (no paths, no tracebacks); the traceback goes to the
``conduit.errors`` logger with the same request id.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, NoReturn

from conduit._install import install_hint  # a leaf as well: no import cycle

__all__ = [
    "CacheError",
    "OOMError",
    "NetworkError",
    "HTTPError",
    "BadRequestError",
    "UnauthorizedError",
    "ForbiddenError",
    "NotFoundError",
    "MethodNotAllowedError",
    "ConflictError",
    "PayloadTooLargeError",
    "UnprocessableEntityError",
    "TooManyRequestsError",
    "InternalServerError",
    "ServiceUnavailableError",
    "GatewayTimeoutError",
    "ModelNotFoundError",
    "InferenceError",
    "ValidationError",
    "ConduitError",
    "ConfigurationError",
    "PluginError",
    "MissingPluginError",
    "abort",
    "error_handler",
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


def _error(name: str, status: int, message: str, doc: str) -> type[HTTPError]:
    cls = type(name, (HTTPError,), {"status_code": status, "default_message": message, "__doc__": doc})
    cls.__module__ = __name__
    return cls


BadRequestError = _error("BadRequestError", 400, "Bad Request", "400: the input is invalid.")
UnauthorizedError = _error("UnauthorizedError", 401, "Unauthorized", "401: authentication required.")
ForbiddenError = _error("ForbiddenError", 403, "Forbidden", "403: access denied.")
NotFoundError = _error("NotFoundError", 404, "Not Found", "404: no such resource.")
MethodNotAllowedError = _error(
    "MethodNotAllowedError", 405, "Method Not Allowed", "405: the route exists but not for this method."
)
ConflictError = _error("ConflictError", 409, "Conflict", "409: the resource is in a conflicting state.")
PayloadTooLargeError = _error("PayloadTooLargeError", 413, "Payload Too Large", "413: the body is too big.")
UnprocessableEntityError = _error(
    "UnprocessableEntityError", 422, "Unprocessable Entity", "422: well-formed but semantically invalid."
)
TooManyRequestsError = _error("TooManyRequestsError", 429, "Too Many Requests", "429: rate limit exceeded.")
InternalServerError = _error("InternalServerError", 500, "Internal Server Error", "500: server error.")
ServiceUnavailableError = _error(
    "ServiceUnavailableError", 503, "Service Unavailable", "503: overloaded or not ready; retry later."
)
GatewayTimeoutError = _error("GatewayTimeoutError", 504, "Gateway Timeout", "504: the request took too long.")
ModelNotFoundError = _error("ModelNotFoundError", 404, "Model Not Found", "404: the ML model does not exist.")
InferenceError = _error("InferenceError", 500, "Inference Failed", "500: the ML prediction failed.")
ValidationError = _error("ValidationError", 422, "Validation Failed", "422: ML input validation failed.")

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


class ErrorHandlerMiddleware:
    """The seed's ``error_handler()``: turns any exception from inner layers into JSON.

    The kernel already does this at every middleware boundary, so this middleware is
    kept for the seed's API; it also lets an app choose whether 500 responses include
    the exception's class name (``expose_type=True``, off by default).
    """

    def __init__(self, expose_type: bool = False) -> None:
        self.expose_type = expose_type

    # A phased middleware (conduit.http.middleware registers it: that module imports this one).
    def before(self, request: Any) -> None:
        # Inner boundaries render errors before they reach this layer; they read this flag.
        if self.expose_type:
            request.state.expose_error_type = True

    async def __call__(self, request: Any, call_next: Any) -> Any:
        self.before(request)
        return await call_next(request)


def error_handler(expose_type: bool = False) -> ErrorHandlerMiddleware:
    """Middleware rendering every error as JSON (the kernel does this by default too)."""
    return ErrorHandlerMiddleware(expose_type=expose_type)
