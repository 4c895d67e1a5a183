"""The API docs pages and the browsable API in a real browser: Debian's Chromium against
gunicorn, as test_browser.py.

Each page must render every operation of the schema while nothing it asks for leaves this server
(Swagger UI and Redoc come from our static files, not a CDN) and nothing is refused by the
Content-Security-Policy or fails to load, which Chromium reports as console errors.
"""

import json
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from .browser import chromium


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path, network_log=True, width=1200)
    try:
        yield driver
    finally:
        driver.quit()


def operation_count(server: str) -> int:
    """How many (path, method) operations the schema documents: the pages must show them all."""
    request = urllib.request.Request(
        f"{server}{reverse('schema')}", headers={"Accept": "application/vnd.oai.openapi+json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        paths = json.loads(response.read())["paths"]
    return sum(len(operations) for operations in paths.values())


def wait_for_count(browser, css: str, count: int, timeout: float = 30):
    """The elements matching `css`, once there are `count` (the UIs render after a fetch)."""
    WebDriverWait(browser, timeout).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, css)) >= count
    )
    return browser.find_elements(By.CSS_SELECTOR, css)


def open_page(browser, url: str) -> None:
    browser.get_log("performance")  # what Chromium did before this page is not its doing
    browser.get(url)


def page_requests(browser) -> list[str]:
    """The document and everything the page loaded: scripts, styles, images, fetches."""
    return browser.execute_script(
        "return [document.URL,"
        " ...performance.getEntriesByType('resource').map((entry) => entry.name)];"
    )


