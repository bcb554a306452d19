"""Assemble the showcase: production kit, kernel demo, every installed plugin, the landing page.

Middleware, outermost first: security headers, API-key auth, a rate limit (keyed on the
API key); the built-in monitoring (request metrics, ``/metrics``, ``/health/*``) and, with
``OTEL_*`` variables set, conduit-otel's tracing register themselves through hooks. A plugin
that is not installed or is disabled (``CONDUIT_PLUGINS`` / ``CONDUIT_DISABLED_PLUGINS``) is
left out and named in the start-up output; the kernel demo and the page always run.
"""

from __future__ import annotations

import os
import secrets
import sys
from typing import Annotated, Any, NotRequired, TypedDict

from conduit import Conduit, HTTPRequest
from conduit.framework.auth import AuthMiddleware
from conduit.framework.security import rate_limit, security_headers
from conduit.http.middleware import request_id_middleware, timing_middleware

from examples.models import iris

from . import page, settings
from .demo import api

__all__ = ["API_KEY_VARIABLE", "ASK_RATE_LIMIT_VARIABLE", "PLUGINS", "RATE_LIMIT_VARIABLE", "build_app"]

API_KEY_VARIABLE = "CONDUIT_SHOWCASE_API_KEY"
RATE_LIMIT_VARIABLE = "CONDUIT_SHOWCASE_RATE_LIMIT"  # requests per minute per key
ASK_RATE_LIMIT_VARIABLE = "CONDUIT_SHOWCASE_ASK_RATE_LIMIT"  # POST /api/ask per minute per key; unset: none of its own
PLUGINS = ("onnx", "vector", "mcp", "router", "otel")
PROTECTED = ("/api", "/v1", "/vectors", "/mcp", "/predict", "/metrics", "/-")
# A character Python does not strip and JSON Schema (ECMA-262 \s) does not call space.
_NON_BLANK = r"[^\s\x1c-\x1f\x85]"


class EmbedBody(TypedDict):
    texts: Annotated[list[Annotated[str, {"minLength": 1, "maxLength": 2000, "pattern": _NON_BLANK}]], {"minItems": 1, "maxItems": 32}]


class SearchBody(TypedDict):
    query: Annotated[str, {"minLength": 1, "maxLength": 1000, "pattern": _NON_BLANK}]
    top_k: NotRequired[Annotated[int, {"minimum": 1, "maximum": 20}]]


class AskBody(TypedDict):
    question: Annotated[str, {"minLength": 1, "maxLength": 1000, "pattern": _NON_BLANK}]


def _api_key(config: Any) -> tuple[str, bool]:
    """The configured key, else a fresh one for this process (and whether it was generated)."""
    key = (config.showcase_api_key or "").strip()
    return (key, False) if key else ("sk-showcase-" + secrets.token_urlsafe(18), True)


def _plugin_ids(app: Conduit) -> set[str]:
    return {name for name in PLUGINS if app.plugin_manager.get_plugin(name) is not None}


