"""examples/showcase through a real socket, with clients nobody here wrote.

One showcase is started for the module (conduit.testing.LiveServer) with its entry-point
plugins (the kernel's conftest turns them off; this module turns them back on), no provider
API key (so the in-process stand-in answers), a fixed API key, and a small docs folder so the
background indexing finishes in seconds. Checked: every capability answers; auth, rate-limit
and security headers; the official ``openai`` client on /v1/chat/completions (model="auto");
the official ``mcp`` client on /mcp; prometheus_client's parser on /metrics; the landing page
in headless Debian Chromium (selenium).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conduit.testing import LiveServer, free_port

pytestmark = pytest.mark.slow  # one showcase start (~10 s: model, embedder, indexing) shared by the module

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-showcase-key"
AUTH = {"X-API-Key": KEY}
PROVIDER_VARIABLES = ("OPENAI_API_KEY", "GROQ_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                      "OPENAI_COMPATIBLE_BASE_URL", "CONDUIT_ROUTER_STANDIN_URL", "OTEL_ENABLED", "CONDUIT_PLUGINS",
                      "CONDUIT_DISABLED_PLUGINS")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


class Showcase:
    def __init__(self, server: LiveServer, module: Any, banner: str) -> None:
        self.server, self.module, self.banner = server, module, banner
        self.url = server.url

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=kwargs.pop("headers", AUTH), timeout=30, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers=kwargs.pop("headers", AUTH), timeout=60, **kwargs)


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Showcase]:
    pytest.importorskip("conduit_vector", reason="the showcase needs the plugins (scripts/install-dev)")
    docs = tmp_path_factory.mktemp("docs")
    for name in ("middleware.md", "cli.md"):
        shutil.copy(REPO / "docs" / name, docs / name)
    with pytest.MonkeyPatch.context() as mp:
        for name in PROVIDER_VARIABLES:
            mp.delenv(name, raising=False)
        mp.setenv("CONDUIT_SHOWCASE_API_KEY", KEY)
        mp.setenv("CONDUIT_SHOWCASE_DOCS", str(docs))
        mp.setenv("CONDUIT_EXAMPLES_CACHE", str(tmp_path_factory.mktemp("models")))
        mp.syspath_prepend(str(REPO))
        name = f"_showcase_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "showcase" / "__init__.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        mp.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            server = LiveServer(module.app).start()
        try:
            assert module.app.state.showcase_services.index.wait(60), "indexing the docs took over 60 s"
            yield Showcase(server, module, out.getvalue())
        finally:
            server.stop()


def test_start_up_output_says_where_to_look_and_that_the_stand_in_answers(showcase: Showcase) -> None:
    assert f"/#key={KEY}" in showcase.banner and "(from CONDUIT_SHOWCASE_API_KEY)" in showcase.banner
    assert "LOCAL STAND-IN provider" in showcase.banner
    assert "/docs" in showcase.banner and "/mcp" in showcase.banner and "iris classifier" in showcase.banner


def test_every_capability_answers(showcase: Showcase) -> None:
    status = showcase.get("/api/status").json()
    assert status["missing_plugins"] == [] and status["index"]["state"] == "ready"
    assert status["worker_pid"] == os.getpid()  # LiveServer serves from a thread of this process
    assert showcase.get("/health/ready", headers={}).json()["checks"]["docs_index"]["ok"] is True
    assert showcase.get("/health/live", headers={}).status_code == 200

    single = showcase.post("/predict", {"features": [5.1, 3.5, 1.4, 0.2]}).json()
    assert single["prediction"] == 0 and single["model"] == "iris"
    batch = showcase.post("/predict", {"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}).json()
    assert batch["predictions"] == [0, 2]
    assert showcase.post("/predict", {"features": [1.0, 2.0]}).status_code == 422

    embedded = showcase.post("/api/embed", {"texts": ["Conduit serves models.", "hello"]}).json()
    assert embedded["dimension"] == 384 and len(embedded["embeddings"]) == 2 and len(embedded["embeddings"][0]) == 384

    hits = showcase.post("/api/search", {"query": "how do I add middleware to an app?", "top_k": 3}).json()["results"]
    assert hits and hits[0]["source"] == "middleware.md"
    assert showcase.get("/vectors/count").json()["count"] == status["index"]["chunks"] > 0
    raw = showcase.post("/vectors/search/text", {"text": "command line interface", "top_k": 1}).json()["results"]
    assert raw[0]["metadata"]["source"] == "cli.md"

    answer = showcase.post("/api/ask", {"question": "How is middleware ordered?"}).json()
    assert answer["model"] and answer["reasoning"] and answer["answer"].startswith(f"[{answer['model']}]")
    assert answer["sources"] and answer["sources"][0]["source"] == "middleware.md"
    assert "STAND-IN" in answer["provider_mode"]

    assert showcase.post("/api/notes", {"text": "hi"}).status_code == 201
    page = showcase.get("/", headers={})
    assert page.status_code == 200 and "Conduit showcase" in page.text and "script-src 'self'" in page.headers[
        "content-security-policy"]
    assert showcase.get("/docs", headers={}).status_code == 200
    assert "/api/ask" in showcase.get("/openapi.json", headers={}).json()["paths"]


def test_the_api_needs_the_key_and_carries_the_production_headers(showcase: Showcase) -> None:
    for path in ("/api/status", "/metrics", "/v1/models", "/vectors/count"):
        refused = showcase.get(path, headers={})
        assert refused.status_code == 401, path
        assert refused.headers["x-content-type-options"] == "nosniff"
    assert showcase.get("/api/status", headers={"X-API-Key": "wrong"}).status_code == 401
    allowed = showcase.get("/api/status")
    assert allowed.status_code == 200 and allowed.headers["x-ratelimit-limit"] == "600"
    assert int(allowed.headers["x-ratelimit-remaining"]) < 600


def test_every_protected_route_plugins_included_refuses_a_missing_or_wrong_key(showcase: Showcase) -> None:
    import re

    from conduit.framework.ratelimit import path_matches

    from examples.showcase.app import PROTECTED

    routes = {(method, re.sub(r"\{[^}]+\}|:\w+", "x", route.path)) for route in showcase.module.app.router.routes
              for method in route.methods if method not in ("HEAD", "OPTIONS") and path_matches(route.path, PROTECTED)}
    paths = {path for _, path in routes}
    for wanted in ("/predict", "/vectors/search", "/v1/route", "/v1/complete", "/v1/feedback", "/v1/stats",
                   "/v1/models", "/v1/chat/completions", "/api/embed", "/metrics"):
        assert wanted in paths, wanted
    with httpx.Client(base_url=showcase.url, timeout=30) as http:
        for method, path in sorted(routes):
            for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
                refused = http.request(method, path, headers=headers, json={} if method in ("POST", "PUT") else None)
                assert refused.status_code == 401, (method, path, headers, refused.text)
                assert refused.json()["status"] == 401 and "www-authenticate" in refused.headers
        mcp = http.post("/mcp", headers={"X-API-Key": "wrong"}, json={})
        assert mcp.status_code == 401


def test_ask_gets_its_own_limit_per_key_from_the_environment(showcase: Showcase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONDUIT_DISABLED_PLUGINS")  # the kernel's conftest blocks the plugins for each test
    monkeypatch.setenv("CONDUIT_SHOWCASE_ASK_RATE_LIMIT", "3")
    app = showcase.module.build_app()
    with contextlib.redirect_stdout(io.StringIO()):
        server = LiveServer(app).start()
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as http:
            answers = [http.post("/api/ask", json={"question": f"How is middleware ordered? ({i})"}) for i in range(5)]
            assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
            refused = answers[3]
            assert "3 requests per 60s" in refused.json()["detail"] and int(refused.headers["retry-after"]) >= 1
            assert http.post("/api/search", json={"query": "middleware"}).status_code == 200  # the rest is not limited
    finally:
        server.stop()


@pytest.mark.parametrize("value", ["0", "ten", "-5"])
def test_a_bad_ask_limit_stops_the_start_naming_the_variable(showcase: Showcase, monkeypatch: pytest.MonkeyPatch,
                                                             value: str) -> None:
    import re

    from conduit.framework.errors import ConfigurationError

    monkeypatch.setenv("CONDUIT_SHOWCASE_ASK_RATE_LIMIT", value)
    with pytest.raises(ConfigurationError, match=re.escape("from $CONDUIT_SHOWCASE_ASK_RATE_LIMIT must be ") +
                       f".*{value!r}"):
        showcase.module.build_app()


def test_openai_client_chats_with_model_auto(showcase: Showcase) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=showcase.url + "/v1", api_key=KEY, max_retries=0)
    reply = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "What is 2+2?"}])
    models = {m.id for m in client.models.list().data}
    assert reply.model in models and reply.model != "auto"
    assert reply.choices[0].message.content.startswith(f"[{reply.model}]")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=showcase.url + "/v1", api_key="wrong", max_retries=0).models.list()


def test_mcp_client_lists_and_calls_the_tools(showcase: Showcase) -> None:
    pytest.importorskip("mcp")
    import anyio
    from mcp.client import ClientSession
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

    async def session() -> tuple[set[str], Any, Any]:
        async with create_mcp_http_client(headers=AUTH) as http:
            async with streamable_http_client(showcase.url + "/mcp", http_client=http) as (read, write):
                async with ClientSession(read, write) as client:
                    await client.initialize()
                    tools = {tool.name for tool in (await client.list_tools()).tools}
                    found = await client.call_tool("search_docs", {"query": "middleware order", "top_k": 2})
                    predicted = await client.call_tool("predict", {"features": [6.7, 3.0, 5.2, 2.3]})
                    return tools, found, predicted

    tools, found, predicted = anyio.run(session)
    assert {"search_docs", "ask_docs", "embed", "predict", "route"} <= tools
    assert not found.is_error and found.structured_content["results"][0]["source"] == "middleware.md"
    assert predicted.structured_content["prediction"] == 2


def test_prometheus_parser_reads_the_metrics(showcase: Showcase) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    showcase.post("/predict", {"features": [5.1, 3.5, 1.4, 0.2]})
    text = showcase.get("/metrics?format=prometheus").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    requests = families["conduit_http_requests"]
    routes = {sample.labels.get("route") for sample in requests.samples}
    assert "/predict" in routes and "/api/status" in routes
    assert "conduit_router_decisions" in families


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            pytest.skip(f"{path} is missing: apt-get install -y chromium chromium-driver (Debian package {package})")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a test dependency (requirements/test.txt)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def test_landing_page_searches_asks_and_shows_metrics_in_chromium(showcase: Showcase, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(showcase.url + "/")
    wait.until(lambda d: d.find_element(By.ID, "key-prompt").is_displayed())  # no key yet: the page asks for it
    browser.find_element(By.ID, "api-key").send_keys(KEY)
    browser.find_element(By.ID, "save-key").click()
    wait.until(lambda d: d.find_element(By.ID, "m-total").text.isdigit())
    wait.until(lambda d: "docs index: ready" in d.find_element(By.ID, "status").text)

    browser.find_element(By.ID, "search-q").send_keys("how do I add middleware?")
    browser.find_element(By.ID, "search-btn").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li.hit"))
    first = browser.find_element(By.CSS_SELECTOR, "#search-results li.hit").text
    assert "middleware.md" in first

    browser.find_element(By.ID, "ask-q").send_keys("How is middleware ordered?")
    browser.find_element(By.ID, "ask-btn").click()
    wait.until(lambda d: d.find_element(By.ID, "answer-model").text)
    model = browser.find_element(By.ID, "answer-model").text
    assert browser.find_element(By.ID, "answer").text.startswith(f"[{model}]")
    assert "posterior draws" in browser.find_element(By.ID, "answer-why").text
    before = int(browser.find_element(By.ID, "m-total").text)
    wait.until(lambda d: d.find_element(By.ID, "m-total").text.isdigit() and int(d.find_element(By.ID, "m-total").text) > before)
    assert browser.find_element(By.ID, "error").text == ""
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "401" not in e["message"]]
    assert not severe, severe


def test_landing_page_without_the_key_asks_for_it_then_works_in_chromium(showcase: Showcase, browser: Any) -> None:
    """The address the README gives (no #key=): a prompt saying where the key was printed, not
    the API's raw 401 texts; a refused key asks again; the right one makes the page work."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)

    def settled(d: Any) -> bool:  # the prompt is up, or (before the fix) the 401 texts are in
        return bool(d.find_elements(By.CSS_SELECTOR, "#key-prompt:not([hidden])")) or "401" in d.find_element(
            By.TAG_NAME, "body").text

    browser.get(showcase.url + "/")
    wait.until(settled)
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "`" not in page and "401" not in page and "Unauthorized" not in page, page
    prompt = browser.find_element(By.ID, "key-prompt")
    assert prompt.is_displayed()
    assert "printed" in prompt.text and "API key" in prompt.text and "CONDUIT_SHOWCASE_API_KEY" in prompt.text
    assert browser.switch_to.active_element.get_attribute("id") == "api-key"

    browser.find_element(By.ID, "api-key").send_keys("sk-showcase-from-an-earlier-run")
    browser.find_element(By.ID, "save-key").click()
    wait.until(lambda d: "not accept" in d.find_element(By.ID, "key-prompt").text)
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "`" not in page and "401" not in page, page

    browser.find_element(By.ID, "api-key").clear()
    browser.find_element(By.ID, "api-key").send_keys(KEY)
    browser.find_element(By.ID, "save-key").click()
    wait.until(lambda d: d.find_element(By.ID, "m-total").text.isdigit())
    wait.until(lambda d: "docs index:" in d.find_element(By.ID, "status").text)
    assert not browser.find_element(By.ID, "key-prompt").is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('conduit-showcase-key')") == KEY
    browser.find_element(By.ID, "search-q").send_keys("how do I add middleware?")
    browser.find_element(By.ID, "search-btn").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li.hit"))
    assert browser.find_element(By.ID, "error").text == ""

# --- the showcase as `conduit run` starts it: a process of its own -------------------------------


@contextlib.contextmanager
def showcase_process(tmp_path: Path, **variables: str) -> Iterator[tuple[Any, int, Path]]:
    """``conduit run examples.showcase:app`` on a free port with the plugins on (neither
    CONDUIT_PLUGINS nor CONDUIT_DISABLED_PLUGINS set), no provider key, the model cache in
    ``tmp_path`` and ``variables``; yields the process, its port and its stderr file (the log).
    Killed if still running when the block ends."""
    import subprocess

    pytest.importorskip("conduit_vector", reason="the showcase needs the plugins (scripts/install-dev)")
    env = {name: value for name, value in os.environ.items() if name not in PROVIDER_VARIABLES}
    env.update({"PYTHONUNBUFFERED": "1", "CONDUIT_EXAMPLES_CACHE": str(tmp_path / "models"),
                "CONDUIT_SHOWCASE_API_KEY": KEY, **variables})
    port = free_port()
    log = tmp_path / "stderr.txt"
    with open(tmp_path / "stdout.txt", "w") as out, open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "conduit.cli", "run", "examples.showcase:app",
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO, env=env, stdout=out, stderr=err, text=True)
    try:
        yield proc, port, log
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def wait_for(what: str, condition: Any, proc: Any, log: Path, timeout: float = 120) -> Any:
    """Poll ``condition()`` until it returns something true; fail if the process exits first."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        assert proc.poll() is None, f"the showcase exited ({proc.returncode}) before {what}:\n{log.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s:\n{log.read_text()}")


def readiness(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
    except httpx.HTTPError:
        return None


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_docs_index_builds_stops_the_showcase_cleanly(tmp_path: Path, signum: str) -> None:
    """Ctrl+C or SIGTERM while all of docs/ is being embedded: exit 0 (docs/server.md), no
    C++ abort from a thread left inside onnxruntime, and the persisted index opens whole."""
    import signal

    from conduit_vector import create_vector_db

    store = tmp_path / "vectors"
    with showcase_process(tmp_path, CONDUIT_VECTOR_PATH=str(store)) as (proc, port, log):
        wait_for("the log line saying the docs index is building",
                 lambda: "docs index: indexing" in log.read_text(), proc, log)
        ready = wait_for("an answer from /health/ready", lambda: readiness(port), proc, log)
        assert ready.status_code == 503 and "indexing" in ready.json()["checks"]["docs_index"]["message"], ready.text
        proc.send_signal(getattr(signal, signum))
        status = proc.wait(timeout=60)
    err = log.read_text()
    assert "terminate called" not in err, err
    assert status == 0, err
    assert "docs index: stopped after" in err, err
    db = create_vector_db(384, metric="cosine", path=str(store), embedder=object())
    try:  # what was written is whole batches of whole files' chunks; the next start indexes the rest
        assert db.get_document_count() == len(db.list_ids())
    finally:
        db.close()


def test_the_showcase_variables_are_declared_settings_not_unknown_ones(tmp_path: Path) -> None:
    import signal

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(REPO / "docs" / "cli.md", docs / "cli.md")
    variables = {"CONDUIT_SHOWCASE_RATE_LIMIT": "1234", "CONDUIT_SHOWCASE_ASK_RATE_LIMIT": "7",
                 "CONDUIT_SHOWCASE_DOCS": str(docs), "CONDUIT_SHOWCASE_QUIET": "1"}  # + _API_KEY, EXAMPLES_CACHE
    with showcase_process(tmp_path, **variables) as (proc, port, log):
        wait_for("an answer from /health/ready", lambda: readiness(port), proc, log)
        status = httpx.get(f"http://127.0.0.1:{port}/api/status", headers=AUTH, timeout=30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    err = log.read_text()
    assert "unknown setting" not in err, err
    assert status.headers["x-ratelimit-limit"] == "1234" and status.json()["index"]["files"] == 1
    assert "Conduit showcase" in err and f"/#key={KEY}" in err  # CONDUIT_SHOWCASE_QUIET: the banner on stderr


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("CONDUIT_SHOWCASE_RATE_LIMIT", "abc", "must be an integer, got 'abc'"),
    ("CONDUIT_SHOWCASE_RATE_LIMIT", "0", "must be >= 1"),
    ("CONDUIT_SHOWCASE_ASK_RATE_LIMIT", "ten", "must be an integer, got 'ten'"),
])
def test_a_bad_showcase_setting_stops_conduit_run_naming_it(tmp_path: Path, variable: str, value: str,
                                                           problem: str) -> None:
    with showcase_process(tmp_path, **{variable: value}) as (proc, port, log):
        status = proc.wait(timeout=60)
    err = log.read_text()
    assert status == 1, err
    assert "error: invalid configuration" in err and f"from ${variable} {problem}" in err, err
    assert "Traceback" not in err
