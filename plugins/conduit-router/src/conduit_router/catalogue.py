"""The default model catalogue, and loading one from a JSON or TOML file.

Prices are the providers' published list prices (USD per million input / output tokens)
as of early 2025; ``quality_prior`` is a rough cold-start guess from public leaderboards
(MMLU / HumanEval / MATH averages), which the router replaces with what it learns.
Configure another catalogue with ``router_models_file`` (``CONDUIT_ROUTER_MODELS_FILE``):
a JSON list of ModelSpec objects, or TOML with ``[[models]]`` tables.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conduit.framework.errors import ConfigurationError
from conduit_router.models import ModelSpec

__all__ = ["DEFAULT_MODELS", "check_catalogue", "default_catalogue", "load_catalogue"]

DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("gpt-4o-mini", "openai", 0.15, 0.60, expected_latency_ms=900, quality_prior=0.72, max_context=128_000),
    ModelSpec("gpt-4o", "openai", 2.50, 10.00, expected_latency_ms=1800, quality_prior=0.85, max_context=128_000),
    ModelSpec("claude-3-5-haiku-latest", "anthropic", 0.80, 4.00, expected_latency_ms=1200, quality_prior=0.72,
              max_context=200_000),
    ModelSpec("claude-sonnet-4-0", "anthropic", 3.00, 15.00, expected_latency_ms=2200, quality_prior=0.88,
              max_context=200_000),
    ModelSpec("gemini-2.0-flash", "google", 0.10, 0.40, expected_latency_ms=800, quality_prior=0.74,
              max_context=1_048_576),
    ModelSpec("llama-3.1-8b-instant", "groq", 0.05, 0.08, expected_latency_ms=400, quality_prior=0.55,
              max_context=131_072),
)


def check_catalogue(models: Iterable[ModelSpec | dict[str, Any]]) -> tuple[ModelSpec, ...]:
    """Validate a catalogue: ModelSpec (or dicts of its fields), at least one, unique names."""
    specs: list[ModelSpec] = []
    for item in models:
        if isinstance(item, dict):
            item = ModelSpec.from_dict(item)
        if not isinstance(item, ModelSpec):
            raise ValueError(f"models must be ModelSpec objects, got {type(item).__name__}")
        specs.append(item)
    if not specs:
        raise ValueError("the router needs at least one model; pass models=[ModelSpec(...), ...]")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"model name(s) listed twice: {', '.join(dupes)}")
    return tuple(specs)


def load_catalogue(path: str | Path) -> tuple[ModelSpec, ...]:
    """Read a catalogue file: JSON (a list, or ``{"models": [...]}``) or TOML (``[[models]]``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"router_models_file {file.name!r} cannot be read ({exc.strerror}); "
                                 "set CONDUIT_ROUTER_MODELS_FILE to a JSON or TOML catalogue") from None
    try:
        data: Any = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"router_models_file {file.name!r} is not valid {file.suffix[1:] or 'JSON'}: {exc}") from None
    if isinstance(data, dict):
        data = data.get("models")
    if not isinstance(data, list):
        raise ConfigurationError(f"router_models_file {file.name!r} must hold a list of models (or [[models]] tables)")
    try:
        return check_catalogue(data)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"router_models_file {file.name!r}: {exc}") from None


def default_catalogue(settings: Any = None) -> tuple[ModelSpec, ...]:
    """The configured catalogue (``router_models_file``), else :data:`DEFAULT_MODELS`."""
    if settings is None:
        from conduit.config import load_settings

        settings = load_settings()
    path = settings.get("router_models_file")
    return load_catalogue(path) if path else DEFAULT_MODELS
