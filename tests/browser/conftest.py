"""A real headless Chromium against a real gateway, for the playground and /docs.

One gateway per session (`start_gateway` from the integration fixtures, the embedded
runtime, one worker) serves the test models plus the trained `price` and `stereo` exports, with
`MULTIHEAD_API_KEYS` on so that every test also goes through the page's key field. One
browser per session: Debian's `chromium` driven by selenium through Debian's
`chromedriver` (`Service(executable_path=...)`, so Selenium Manager downloads nothing),
with flags that keep it off the network (no sync, no component updates, no QUIC).
Every test fails when the page logged an error to the console (JavaScript errors, CSP
violations, failed loads), read through `goog:loggingPrefs`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Gateway, copy_repository, start_gateway
from tests.price_support import trained_price
from tests.stereo_support import trained_stereo

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
API_KEY = "browser-test-key"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
LAPTOP = (1366, 900)
PHONE = (390, 844)


@pytest.fixture(scope="session")
def ui_gateway(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    repo = copy_repository(Path(model_repo), tmp_path_factory.mktemp("browser") / "models")
    # price/1 and stereo/1 beside the test models: one gateway for every browser test.
    shutil.copytree(trained_price().export_dir, repo / "price" / "1")
    shutil.copytree(trained_stereo().export_dir, repo / "stereo" / "1")
    with start_gateway(repo, workers=1, env={"MULTIHEAD_API_KEYS": API_KEY}) as gw:
        gw.client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield gw


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(scripts/install-system-deps.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mh-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 f"--window-size={LAPTOP[0]},{LAPTOP[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                           options=options)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(driver: Any) -> Iterator[Any]:
    """The session's browser at laptop size; the test fails on any console error."""
    driver.set_window_size(*LAPTOP)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.get_log("browser")  # drop what earlier tests left
    yield driver
    errors = console_errors(driver)
    assert not errors, f"the page logged errors: {errors}"


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver: Any, name: str, element: Any = None) -> Path:
    """build/screenshots/NAME.png: the viewport, or the whole of `element` (past the fold)."""
    import base64

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if element is None:
        driver.save_screenshot(str(path))
        return path
    box = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};",
        element)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": {**box, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def emulate_phone(driver: Any) -> None:
    """A phone's viewport (headless Chromium keeps windows at least 500 px wide)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
