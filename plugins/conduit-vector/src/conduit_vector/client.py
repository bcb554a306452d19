"""Opening and closing chromadb clients: in-memory, on disk, or a Chroma server.

- no ``path`` and no ``url``: ``chromadb.EphemeralClient`` (in this process, in memory);
- ``path``: ``chromadb.PersistentClient(path)`` (SQLite and HNSW files in that folder);
- ``url`` (``http://host:port`` or ``https://...``): ``chromadb.HttpClient`` against a
  server started with ``chroma run --path DIR --host HOST --port PORT``.

Chroma's anonymous telemetry is always off. chromadb shares one in-memory system per
process (and one per ``path``) between clients; closing a client releases its reference.

A server client keeps its HTTP connections alive. An app that opens one while it is built
and then serves with ``--workers N`` would hand the same open sockets to every forked
worker, which would then write their requests onto them interleaved (Chroma answers 400
"Failed to parse the request body"). So before every fork the idle connections of every
server client this process opened are closed; the clients stay usable and each worker
opens its own.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from conduit.framework.errors import ConfigurationError, ServiceUnavailableError

__all__ = ["Mode", "chroma_settings", "close_client", "is_unavailable", "open_client", "parse_url"]

Mode = Literal["memory", "persistent", "http"]


def chroma_settings() -> Any:
    """chromadb ``Settings`` with anonymized telemetry off (the same object shape every time,
    since chromadb refuses two in-memory clients with different settings in one process)."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def parse_url(url: str) -> tuple[str, int, bool]:
    """``(host, port, ssl)`` of a Chroma server URL such as ``http://127.0.0.1:8000``."""
    if not isinstance(url, str):
        raise ConfigurationError(f"url must be a string like 'http://127.0.0.1:8000'; got {type(url).__name__}")
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"Chroma url {url!r} must look like http://HOST:PORT or https://HOST:PORT")
    if parts.path not in ("", "/") or parts.query:
        raise ConfigurationError(f"Chroma url {url!r} must not carry a path or query; give http://HOST:PORT")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8000)
    except ValueError:
        raise ConfigurationError(f"Chroma url {url!r} has an invalid port") from None
    return parts.hostname, port, parts.scheme == "https"


_server_clients: weakref.WeakSet[Any] = weakref.WeakSet()


def _transports(client: Any) -> list[Any]:
    """The httpx transports (connection pools) behind a chromadb ``HttpClient``.

    chromadb 1.5 keeps them at ``client._server._session._transport`` and on its admin
    client; nothing public closes them, so a missing attribute simply yields nothing.
    """
    owners = (client, getattr(client, "_admin_client", None))
    sessions = [getattr(getattr(owner, "_server", None), "_session", None) for owner in owners]
    return [t for t in (getattr(s, "_transport", None) for s in sessions) if t is not None]


def _close_server_connections() -> None:
    for client in list(_server_clients):
        for transport in _transports(client):
            try:
                transport.close()  # the pool reconnects on the next request
            except Exception:  # noqa: BLE001, S110 - never let a fork fail over a socket
                pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_close_server_connections)


def open_client(
    *,
    path: str | os.PathLike[str] | None = None,
    url: str | None = None,
    headers: Mapping[str, str] | None = None,
    tenant: str | None = None,
    database: str | None = None,
) -> tuple[Any, Mode]:
    """A chromadb client and its mode; errors name what to change."""
    import chromadb

    if path is not None and url is not None:
        raise ConfigurationError("give path= (a local Chroma folder) or url= (a Chroma server), not both")
    where: dict[str, str] = {}
    if tenant is not None:
        where["tenant"] = tenant
    if database is not None:
        where["database"] = database
    if url is not None:
        host, port, ssl = parse_url(url)
        try:
            client = chromadb.HttpClient(
                host=host, port=port, ssl=ssl, headers=dict(headers or {}), settings=chroma_settings(), **where
            )
        except Exception as exc:
            if is_unavailable(exc):
                raise ServiceUnavailableError(
                    "the vector store is unreachable",
                    f"no Chroma server answered at {url}; start one with `chroma run --path DIR --host {host} "
                    f"--port {port}` or fix url= / CONDUIT_VECTOR_URL",
                ) from exc
            raise
        _server_clients.add(client)
        return client, "http"
    if headers:
        raise ConfigurationError("headers= only applies to a Chroma server (url=)")
    try:
        if path is not None:
            folder = os.fspath(path)
            if os.path.exists(folder) and not os.path.isdir(folder):
                raise ConfigurationError(f"vector store path {folder!r} exists and is not a folder; pass a folder path")
            return chromadb.PersistentClient(path=folder, settings=chroma_settings(), **where), "persistent"
        return chromadb.EphemeralClient(settings=chroma_settings(), **where), "memory"
    except ValueError as exc:
        if "already exists" in str(exc):
            raise ConfigurationError(
                "this process already opened Chroma at the same place with other settings; create every "
                "client through conduit.ml.create_vector_db (telemetry off) or with "
                "Settings(anonymized_telemetry=False)"
            ) from exc
        raise


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) means the Chroma server could not be reached."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - chromadb depends on httpx
        return False
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.TransportError, ConnectionError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return isinstance(exc, ValueError) and "Could not connect" in str(exc)


def close_client(client: Any) -> None:
    """Release ``client``; for a server client also close its HTTP connection pools.

    chromadb 1.5's ``Client.close()`` releases the shared system but leaves the
    ``httpx.Client`` of the server API (and of its admin client) open, which leaks
    sockets; they are closed here when present.
    """
    close = getattr(client, "close", None)
    if callable(close):
        close()
    for owner in (client, getattr(client, "_admin_client", None)):
        session = getattr(getattr(owner, "_server", None), "_session", None)
        if session is not None and callable(getattr(session, "close", None)):
            session.close()

