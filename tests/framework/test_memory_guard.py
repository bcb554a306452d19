"""create_memory_monitor: reads real resident memory and sheds load over the limit."""

from __future__ import annotations

import logging

import pytest

from conduit.app import Conduit
from conduit.framework.edge_cases import create_memory_monitor
from conduit.framework.process import memory_usage
from conduit.testing import TestClient


def test_check_memory_compares_resident_memory_with_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    now = memory_usage().current_mb
    roomy = create_memory_monitor(max_memory_mb=now + 4096)
    tight = create_memory_monitor(max_memory_mb=max(1.0, now / 2))
    current, exceeded = roomy.check_memory()
    assert current == pytest.approx(now, rel=0.5) and not exceeded
    assert tight.check_memory()[1] is True
    with caplog.at_level(logging.INFO, logger="conduit.memory"):
        tight.log_memory_status()
    assert caplog.records[-1].levelno == logging.WARNING and "over the limit" in caplog.records[-1].getMessage()


def test_as_middleware_it_answers_503_while_over_the_limit() -> None:
    app = Conduit(plugins=[])
    app.use(create_memory_monitor(max_memory_mb=1.0, retry_after=7))
    app.get("/")(lambda request: {"ok": True})
    with TestClient(app) as client:
        r = client.get("/")
    assert r.status_code == 503 and r.headers["Retry-After"] == "7"
    assert r.json()["code"] == "memory_limit"
