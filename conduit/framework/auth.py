"""API-key authentication: ``X-API-Key`` or ``Authorization: Bearer`` (seed 000 and 001).

Keys are compared in constant time, every configured key every time, so neither the
answer nor its timing tells a caller which key was close. Health probes and CORS
preflights are exempt by default; everything else under ``protected_prefixes`` needs a
key, including routes added by plugins. A refusal is 401 with ``WWW-Authenticate`` and a
specific error code: ``missing_api_key``, ``invalid_api_key`` or
``invalid_authorization_header``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Iterable, Mapping

from conduit.framework.errors import ConfigurationError, UnauthorizedError
from conduit.framework.ratelimit import path_matches
from conduit.http.middleware import PhasedMiddleware
from conduit.http.request import HTTPRequest

__all__ = ["AuthMiddleware", "ENV_VAR"]

ENV_VAR = "CONDUIT_API_KEYS"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class AuthMiddleware(PhasedMiddleware):
    """Require an API key on protected paths.

    ``api_keys`` maps key → client name (or is a list of keys); None reads the
    comma-separated ``$CONDUIT_API_KEYS``. The client's name is put on
    ``request.state.client_id``. ``enabled=False`` lets every request through (the
    seed's ``API_REQUIRE_AUTH=false`` for development).
    """

    def __init__(
        self,
        api_keys: Mapping[str, str] | Iterable[str] | None = None,
        header_name: str = "X-API-Key",
        *,
        bearer: bool = True,
        protected_prefixes: tuple[str, ...] = ("/",),
        exempt_paths: tuple[str, ...] = ("/health",),
        realm: str = "conduit",
        enabled: bool = True,
    ) -> None:
        if api_keys is None:
            api_keys = [k.strip() for k in os.environ.get(ENV_VAR, "").split(",") if k.strip()]
        pairs = list(api_keys.items()) if isinstance(api_keys, Mapping) else [(k, f"client-{i + 1}") for i, k in enumerate(api_keys)]
        if enabled and not pairs:
            raise ConfigurationError(
                f"AuthMiddleware has no API keys; pass api_keys= or set {ENV_VAR} (comma-separated), "
                "or pass enabled=False"
            )
        if any(not key for key, _ in pairs):
            raise ConfigurationError("an API key must not be empty")
        self._keys = [(_digest(key), name) for key, name in pairs]
        self.header_name = header_name
        self.bearer = bearer
        self.protected_prefixes = protected_prefixes
        self.exempt_paths = exempt_paths
        self.realm = realm
        self.enabled = enabled

    def __repr__(self) -> str:
        return f"AuthMiddleware({len(self._keys)} keys, header={self.header_name!r})"

    def _refuse(self, code: str, detail: str, error: str | None = None) -> UnauthorizedError:
        challenge = f'Bearer realm="{self.realm}"' + (f', error="{error}"' if error else "")
        return UnauthorizedError("Unauthorized", detail, headers={"WWW-Authenticate": challenge}, code=code)

    def _presented(self, request: HTTPRequest) -> str | None:
        key = request.headers.get(self.header_name)
        if key:
            return key
        authorization = request.headers.get("authorization")
        if authorization and self.bearer:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise self._refuse(
                    "invalid_authorization_header",
                    "the Authorization header must be `Bearer <api key>`",
                    "invalid_request",
                )
            return token.strip()
        return None

    def identify(self, key: str) -> str | None:
        """The client name for ``key``, compared in constant time against every key."""
        digest = _digest(key)
        found: str | None = None
        for known, name in self._keys:
            if hmac.compare_digest(known, digest) and found is None:
                found = name
        return found

    def _needs_key(self, request: HTTPRequest) -> bool:
        if request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            return False  # CORS preflights never carry credentials
        return path_matches(request.path, self.protected_prefixes) and not path_matches(
            request.path, self.exempt_paths
        )

    def before(self, request: HTTPRequest) -> None:
        if self.enabled and self._needs_key(request):
            key = self._presented(request)
            if key is None:
                where = f"the {self.header_name} header" + (" or `Authorization: Bearer`" if self.bearer else "")
                raise self._refuse("missing_api_key", f"this endpoint needs an API key in {where}")
            client = self.identify(key)
            if client is None:
                raise self._refuse("invalid_api_key", "the API key is not valid", "invalid_token")
            request.state.client_id = client
