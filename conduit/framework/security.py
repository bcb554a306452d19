"""Security middleware, at the seed's import path::

    from conduit.framework.security import (
        rate_limit, AuthMiddleware, enable_cors, security_headers, InputValidator,
    )

Each piece lives in its own module: :mod:`conduit.framework.ratelimit`,
:mod:`conduit.framework.auth`, :mod:`conduit.framework.cors`,
:mod:`conduit.framework.headers`, :mod:`conduit.framework.inputs`.
"""

from __future__ import annotations

from conduit.framework.auth import AuthMiddleware
from conduit.framework.cors import CORSPolicy, enable_cors
from conduit.framework.headers import SecurityHeaders, security_headers
from conduit.framework.inputs import InputValidator
from conduit.framework.ratelimit import RateLimiter, client_key, rate_limit

__all__ = [
    "AuthMiddleware",
    "CORSPolicy",
    "InputValidator",
    "RateLimiter",
    "SecurityHeaders",
    "client_key",
    "enable_cors",
    "rate_limit",
    "security_headers",
]
