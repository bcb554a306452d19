"""Fixtures for the production-kit tests: a real Redis (started when none answers)."""

from __future__ import annotations

from conduit.storage.testing import private_redis, redis_url  # noqa: F401 - fixtures
