"""The playground's model management controls in a real headless Chromium: with an admin
key the models table loads, unloads and relabels through the OIP repository extension,
and the gateway's REST API (fetched independently) agrees; with an API key there are no
controls. Its own gateway (explicit model control mode, one worker, tiny exports: about
10 s to start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from serving.backends.repository import DIAGRAM_FILE
from tests.browser.conftest import console_errors, screenshot
from tests.integration.conftest import Gateway, start_gateway
from tests.unit.serving.conftest import export_half_plus_two, export_pairs

pytestmark = pytest.mark.slow
ADMIN, INFERENCE = "browser-admin-key", "browser-inference-key"


@pytest.fixture(scope="module")
def manage_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("manage-ui")
    repo = root / "models"
    for export in (export_pairs(str(repo / "pairs" / "1"), bias=0.0),
                   export_pairs(str(repo / "pairs" / "2"), bias=100.0),
                   export_half_plus_two(str(repo / "half_plus_two" / "1"))):
        with_diagram(export)
    config = root / "models.config"
    config.write_text(
        f'model_config_list {{ config {{ name: "pairs" base_path: "{repo / "pairs"}" '
        'model_platform: "tensorflow" model_version_policy { all {} } '
        'version_labels { key: "stable" value: 1 } } }\n')
    with start_gateway(repo, workers=1, env={
            "MULTIHEAD_MODEL_CONTROL_MODE": "explicit", "MULTIHEAD_MODEL_CONFIG": str(config),
            "MULTIHEAD_ADMIN_KEYS": ADMIN, "MULTIHEAD_API_KEYS": INFERENCE}) as gw:
        gw.client.headers["Authorization"] = f"Bearer {INFERENCE}"
        yield gw


def wait(driver: Any, timeout: float = 30) -> WebDriverWait:
    # The table is drawn again after every action: a row found a moment ago may be gone.
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


def with_diagram(export: str) -> None:
    """A picture beside each export, so the page's diagram request finds one."""
    import base64

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk"
                           "+A8AAQUBAScY42YAAAAASUVORK5CYII=")
    target = Path(export) / DIAGRAM_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png)


def unlock(driver: Any, gw: Gateway, key: str) -> None:
    driver.get(gw.http_url + "/")
    # Without a key the listing is a 401 (the one console entry expected before the key).
    wait(driver).until(lambda d: "API key" in d.find_element(By.ID, "status").text)
    errors = console_errors(driver)
    assert all("/v1/models" in e and " 401 " in e for e in errors), errors
    field = driver.find_element(By.ID, "api-key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.ID, "key-apply").click()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#models-table tbody tr"))


def row(driver: Any, name: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f'#models-table tr[data-model="{name}"]')


def test_admin_key_loads_relabels_and_unloads(browser: Any, manage_gateway: Gateway) -> None:
    gw = manage_gateway
    unlock(browser, gw, ADMIN)
    # A model of the repository that is not loaded gets a row with a Load button.
    wait(browser).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, 'tr.not-loaded[data-model="half_plus_two"] button'))
    assert "not loaded" in row(browser, "half_plus_two").text
    row(browser, "half_plus_two").find_element(By.TAG_NAME, "button").click()
    wait(browser).until(lambda d: "v1 AVAILABLE" in row(d, "half_plus_two").text
                        and row(d, "half_plus_two").find_elements(By.CSS_SELECTOR, ".manage")
                        and row(d, "pairs").find_elements(By.CSS_SELECTOR, ".manage"))
    assert gw.get("/v1/models/half_plus_two").json()["model_version_status"][0]["state"] \
        == "AVAILABLE"

    # Move the canary label onto version 2 of pairs.
    controls = row(browser, "pairs").find_element(By.CSS_SELECTOR, ".manage")
    label = controls.find_element(By.CSS_SELECTOR, "input[data-label-input]")
    label.clear()
    label.send_keys("canary")
    Select(controls.find_element(By.TAG_NAME, "select")).select_by_value("2")
    controls.find_element(By.XPATH, ".//button[text()='Set label']").click()
    wait(browser).until(lambda d: "canary → v2" in row(d, "pairs").text)
    assert "stable → v1" in row(browser, "pairs").text
    answer = gw.post("/v1/models/pairs/labels/canary:predict", {"inputs": {
        "left": ["ab"], "right": ["c"], "aux": [[0, 0, 0, 0, 0]]}}).json()
    assert answer["outputs"]["size"] == [pytest.approx(103.0)]  # v2's answer
    screenshot(browser, "playground-management", browser.find_element(By.ID, "models"))

    unload = row(browser, "half_plus_two").find_element(By.XPATH, ".//button[text()='Unload']")
    unload.click()
    wait(browser).until(lambda d: row(d, "half_plus_two").get_attribute("data-loaded")
                        == "false")
    assert gw.get("/v1/models/half_plus_two").json()["model_version_status"][0]["state"] \
        == "END"
    assert "done on every worker" in browser.find_element(By.ID, "manage-status").text


def test_an_api_key_shows_no_management_controls(browser: Any,
                                                 manage_gateway: Gateway) -> None:
    unlock(browser, manage_gateway, INFERENCE)
    wait(browser).until(lambda d: "pairs" in d.find_element(By.ID, "models-table").text)
    # The page asked for the index and was refused (the one console entry expected), then
    # drew no control.
    seen: list[str] = []
    wait(browser).until(lambda d: seen.extend(console_errors(d)) or any(
        " 403 " in e for e in seen))
    assert all("/v2/repository/index" in e and " 403 " in e for e in seen), seen
    assert not browser.find_elements(By.CSS_SELECTOR, "#models-table .manage")
    assert not browser.find_elements(By.CSS_SELECTOR, "tr.not-loaded")
