"""Hook implementations of the conduit-vector plugin (entry point `conduit`: `vector`).

Only hookimpls live here; the work is in the modules beside it. chromadb is imported
only when a store is built, so `conduit plugins` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit import hookimpl

__all__ = ["conduit_config_schema", "conduit_register_apis", "conduit_register_commands", "conduit_register_health_checks",
           "conduit_register_stores"]


@hookimpl
def conduit_config_schema() -> dict[str, Any]:
    from conduit.config import Setting

    return {
        "vector_path": Setting(str, None, "folder of the persistent Chroma store create_vector_db() opens by default"),
        "vector_url": Setting(str, None, "Chroma server (http://HOST:PORT) create_vector_db() opens by default"),
    }


@hookimpl
def conduit_register_stores(register: Callable[..., Any], settings: Any) -> None:
    def vector_db(**options: Any) -> Any:
        from conduit_vector.store import create_vector_db

        options.setdefault("settings", settings)
        return create_vector_db(**options)

    def rag_pipeline(**options: Any) -> Any:
        from conduit_vector.rag import create_rag_pipeline

        return create_rag_pipeline(**options)

    register("vector", "chroma", vector_db)
    register("rag", "chroma", rag_pipeline)


@hookimpl
def conduit_register_commands(register: Callable[..., Any]) -> None:
    from conduit_vector.cli import ARGUMENTS

    def run(args: Any) -> int:
        from conduit_vector.cli import run as run_vectors

        return run_vectors(args)

    register("vectors", run, help="ingest .md/.txt documents into the vector store, search it, count it", arguments=ARGUMENTS)


@hookimpl
def conduit_register_apis(register: Callable[..., Any]) -> None:
    """``app.vector_endpoints`` (imported on first use)."""

    def load() -> Any:
        import conduit_vector

        return conduit_vector

    register("vector", load)


@hookimpl
def conduit_register_health_checks(register: Callable[..., Any], app: Any) -> None:
    """With ``vector_url`` set, readiness asks the Chroma server's heartbeat (a named check)."""
    url = str(app.settings.get("vector_url") or "").rstrip("/")
    if not url:
        return

    async def check() -> tuple[bool, str]:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                response = await client.get(f"{url}/api/v2/heartbeat")
        except httpx.HTTPError as exc:
            return False, f"Chroma server unavailable ({type(exc).__name__}); check vector_url"
        if response.status_code != 200:
            return False, f"Chroma server answered {response.status_code} to its heartbeat; check vector_url"
        return True, "Chroma server answers"

    register("vector", check)
