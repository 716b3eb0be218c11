"""The playground and the API docs in a real headless Chromium against a live gateway.

The page is driven as a user drives it (key field, model picker, typing, file picker,
buttons); what it draws is compared with what the gateway's REST API answers for the same
input, fetched independently with httpx.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import API_KEY, PHONE, console_errors, emulate_phone, screenshot
from tests.price_support import sample_listings
from tests.stereo_support import sample_pairs

pytestmark = pytest.mark.slow

POSTS = "exam week on campus\nmy roommate found a thrift store"


def wait(driver: Any, timeout: float = 30) -> WebDriverWait:
    return WebDriverWait(driver, timeout)


def open_playground(driver: Any, gw: Any) -> None:
    """Load / and unlock it with the API key, as a user does."""
    driver.get(gw.http_url + "/")
    # Without a key the gateway answers 401 and the page says how to fix it.
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "status"), "API key"))
    # That 401 is the one console entry expected (Chrome logs every failed load); anything
    # else, a JavaScript error or a CSP violation included, fails the test here or later.
    errors = console_errors(driver)
    assert errors and all("/v1/models" in e and " 401 " in e for e in errors), errors
    key = driver.find_element(By.ID, "api-key")
    key.clear()
    key.send_keys(API_KEY)
    driver.find_element(By.ID, "key-apply").click()
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#models-table tbody tr"))
                       > 0)
    wait(driver).until(lambda d: d.find_element(By.ID, "diagram").get_attribute("src"))


def choose_model(driver: Any, name: str) -> None:
    Select(driver.find_element(By.ID, "model-select")).select_by_value(name)
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#input-fields [data-input]")
                       and d.find_element(By.ID, "diagram-caption").text.endswith(
                           "(inputs, layers, heads)")
                       and f" {name} " in d.find_element(By.ID, "diagram-caption").text)


def click_predict(driver: Any) -> list[Any]:
    driver.find_element(By.ID, "predict-btn").click()
    wait(driver).until(EC.visibility_of_element_located((By.ID, "predict-latency")))
    return driver.find_elements(By.CSS_SELECTOR, "#predict-heads .head")


def heads_by_name(elements: list[Any]) -> dict[str, Any]:
    return {e.get_attribute("data-head"): e for e in elements}


def value(e: Any) -> Any:
    return json.loads(e.get_attribute("data-value"))


def test_lists_every_served_model_with_versions(browser, ui_gateway) -> None:
    open_playground(browser, ui_gateway)
    served = ui_gateway.get("/v1/models").json()["models"]
    rows = {r.get_attribute("data-model"): r.text
            for r in browser.find_elements(By.CSS_SELECTOR, "#models-table tbody tr")}
    assert set(rows) == {m["name"] for m in served} >= {"profiler", "similarity", "price"}
    for m in served:
        for v in m["versions"]:
            assert f"v{v['version']} {v['state']}" in rows[m["name"]]
        for h in m["heads"]:
            assert f"{h['name']}: {h['kind']}" in rows[m["name"]]
    # The diagram beside the form is the PNG the gateway serves, shown as a blob URL.
    img = browser.find_element(By.ID, "diagram")
    assert img.get_attribute("src").startswith("blob:")
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 50


def test_profiler_predict_draws_the_three_heads_as_rest_answers(browser, ui_gateway) -> None:
    open_playground(browser, ui_gateway)
    choose_model(browser, "profiler")
    box = browser.find_element(By.ID, "in-posts")
    box.clear()
    box.send_keys(POSTS)
    heads = heads_by_name(click_predict(browser))
    want = ui_gateway.post("/v1/models/profiler:predict",
                           {"instances": [{"posts": POSTS}]}).json()["predictions"][0]
    assert set(heads) == {"age", "income", "gender"}
    assert heads["age"].get_attribute("data-kind") == "regression"
    assert math.isclose(value(heads["age"]), want["age"], rel_tol=1e-6)
    assert "years" in heads["age"].find_element(By.CLASS_NAME, "head-value").text
    assert heads["income"].get_attribute("data-kind") == "multiclass"
    assert value(heads["income"]) == pytest.approx(want["income"], rel=1e-6)
    assert heads["income"].get_attribute("data-label") == want["income_label"]
    bars = heads["income"].find_elements(By.CSS_SELECTOR, ".bar-row")
    assert [b.get_attribute("data-label") for b in bars] == \
        ["low", "lower-middle", "upper-middle", "high"]
    assert heads["gender"].get_attribute("data-kind") == "binary"
    assert math.isclose(value(heads["gender"]), want["gender"], rel_tol=1e-6)
    assert heads["gender"].get_attribute("data-label") == want["gender_label"]
    # The copyable lines reproduce the call; the raw JSON is the gateway's answer.
    curl = browser.find_element(By.ID, "predict-curl").text
    assert "/v1/models/profiler:predict" in curl and "$MULTIHEAD_API_KEY" in curl
    assert API_KEY not in curl
    assert 'predict("profiler", {"posts": [' in browser.find_element(By.ID, "predict-sdk").text
    browser.find_element(By.CSS_SELECTOR, "#predict-raw summary").click()
    raw = json.loads(browser.find_element(By.ID, "predict-json").text)
    assert raw["predictions"][0]["income_label"] == want["income_label"]
    assert "ms" in browser.find_element(By.ID, "predict-latency").text
    screenshot(browser, "playground-laptop", browser.find_element(By.ID, "predict"))


def test_similarity_task_form_draws_the_rest_score(browser, ui_gateway) -> None:
    open_playground(browser, ui_gateway)
    left, right = "how do i learn python quickly", "what is the best way to study python"
    for field, text in (("sim-left", left), ("sim-right", right)):
        e = browser.find_element(By.ID, field)
        e.clear()
        e.send_keys(text)
    browser.find_element(By.ID, "similarity-btn").click()
    score = wait(browser).until(EC.visibility_of_element_located((By.ID, "similarity-score")))
    want = ui_gateway.post("/v1/similarity", {"pairs": [[left, right]]}).json()["scores"][0]
    assert math.isclose(value(score), want, rel_tol=1e-6)
    assert f"{100 * want:.1f}%" in score.text
    # The same pair through the model's own predict form: the same probability.
    choose_model(browser, "similarity")
    for name, text in (("left", left), ("right", right)):
        browser.find_element(By.ID, f"in-{name}").send_keys(text)
    heads = heads_by_name(click_predict(browser))
    assert math.isclose(value(heads["similarity"]), want, rel_tol=1e-5)
    assert heads["similarity"].get_attribute("data-kind") == "binary"


def test_profile_and_answer_task_forms(browser, ui_gateway) -> None:
    open_playground(browser, ui_gateway)
    posts = browser.find_element(By.ID, "profile-posts")
    posts.clear()
    posts.send_keys(POSTS)
    browser.find_element(By.ID, "profile-btn").click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "profile-latency")))
    want = ui_gateway.post("/v1/profile", {"authors": [POSTS.split("\n")]}).json()
    got = heads_by_name(browser.find_elements(By.CSS_SELECTOR, "#profile-heads .head"))
    assert math.isclose(value(got["age"]), want["profiles"][0]["age"], rel_tol=1e-6)
    assert got["age"].text.endswith("years")  # the profiler card's unit
    assert got["income"].get_attribute("data-label") == want["profiles"][0]["income"]["label"]
    assert got["gender"].get_attribute("data-label") == want["profiles"][0]["gender"]["label"]

    browser.find_element(By.ID, "answer-btn").click()
    ranked = wait(browser).until(EC.visibility_of_element_located((By.ID, "answer-ranked")))
    text = browser.find_element(By.ID, "answer-text").get_attribute("value")
    question = browser.find_element(By.ID, "answer-question").get_attribute("value")
    want = ui_gateway.post("/v1/answer", {"text": text, "question": question,
                                          "top_k": 5}).json()["answers"]
    rows = ranked.find_elements(By.CSS_SELECTOR, ".bar-row")
    assert [r.get_attribute("data-label") for r in rows] == [a["answer"] for a in want]
    assert [float(r.get_attribute("data-value")) for r in rows] == \
        pytest.approx([a["score"] for a in want], rel=1e-6)


def test_price_predict_with_a_picture_shows_euros(browser, ui_gateway, tmp_path: Path) -> None:
    import base64

    listing = sample_listings(1, seed=5)  # its PNG is written by PIL, not by the model
    picture = tmp_path / "item.png"
    picture.write_bytes(listing["png"][0])
    metadata = [float(x) for x in listing["metadata"][0]]
    open_playground(browser, ui_gateway)
    choose_model(browser, "price")
    for i, x in enumerate(metadata):
        e = browser.find_element(By.ID, f"in-metadata-{i}")
        e.clear()
        e.send_keys(repr(x))
    browser.find_element(By.ID, "in-description").send_keys(listing["description"][0])
    browser.find_element(By.ID, "in-picture").send_keys(str(picture))
    heads = heads_by_name(click_predict(browser))
    want = ui_gateway.post("/v1/models/price:predict", {"instances": [{
        "metadata": metadata, "description": listing["description"][0],
        "picture": {"b64": base64.b64encode(picture.read_bytes()).decode()}}]}).json()
    price = want["predictions"][0]
    price = price["price"] if isinstance(price, dict) else price
    assert math.isclose(value(heads["price"]), price, rel_tol=1e-6)
    assert heads["price"].text.endswith("EUR")
    assert 'open("item.png", "rb").read()' in browser.find_element(By.ID, "predict-sdk").text


def test_stereo_predict_with_two_uploads_shows_both_heads(browser, ui_gateway,
                                                         tmp_path: Path) -> None:
    import base64

    pairs = sample_pairs(1, seed=8)  # PNGs written by Pillow, not by the model
    files = {}
    for view in ("left", "right"):
        files[view] = tmp_path / f"{view}.png"
        files[view].write_bytes(pairs[view][0])
    open_playground(browser, ui_gateway)
    choose_model(browser, "stereo")
    # one file picker per picture input, each with its preview
    pickers = browser.find_elements(By.CSS_SELECTOR, "#input-fields input[type=file]")
    assert [p.get_attribute("id") for p in pickers] == ["in-left", "in-right"]
    for view, path in files.items():
        browser.find_element(By.ID, f"in-{view}").send_keys(str(path))
        wait(browser).until(EC.visibility_of_element_located((By.ID, f"in-{view}-preview")))
    heads = heads_by_name(click_predict(browser))
    want = ui_gateway.post("/v1/models/stereo:predict", {"instances": [{
        view: {"b64": base64.b64encode(path.read_bytes()).decode()}
        for view, path in files.items()}]}).json()["predictions"][0]
    assert set(heads) == {"disparity", "same_object"}
    assert heads["disparity"].get_attribute("data-kind") == "regression"
    assert math.isclose(value(heads["disparity"]), want["disparity"], rel_tol=1e-6)
    assert heads["disparity"].text.endswith("px")  # the card's unit
    assert heads["same_object"].get_attribute("data-kind") == "binary"
    assert math.isclose(value(heads["same_object"]), want["same_object"], rel_tol=1e-6)
    assert heads["same_object"].get_attribute("data-label") == want["same_object_label"]
    sdk = browser.find_element(By.ID, "predict-sdk").text
    assert 'open("left.png", "rb").read()' in sdk and 'open("right.png", "rb").read()' in sdk
    screenshot(browser, "playground-stereo", browser.find_element(By.ID, "predict"))


def test_docs_render_the_operation_list_offline(browser, ui_gateway) -> None:
    browser.get(ui_gateway.http_url + "/docs")
    wait(browser, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")) > 5)
    paths = {e.text.replace("\u200b", "")
             for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    doc = ui_gateway.get("/openapi.json").json()
    assert paths == set(doc["paths"])
    # Every script and stylesheet came from the gateway itself (nothing from a CDN).
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(ui_gateway.http_url) for u in urls), urls
    screenshot(browser, "docs-laptop")


def test_phone_width_has_no_horizontal_scroll(browser, ui_gateway) -> None:
    emulate_phone(browser)
    open_playground(browser, ui_gateway)
    assert browser.execute_script("return innerWidth") == PHONE[0]
    choose_model(browser, "profiler")
    browser.find_element(By.ID, "in-posts").send_keys(POSTS)
    click_predict(browser)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
    screenshot(browser, "playground-phone", browser.find_element(By.ID, "predict"))


def test_keyboard_alone_reaches_and_runs_predict(browser, ui_gateway) -> None:
    from selenium.webdriver.common.keys import Keys

    open_playground(browser, ui_gateway)
    choose_model(browser, "profiler")
    browser.find_element(By.ID, "in-posts").send_keys(POSTS)
    # Tab from the text area reaches the Predict button; Enter presses it.
    browser.switch_to.active_element.send_keys(Keys.TAB)
    active = browser.switch_to.active_element
    assert active.get_attribute("id") == "predict-btn"
    active.send_keys(Keys.ENTER)
    wait(browser).until(EC.visibility_of_element_located((By.ID, "predict-latency")))
    # Every form control has a label the browser associates with it.
    unlabeled = browser.execute_script("""
        return [...document.querySelectorAll('input, select, textarea')]
          .filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id);""")
    assert unlabeled == []


def test_float_vector_fields_and_the_ids_signature(browser, ui_gateway) -> None:
    open_playground(browser, ui_gateway)
    # headline: one text area and five number fields (aux is [-1, 5]); two binary heads.
    choose_model(browser, "headline")
    aux = [0.5, 0.1, 0.3, 0.9, 0.2]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#in-aux input[type=number]")) == 5
    for i, x in enumerate(aux):
        e = browser.find_element(By.ID, f"in-aux-{i}")
        e.clear()
        e.send_keys(str(x))
    browser.find_element(By.ID, "in-headline").send_keys("amazing football match")
    heads = heads_by_name(click_predict(browser))
    want = ui_gateway.post("/v1/models/headline:predict", {"instances": [
        {"headline": "amazing football match", "aux": aux}]}).json()["predictions"][0]
    for head in ("main_output", "aux_output"):
        assert heads[head].get_attribute("data-kind") == "binary"
        assert math.isclose(value(heads[head]), want[head], rel_tol=1e-6)
    # profiler's `ids` signature: the form comes from TF Serving's metadata (int32 ids).
    choose_model(browser, "profiler")
    Select(browser.find_element(By.ID, "signature-select")).select_by_value("ids")
    ids = wait(browser).until(EC.presence_of_element_located((By.ID, "in-posts")))
    assert ids.tag_name == "input"
    ids.send_keys("5, 6, 7, 8")
    heads = heads_by_name(click_predict(browser))
    want = ui_gateway.post("/v1/models/profiler:predict", {
        "signature_name": "ids", "instances": [{"posts": [5, 6, 7, 8]}]}).json()
    assert math.isclose(value(heads["age"]), want["predictions"][0]["age"], rel_tol=1e-6)
    assert 'signature="ids"' in browser.find_element(By.ID, "predict-sdk").text


def test_a_javascript_error_is_caught_by_the_console_check(driver, ui_gateway) -> None:
    # The check every test ends with can fail: a thrown error shows up in the log.
    driver.get(ui_gateway.http_url + "/docs")
    driver.get_log("browser")
    driver.execute_script("setTimeout(() => { throw new Error('deliberate test error'); })")
    wait(driver).until(lambda d: any("deliberate test error" in e["message"]
                                     for e in d.get_log("browser") if e["level"] == "SEVERE"))


def test_drift_view_draws_each_head_beside_its_training_distribution(browser,
                                                                     ui_gateway) -> None:
    from tests.unit.serving.test_drift import profiler_stream

    posts = profiler_stream(skewed=True, n=160)  # over drift.MIN_COUNT: a PSI is shown
    for i in range(0, len(posts), 20):
        assert ui_gateway.post("/v1/models/profiler:predict",
                               {"instances": posts[i:i + 20]}).status_code == 200
    report = ui_gateway.get("/v1/drift").json()
    want = {r["head"]: r for r in report["heads"] if r["model"] == "profiler"}
    assert set(want) == {"age", "income", "gender"}
    open_playground(browser, ui_gateway)
    browser.find_element(By.ID, "drift-refresh").click()
    section = browser.find_element(By.ID, "drift")
    # The view is drawn again by each refresh: read it whole in one script, so no element
    # found a moment ago can go stale in between.
    read = """return [...document.querySelectorAll('#drift-out [data-model=profiler]')].map(c => ({
        head: c.dataset.head, classes: [...c.classList], text: c.innerText,
        rows: [...c.querySelectorAll('tbody tr')].map(r => [r.querySelector('th').innerText,
            ...[...r.querySelectorAll('.drift-num')].map(n => n.innerText)])}))"""
    cards = wait(browser).until(
        lambda d: {c["head"]: c for c in d.execute_script(read)} or None)
    assert set(cards) == set(want)
    for head, card in cards.items():
        assert [r[0] for r in card["rows"]] == want[head]["bins"]
        # Shown to 0.1 %: JavaScript rounds 6.25 up, Python's format to even.
        shown = [[float(x.rstrip("%")) for x in r[1:]] for r in card["rows"]]
        assert all(x.endswith("%") for r in card["rows"] for x in r[1:])
        assert shown == [[pytest.approx(100 * t, abs=0.051), pytest.approx(100 * v, abs=0.051)]
                         for t, v in zip(want[head]["training"], want[head]["live"],
                                         strict=True)]
    # The skewed stream (the oldest authors only) moved the age head past the threshold.
    assert "drift" in cards["age"]["classes"]
    assert want["age"]["psi"] > report["threshold"]
    assert f"PSI {want['age']['psi']:.3f}" in cards["age"]["text"]
    browser.execute_script("arguments[0].scrollIntoView()", section)
    screenshot(browser, "playground-drift", section)
