"""API-key authentication: ``X-API-Key`` or ``Authorization: Bearer`` (seed 000 and 001).

Keys are compared in constant time, every configured key every time, so neither the
answer nor its timing tells a caller which key was close. Health probes, routes marked
``public=True`` and CORS preflights are exempt; everything else under
``protected_prefixes`` needs a key, including routes added by plugins. With ``api_keys``
configured the kernel adds this middleware itself (``conduit._builtins.auth``). A refusal is 401 with ``WWW-Authenticate`` and a
specific error code: ``missing_api_key``, ``invalid_api_key`` or
``invalid_authorization_header``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterable, Mapping
from typing import Any

from conduit.framework.errors import ConfigurationError, UnauthorizedError
from conduit.framework.ratelimit import path_matches
from conduit.http.middleware import PhasedMiddleware
from conduit.http.request import HTTPRequest

__all__ = ["ENV_VAR", "AuthMiddleware", "configured_keys", "exposure_warnings", "is_loopback"]

ENV_VAR = "CONDUIT_API_KEYS"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def configured_keys(settings: Any, environ: Mapping[str, str] | None = None) -> list[str]:
    """The API keys configuration asks for: ``api_keys``, plus seed 001's ``API_KEY``
    when ``API_REQUIRE_AUTH`` is true (the seed's default is false, which leaves
    ``API_KEY`` unused). ``API_REQUIRE_AUTH=true`` with no key at all is an error."""
    env = os.environ if environ is None else environ
    keys = [str(k).strip() for k in (settings.get("api_keys") or []) if str(k).strip()]
    require = env.get("API_REQUIRE_AUTH")
    if require is not None:
        flag = require.strip().lower()
        if flag not in _TRUE | _FALSE:
            raise ConfigurationError(f"API_REQUIRE_AUTH must be true or false, got {require!r}")
        seed_key = env.get("API_KEY", "").strip()
        if flag in _TRUE:
            if not seed_key and not keys:
                raise ConfigurationError(
                    "API_REQUIRE_AUTH is true but no API key is configured; set API_KEY (or CONDUIT_API_KEYS, "
                    "comma-separated)"
                )
            if seed_key:
                keys.append(seed_key)
    return list(dict.fromkeys(keys))


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an interface to bind) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warnings(app: Any, host: str) -> list[str]:
    """What an open server would let anyone do: empty with keys, on loopback, or when no
    route of ``app`` (prepared) declares a ``risk`` that no :class:`AuthMiddleware` of the
    app's own covers."""
    if configured_keys(app.settings) or is_loopback(host):
        return []
    guards = [mw for mw, _ in app.middleware if isinstance(mw, AuthMiddleware)]
    risky = sorted(
        (route for route in app.router.routes
         if route.risk and not route.public and not any(guard.protects(route.path) for guard in guards)),
        key=lambda r: (r.path, sorted(r.methods)),
    )
    if not risky:
        return []
    listed = "; ".join(f"{','.join(sorted(r.methods))} {r.path} ({r.risk}, from {r.owner})" for r in risky)
    return [
        f"no API keys are configured and the server listens on {host}, so anyone who reaches it can call: "
        f"{listed}. Set CONDUIT_API_KEYS (comma-separated keys) or bind 127.0.0.1"
    ]


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
        if isinstance(api_keys, Mapping):
            pairs = list(api_keys.items())
        else:
            pairs = [(k, f"client-{i + 1}") for i, k in enumerate(api_keys)]
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

    def protects(self, path: str) -> bool:
        """Whether a request for ``path`` (a route pattern or a request path) needs a key."""
        return self.enabled and path_matches(path, self.protected_prefixes) and not path_matches(
            path, self.exempt_paths
        )

    def _needs_key(self, request: HTTPRequest) -> bool:
        if request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            return False  # CORS preflights never carry credentials
        route = request.route
        if route is not None and route.public:
            return False
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
