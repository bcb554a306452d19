"""Hook implementations of the conduit-router plugin (entry point `conduit`: `router`).

Only hookimpls live here; the router, its learning and its service are in the modules
beside it. Nothing heavy is imported until a hook needs it, and the app's Router is built
on the first request that uses it, so an app that never routes pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conduit import hookimpl

__all__ = [
    "conduit_config_schema",
    "conduit_configure",
    "conduit_metrics",
    "conduit_register_apis",
    "conduit_register_commands",
    "conduit_register_health_checks",
    "conduit_register_middleware",
    "conduit_register_routes",
    "conduit_shutdown",
]


@hookimpl
def conduit_config_schema() -> dict[str, Any]:
    from conduit.config import Setting

    def model_rates_ok(value: Any) -> str | None:
        from conduit_router.providers.ratelimit import parse_model_rates

        try:
            parse_model_rates(value)
        except ValueError as exc:
            return str(exc)
        return None

    def objective_ok(value: str) -> str | None:
        from conduit_router.models import Objective

        try:
            Objective.parse(value)
        except ValueError as exc:
            return str(exc)
        return None

    return {
        "router_service": Setting(bool, True, "serve the router's /v1 routes (route, complete, feedback, stats, "
                                  "models, chat/completions)"),
        "router_prefix": Setting(str, "/v1", "path prefix of the router's routes"),
        "router_state": Setting(str, None, "state store URL for router posteriors (redis://...); redis_url "
                                "otherwise, memory when neither is set"),
        "router_history": Setting(str, "sqlite:///conduit-router.db", "decision/feedback history: sqlite:///path, "
                                  "postgresql://..., or none"),
        "router_history_flush_interval": Setting(float, 0.5, "the most seconds a decision or feedback row waits "
                                                 "before it is written to router_history: what a crash can lose",
                                                 minimum=0.01),
        "router_models_file": Setting(str, None, "JSON or TOML model catalogue (the built-in one otherwise)"),
        "router_objective": Setting(str, "balanced", "weights of quality, cost and latency: a preset (balanced, "
                                    "quality, cost, speed) or quality=0.7,cost=0.2,latency=0.1; or a quality "
                                    "target: value (the cheapest model within 95% of the best) or "
                                    "quality_target=0.95; or a spending limit: cost_budget=0.5 (at most half "
                                    "of the priciest model's cost, on average), alone or with weights",
                                    check=objective_ok),
        "router_embedder": Setting(str, "auto", "query embedder: auto (MiniLM when conduit-onnx is installed), hash, "
                                   "or a registered embedder's name"),
        "router_latency_tolerance_ms": Setting(float, 15_000.0, "answers slower than this count as slow",
                                               minimum=1.0),
        "router_provider_timeout": Setting(float, 60.0, "seconds a provider call may take", minimum=0.1),
        "router_max_retries": Setting(int, 3, "retries of a failed provider call (429, 5xx, timeouts) before "
                                      "falling back to the next model", minimum=0, maximum=10),
        "router_retry_initial_delay": Setting(float, 0.5, "seconds before the first retry of a provider call "
                                              "(then doubled, with jitter)", minimum=0.0),
        "router_retry_max_delay": Setting(float, 20.0, "longest wait between retries of a provider call, seconds",
                                          minimum=0.0),
        "router_cache": Setting(bool, True, "answer identical provider calls from the response cache"),
        "router_cache_ttl": Setting(float, 3600.0, "seconds a cached provider answer is kept", minimum=1.0),
        "router_cache_max_size": Setting(int, 1000, "answers the in-process response cache keeps (LRU)", minimum=1),
        "router_rate_limit": Setting(float, None, "provider calls a second per provider (token bucket; calls wait, "
                                     "never fail); unset: no limit (the providers' 429 + Retry-After bind, "
                                     "see docs/router.md)", minimum=0.001),
        "router_model_rate_limits": Setting((str, dict), None, "provider calls a second per model (token bucket; "
                                            "calls wait, never fail): model=rate pairs, e.g. "
                                            "gpt-4o=5,claude-sonnet-4-0=2 (*=rate for the models not named); "
                                            "unset: none", check=model_rates_ok),
        "router_max_request_size": Setting(int, None, "bytes of a request body the /v1 routes accept (POST; GET is "
                                           "exempt); 413 past it (seed 001's API_MAX_REQUEST_SIZE sets it too). "
                                           "Unset: 10000 (seed 001); 0: only the server's max_body_size", minimum=0),
        "router_standin_url": Setting(str, None, "send every provider call to this local stand-in "
                                      "(python -m conduit_router.standin) instead of the real APIs"),
    }


@hookimpl
def conduit_configure(app: Any, settings: Any) -> None:
    if settings.get("router_model_rate_limits"):
        from conduit_router.service import model_rate_limits

        model_rate_limits(settings)  # a model the catalogue lacks fails at start-up, not on the first call


@hookimpl
def conduit_register_routes(register: Callable[..., Any], app: Any) -> None:
    if not app.settings.get("router_service", True):
        return
    from conduit_router.service import register_service

    register_service(register, app.settings.get("router_prefix") or "/v1")


@hookimpl
def conduit_register_middleware(register: Callable[..., Any], app: Any) -> None:
    if not app.settings.get("router_service", True):
        return
    from conduit_router.service import BodyLimit, body_limit

    limit = body_limit(app.settings)
    if limit:
        register(BodyLimit(limit))


@hookimpl
def conduit_register_health_checks(register: Callable[..., Any], app: Any) -> None:
    async def check() -> tuple[bool, str]:
        import asyncio

        router = app.state.get("conduit_router")
        history = router.history if router is not None else _history_probe(app)
        if history is not None:
            # Seed 001: readiness checks the database the decisions and feedback are written to.
            try:
                await asyncio.wait_for(history.ping(), timeout=5.0)
            except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
                return False, f"router history database unavailable ({type(exc).__name__}); check router_history"
        if router is None:
            return True, "router not used yet" + ("; history database answers" if history is not None else "")
        try:
            await router.store.ping()
        except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
            return False, f"router state store unavailable ({type(exc).__name__}); routing continues from memory"
        return True, f"{len(router.models)} models, {router.stats()['decisions']} decisions"

    register("router", check)


def _history_probe(app: Any) -> Any:
    """Before the router is first used: a history client for a database server
    (PostgreSQL) named by router_history, made once, to probe; None for SQLite or none."""
    probe = app.state.get("conduit_router_history_probe")
    if probe is None:
        url = str(app.settings.get("router_history") or "")
        if not url.startswith(("postgresql://", "postgres://")):
            return None
        from conduit_router.history import create_history

        probe = app.state.conduit_router_history_probe = create_history(url)
    return probe


@hookimpl
def conduit_metrics(app: Any) -> list[tuple[str, str, dict[str, str], float]] | None:
    router = app.state.get("conduit_router")
    if router is None:
        return None
    samples: list[tuple[str, str, dict[str, str], float]] = []
    stats = router.stats()
    for name, model in stats["models"].items():
        labels = {"model": name, "provider": model["provider"]}
        samples.append(("conduit_router_decisions_total", "counter", labels, float(model["decisions"])))
        samples.append(("conduit_router_spend_usd_total", "counter", labels, float(model["spend"])))
        samples.append(("conduit_router_model_failures_total", "counter", labels, float(model["failures"])))
        samples.append(("conduit_router_estimated_quality", "gauge", labels, float(model["estimated_quality"])))
        samples.append(("conduit_router_model_available", "gauge", labels, 0.0 if model["breaker"] == "open" else 1.0))
    for provider, metrics in stats["providers"].items():
        labels = {"provider": provider}
        samples.append(("conduit_router_provider_requests_total", "counter", labels, float(metrics["requests"])))
        samples.append(("conduit_router_provider_errors_total", "counter", labels, float(sum(metrics["errors"].values()))))
        samples.append(("conduit_router_provider_available", "gauge", labels, 1.0 if metrics["available"] else 0.0))
        length = metrics["response_length"]
        samples.append(("conduit_router_provider_answers_total", "counter", labels, float(length["answers"])))
        samples.append(("conduit_router_provider_response_chars_total", "counter", labels,
                        float(length["chars"]["total"])))
        samples.append(("conduit_router_provider_completion_tokens_total", "counter", labels,
                        float(length["completion_tokens"]["total"])))
        for quantile in ("p50", "p95"):
            if length["chars"][quantile] is not None:
                samples.append(("conduit_router_provider_response_chars", "gauge",
                                {**labels, "quantile": {"p50": "0.5", "p95": "0.95"}[quantile]},
                                float(length["chars"][quantile])))
    return samples


@hookimpl
async def conduit_shutdown(app: Any) -> None:
    router = app.state.get("conduit_router")
    if router is not None:
        app.state.conduit_router = None
        await router.aclose()
    probe = app.state.get("conduit_router_history_probe")
    if probe is not None:
        app.state.conduit_router_history_probe = None
        await probe.close()


@hookimpl
def conduit_register_commands(register: Callable[..., Any]) -> None:
    def run(args: Any) -> int:
        from conduit_router.standin import main

        return main(["--host", args.host, "--port", str(args.port), "--chunk-delay", str(args.chunk_delay)])

    register("router-standin", run, help="serve a local stand-in for the OpenAI, Anthropic and Gemini APIs",
             arguments=[(("--host",), {"default": "127.0.0.1"}), (("--port",), {"type": int, "default": 8099}),
                        (("--chunk-delay",), {"type": float, "default": 0.0})])


@hookimpl
def conduit_register_apis(register: Callable[..., Any]) -> None:
    """``conduit.engines.router`` and ``conduit.core.models`` (imported on first use)."""

    def load() -> Any:
        import conduit_router

        return conduit_router

    register("router", load)
