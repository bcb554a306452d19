"""examples/router/ runs offline, and the production service example serves the /v1 API."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from conduit_router.standin import StandIn

from conduit.testing import TestClient

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "router"
SCRIPTS = ["hello_world", "basic_routing", "with_constraints", "explicit_feedback", "implicit_feedback",
           "combined_feedback", "caching"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_offline(name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONDUIT_REDIS_URL", raising=False)
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip(), f"{name} printed nothing"
    assert "Traceback" not in out


def test_production_service_example_answers_through_the_standin(standin: StandIn, tmp_path: Path) -> None:
    module = runpy.run_path(str(EXAMPLES / "production_service.py"))
    app = module["build_app"](standin.url, router_embedder="hash", router_history=f"sqlite:///{tmp_path / 'h.db'}")
    with TestClient(app) as client:
        r = client.post("/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"].startswith("[")
        assert client.get("/health/ready").status_code == 200
