"""The pages in a real browser at a phone's width and a desktop's, checked by axe-core.

axe-core (the engine behind most accessibility checkers, installed from npm by `make test`) runs
in Debian's Chromium on each state of the form (empty, answered, refused) and on a model card;
none may have a serious or critical violation, and no page may scroll sideways on a phone.
Screenshots of each go to var/screenshots/ (git-ignored), for people to look at.
"""

import json
from pathlib import Path

import pytest
from django.conf import settings
from selenium.webdriver.common.by import By

from . import live
from .browser import wait_for
from .conftest import noisy_rows, write_csv

AXE = Path(settings.BASE_DIR) / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}
# WCAG 2.1 A and AA, and axe's best practices.
RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    }
}


def serious_violations(driver) -> list[str]:
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    results = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"axe.run(document, {json.dumps(RULES)})"
        ".then(done, error => done({error: String(error)}));"
    )
    assert "error" not in results, results.get("error")
    assert results["passes"], "axe checked nothing"
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def page_states(driver, base_url, card_url):
    """Each state a person sees: (name, how to reach it, what shows it is reached)."""

    def submit(likes, shares):
        driver.get(f"{base_url}/")
        driver.find_element(By.ID, "id_likes").send_keys(likes)
        driver.find_element(By.ID, "id_shares").send_keys(shares)
        driver.find_element(By.CSS_SELECTOR, ".predict-form button[type=submit]").click()

    return [
        ("form", lambda: driver.get(f"{base_url}/"), "#id_likes"),
        ("answered", lambda: submit("500", "300"), ".result-interval"),
        ("refused", lambda: submit("25000", "abc"), "#id_likes_error"),
        ("model-card", lambda: driver.get(card_url), "#equation"),
    ]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_state_passes_axe_and_fits_the_screen(
    server,
    browser,
    tmp_path,
    trained_models,
    viewport,
    language,
):
    version = trained_models.store(write_csv(tmp_path / "noisy.csv", noisy_rows()))
    live.wait_for_activation()
    width, height = VIEWPORTS[viewport]
    browser.set_window_size(width, height)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The language the page's switch would have chosen (Django's language cookie).
    browser.get(f"{server}/")
    browser.add_cookie({"name": settings.LANGUAGE_COOKIE_NAME, "value": language})

    found = {}
    for name, reach, ready in page_states(browser, server, f"{server}/models/{version.label}/"):
        reach()
        wait_for(browser, ready)
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
        browser.save_screenshot(str(SCREENSHOTS / f"{name}-{language}-{viewport}.png"))
        found[name] = serious_violations(browser)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"

    assert found == {name: [] for name in found}, json.dumps(found, indent=2, ensure_ascii=False)


def test_the_form_can_be_used_with_the_keyboard_alone(server, browser):
    browser.get(f"{server}/")
    body = browser.find_element(By.TAG_NAME, "body")
    # Tab from the top of the page until the likes field has the focus, then type and submit.
    for _ in range(15):
        body.send_keys("\ue004")  # Tab
        if browser.switch_to.active_element.get_attribute("id") == "id_likes":
            break
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "id_likes"
    focused.send_keys("500\ue004")  # type, then Tab to shares
    shares = browser.switch_to.active_element
    assert shares.get_attribute("id") == "id_shares"
    shares.send_keys("300\ue007")  # Enter submits

    assert wait_for(browser, ".result-value").text
    # The focus ring is visible: the stylesheet outlines a focused field.
    browser.find_element(By.ID, "id_likes").click()
    outline = browser.switch_to.active_element.value_of_css_property("outline-style")
    assert outline != "none"
