"""/docs in a real browser: headless Chromium renders Swagger UI from the installed assets.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``), selenium, and Swagger UI 5 (``swagger-ui-bundle-v2``); it skips
naming whichever is missing. ``CONDUIT_UPDATE_SCREENSHOT=1`` also writes the screenshot to
docs/images/swagger-ui.png (the one docs/openapi.md shows).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from conduit.openapi import swagger_ui
from conduit.testing import LiveServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = REPO / "docs" / "images" / "swagger-ui.png"
HELLO_OPERATIONS = {("GET", "/"), ("GET", "/users"), ("POST", "/users"), ("GET", "/users/{id}"), ("GET", "/health")}


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            pytest.skip(f"{path} is missing: apt-get install -y chromium chromium-driver (Debian package {package})")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a test dependency (requirements/test.txt)")
    from selenium.webdriver.chrome.service import Service

    if swagger_ui()[0] is None:
        pytest.skip("Swagger UI 5 is not installed: pip install swagger-ui-bundle-v2 (the `docs` extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900", "--hide-scrollbars",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _hello_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    name = f"_docs_ui_hello_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "hello.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # get_type_hints finds a class's module there
    spec.loader.exec_module(module)
    return module.app


def test_swagger_ui_renders_the_hello_example_offline(browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with LiveServer(_hello_app(monkeypatch)) as server:
        base = server.url
        browser.get(base + "/docs")
        WebDriverWait(browser, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(HELLO_OPERATIONS))
        operations = {
            (
                block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
                block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
            )
            for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
        }
        title = browser.find_element(By.CSS_SELECTOR, ".info .title").text
        browser.save_screenshot(str(tmp_path / "swagger-ui.png"))
        requested = [
            message["params"]["request"]["url"]
            for entry in browser.get_log("performance")
            if (message := json.loads(entry["message"])["message"])["method"] == "Network.requestWillBeSent"
        ]
        console = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        page = browser.page_source
    assert HELLO_OPERATIONS <= operations
    assert "My API" in title and "1.0.0" in title and "OAS 3.1" in title
    assert "Unable to render" not in page
    # Everything came from the app: no CDN, no other origin (chrome:// is the browser's own start page).
    fetched = [url for url in requested if url.startswith(("http:", "https:", "ws:", "wss:"))]
    assert base + "/openapi.json" in fetched and base + "/docs/assets/swagger-ui-bundle.js?v=" + swagger_ui()[1] in fetched
    assert all(url.startswith(base + "/") for url in fetched), fetched
    assert not console, console  # no blocked script (CSP), no failed asset
    if os.environ.get("CONDUIT_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "swagger-ui.png", SCREENSHOT)