def build_app() -> Conduit:
    """The showcase app (see the package docstring)."""
    # Its settings (settings.py, and the model cache's in examples/models/iris.py) are declared
    # through conduit_config_schema, so CONDUIT_SHOWCASE_* and CONDUIT_EXAMPLES_CACHE are known.
    app = Conduit(extra_plugins=[settings, iris])
    config = settings.read_settings(app, iris.SCHEMA)  # read first: a bad value stops before any loading
    # Installing a plugin changes no app: the showcase enables what serves routes, middleware
    # or checks (the router's /v1 service, OpenTelemetry, the readiness check of a Chroma
    # server when vector_url is set) when installed and not disabled; the rest it uses from
    # code (models, vectors, app.mount_mcp), which needs no enabling.
    for name in ("router", "otel", "vector"):
        if app.plugin_manager.get_plugin(name) is not None:
            app.enable_plugin(name)
    key, generated = _api_key(config)
    limit = (config.showcase_rate_limit, 60.0)
    ask_limit = (config.showcase_ask_rate_limit, 60.0) if config.showcase_ask_rate_limit else None
    app.state.showcase_api_key = key
    app.use(security_headers())
    app.use(AuthMiddleware({key: "showcase"}, protected_prefixes=PROTECTED))
    app.use(rate_limit(*limit, exempt_paths=("/health", "/static", "/docs", "/openapi.json")))
    app.use(request_id_middleware())
    app.use(timing_middleware())
    app.enable_docs(title="Conduit showcase", version="0.1.0",
                    description="Every Conduit capability on embedded defaults. Protected routes need the API key "
                                f"printed at start-up (or ${API_KEY_VARIABLE}) in X-API-Key.")
    app.include(api)
    page.add_routes(app)

    present = _plugin_ids(app)
    missing = [p for p in PLUGINS if p not in present]
    lines: list[str] = []
    services = None
    if {"onnx", "vector", "router"} <= present:
        services = _add_ml(app, lines, ask_limit)
        if "mcp" in present:
            from .mcp_tools import build_mcp_server

            app.mount_mcp("/mcp", build_mcp_server(services))
    elif present & {"onnx", "vector", "router"}:
        lines.append("ML routes off: they need conduit-onnx, conduit-vector and conduit-router together")
    app.state.showcase_services = services
    app.state.showcase_missing = missing

    @app.get("/api/status", tags=["showcase"])
    async def status(request: HTTPRequest) -> dict[str, Any]:
        """What is running: plugins, model, docs index, router mode."""
        body: dict[str, Any] = {"service": "Conduit showcase", "plugins": sorted(present), "missing_plugins": missing,
                                "telemetry": _telemetry_on(app), "worker_pid": os.getpid()}
        if services is not None:
            body.update(index=services.index.status(), model=services.served.description,
                        router=services.router_setup.mode)
        return body

    async def banner() -> None:
        port = app.settings.get("port", 8000)
        base = f"http://127.0.0.1:{port}"
        out = [
            "", "Conduit showcase",
            f"  landing page   {base}/#key={key}",
            f"  API docs       {base}/docs   (OpenAPI: {base}/openapi.json)",
            f"  metrics/health {base}/metrics?format=prometheus   {base}/health/ready",
            f"  API key        {key}" + (f"   (generated for this process; set {API_KEY_VARIABLE} to choose one)"
                                         if generated else f"   (from {API_KEY_VARIABLE})"),
            f"                 curl -H 'X-API-Key: {key}' {base}/api/status",
        ]
        if services is not None:
            out += [f"  model          {base}/predict: {services.served.description}",
                    f"  router         {base}/v1/chat/completions (model=\"auto\"): {services.router_setup.mode}",
                    (f"  docs index     {len(services.index.files)} files from docs/, indexing in the background "
                     "(/health/ready says 'indexing' until done)")]
            if "mcp" in present:
                out.append(f"  MCP            {base}/mcp (tools: search_docs, ask_docs, embed, predict, route)")
        out.append(f"  telemetry      {'on (OTEL_* variables)' if _telemetry_on(app) else 'off (set OTEL_ENABLED=true and OTEL_EXPORTER_OTLP_ENDPOINT)'}")
        out += [f"  note           {line}" for line in lines]
        if missing:
            out.append(f"  not installed or disabled: {', '.join('conduit-' + m for m in missing)}")
        print("\n".join(out) + "\n", file=sys.stderr if config.showcase_quiet else sys.stdout, flush=True)

    app.on_startup(banner)
    return app


def _telemetry_on(app: Conduit) -> bool:
    plugin = app.plugin_manager.get_plugin("otel")
    return plugin is not None and any(owner == "otel" for _, owner in app.middleware)


def _add_ml(app: Conduit, lines: list[str], ask_limit: tuple[int, float] | None = None) -> Any:
    """Model endpoint, embeddings, vectors + RAG over docs/, router; returns the shared Services."""
    from .services import Services

    services = Services(app, app.plugin_manager)
    services.engine = app.model_endpoint("/predict", services.served.model, name=services.served.name,
                                         max_batch_size=32, max_wait_ms=5,
                                         sample_schema=services.served.sample_schema)
    app.vector_endpoints(services.db, prefix="/vectors", text=True)
    app.health_checks["docs_index"] = services.index.health_check  # this app's, not the process-wide registry

    @app.post("/api/embed", body=EmbedBody, tags=["showcase"], responses={422: "Not 1 to 32 texts"})
    async def embed(request: HTTPRequest) -> dict[str, Any]:
        """Embed 1 to 32 texts with the offline MiniLM embedder (384 dimensions)."""
        data = await request.json()
        texts = data.get("texts") if isinstance(data, dict) else None
        return await services.aembed(texts if isinstance(texts, list) else [])

    @app.post("/api/search", body=SearchBody, tags=["showcase"], responses={422: "Empty query"})
    async def search(request: HTTPRequest) -> dict[str, Any]:
        """Semantic search over Conduit's docs/ (results grow while indexing runs)."""
        import anyio

        data = await request.json()
        query = data.get("query") if isinstance(data, dict) else None
        top_k = data.get("top_k", 5) if isinstance(data, dict) else 5
        top_k = top_k if isinstance(top_k, int) and not isinstance(top_k, bool) and 1 <= top_k <= 20 else 5
        results = await anyio.to_thread.run_sync(services.search, query if isinstance(query, str) else "", top_k)
        return {"query": query, "results": results, "index": services.index.status()["state"]}

    async def ask(request: HTTPRequest) -> dict[str, Any]:
        """RAG over the docs: retrieve passages, let the router pick a model, answer; says which model and why."""
        data = await request.json()
        question = data.get("question") if isinstance(data, dict) else None
        return await services.ask(question if isinstance(question, str) else "")

    if ask_limit is not None:  # each answer is an LLM call: a deployment may want it tighter than the rest
        ask = rate_limit(*ask_limit, policy_name="ask")(ask)
    app.post("/api/ask", body=AskBody, tags=["showcase"],
             responses={422: "Empty question", 503: "No model could answer"})(ask)

    app.on_startup(services.router_setup.start)
    app.on_startup(services.index.start)
    app.on_shutdown(services.router_setup.stop)
    app.on_shutdown(services.index.aclose)  # runs first: no indexing thread inside onnxruntime at exit
    return services