def chromium_requests(browser) -> list[tuple[str, str | None]]:
    """Every request Chromium began for the page, with why it was blocked if it was."""
    began, blocked = {}, {}
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            began[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed":
            blocked[params["requestId"]] = params.get("blockedReason")
    return [(url, blocked.get(request_id)) for request_id, url in began.items()]


# Chromium's own pages: its new-tab page once loaded in the background during a CI run, and its
# requests reached the performance log. They are the browser's, never the page's, and no network.
BROWSER_SCHEMES = ("chrome:", "chrome-untrusted:", "devtools:")


def elsewhere(url: str, server: str) -> bool:
    """Whether `url` is on another host (a data: URL is no request; a blob: URL names its page)."""
    if url.startswith(("data:", *BROWSER_SCHEMES)):
        return False
    here = urlsplit(server)
    there = urlsplit(url.removeprefix("blob:"))
    return (there.scheme, there.netloc) != (here.scheme, here.netloc)


def console_errors(browser) -> list[str]:
    # A refused script, style, worker or image, a failed fetch: each is logged as SEVERE.
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_swagger_ui_renders_every_operation_with_nothing_from_elsewhere(server, browser):
    assert urlsplit(server).hostname == "127.0.0.1"
    expected = operation_count(server)
    open_page(browser, f"{server}{reverse('api-docs')}")

    assert len(wait_for_count(browser, ".opblock", expected)) == expected
    # Opened, the prediction shows its examples, its refusals' among them.
    predict = "#operations-predictions-predictions_create"
    browser.find_element(By.CSS_SELECTOR, f"{predict} .opblock-summary-control").click()
    operation = wait_for_count(browser, f"{predict}.is-open", 1)[0]
    shown = {
        option.get_attribute("textContent")
        for option in operation.find_elements(By.CSS_SELECTOR, "select option")
    }
    assert {"One article", "A batch", "Malformed JSON", "No model is active"} <= shown, shown
    loaded = page_requests(browser)
    assert f"{server}{reverse('schema')}?lang=en" in loaded
    assert [url for url in loaded if elsewhere(url, server)] == []
    assert [url for url, _ in chromium_requests(browser) if elsewhere(url, server)] == []
    errors = console_errors(browser)
    assert errors == [], "\n".join(errors)


def test_redoc_renders_every_operation_with_nothing_from_elsewhere(server, browser):
    assert urlsplit(server).hostname == "127.0.0.1"
    expected = operation_count(server)
    open_page(browser, f"{server}{reverse('api-redoc')}")

    operations = wait_for_count(browser, "[data-section-id^='operation/']", expected)
    assert len(operations) == expected
    predict = browser.find_element(
        By.CSS_SELECTOR, "[data-section-id='operation/predictions_create']"
    )
    assert "A batch with an invalid item" in predict.get_attribute("textContent")
    assert '"views": 174499.32' in predict.text
    loaded = page_requests(browser)
    assert f"{server}{reverse('schema')}?lang=en" in loaded
    # Not even Redocly's badge, which Redoc asks its CDN for (static/js/api-docs-redoc.js).
    assert [url for url in loaded if elsewhere(url, server)] == []
    assert [url for url, _ in chromium_requests(browser) if elsewhere(url, server)] == []
    errors = console_errors(browser)
    assert errors == [], "\n".join(errors)


STAFF_OPERATIONS = {
    "predictions_retrieve",
    "predictions_history_list",
    "predictions_outcome_list",
    "predictions_outcome_create",
    "models_activate_create",
}


def padlocks(operations) -> dict[str, str]:
    """Each operation's padlock, by operation id: what its button says (and its icon shows)."""
    shown = {}
    for operation in operations:
        operation_id = operation.get_attribute("id").removeprefix("operations-").split("-", 1)[1]
        for button in operation.find_elements(By.CSS_SELECTOR, ".authorization__btn"):
            icon = button.find_element(By.TAG_NAME, "svg").get_attribute("class")
            label = button.get_attribute("aria-label").removeprefix("authorization button ")
            assert icon == label, (operation_id, icon, label)
            shown[operation_id] = label
    return shown


def test_swagger_ui_locks_the_staff_operations_until_authorized_and_not_the_public_ones(
    server, browser
):
    expected = operation_count(server)
    open_page(browser, f"{server}{reverse('api-docs')}")
    operations = wait_for_count(browser, ".opblock", expected)

    assert padlocks(operations) == dict.fromkeys(STAFF_OPERATIONS, "locked")
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    [token] = wait_for_count(browser, ".modal-ux input[type=text]", 1)[:1]
    token.send_keys("Token 0123456789abcdef")
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper .authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .btn-done").click()

    WebDriverWait(browser, 10).until(
        lambda driver: (
            padlocks(driver.find_elements(By.CSS_SELECTOR, ".opblock"))
            == dict.fromkeys(STAFF_OPERATIONS, "unlocked")
        )
    )
    errors = console_errors(browser)
    assert errors == [], "\n".join(errors)


def test_redoc_names_one_input_and_a_batch_apart(server, browser):
    open_page(browser, f"{server}{reverse('api-redoc')}")
    [predict] = wait_for_count(browser, "[data-section-id='operation/predictions_create']", 1)

    choices = [
        button.get_attribute("textContent")
        for button in predict.find_elements(By.CSS_SELECTOR, "button")
        if button.get_attribute("textContent").startswith("Prediction")
    ]

    # The request body's "One of", each named once (the 201's, folded, is the schema test's).
    assert choices == ["PredictionInput", "PredictionBatch"]


# The browsable API (DRF's pages) in each language: what a person reads is in that language.
BROWSABLE_WORDS = {
    "en": {"Log in", "Predictions", "Media type", "Content", "viewsite API"},
    "zh-hans": {"登录", "预测", "内容类型", "内容", "viewsite API", "根据点赞数和转发数预测"},
}
ENGLISH_OF_DRF = {"Log in", "Media type", "Django REST framework", "Api Root", "Predictions"}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_browsable_api_speaks_the_readers_language_with_no_console_error(
    server, browser, language
):
    browser.execute_cdp_cmd(
        "Network.setCookie",
        {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": server},
    )
    for url_name in ("predictor:api-root", "predictor:prediction-create"):
        open_page(browser, f"{server}{reverse(url_name)}")
        WebDriverWait(browser, 10).until(lambda driver: driver.find_elements(By.TAG_NAME, "h1"))
        errors = console_errors(browser)
        assert errors == [], "\n".join(errors)

    assert browser.execute_script("return document.documentElement.lang") == language
    text = browser.find_element(By.TAG_NAME, "body").text
    assert all(word in text for word in BROWSABLE_WORDS[language]), text
    if language == "zh-hans":
        assert [word for word in ENGLISH_OF_DRF if word in text] == [], text
    assert "HTTP 200 OK" in text
    form = browser.find_element(By.CSS_SELECTOR, "textarea[name=_content]")
    assert json.loads(form.get_attribute("value")) == {"likes": 1500, "shares": 1000}
