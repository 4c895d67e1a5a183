"""Every page a person reads, in a real browser, in both languages, at a phone's width and a
desktop's (issue 22: "what must hold").

For each page, language and width, in Debian's Chromium against gunicorn:
- a screenshot goes to var/screenshots/<page>-<language>-<width>.png (git-ignored), for people;
- the page does not scroll sideways;
- axe-core (the engine behind most accessibility checkers, installed from npm by `make test`)
  finds no serious or critical violation of WCAG 2.1 A/AA or its best practices;
- Chromium's console holds no error (a refused script or style, a failed load, a missing icon);
- a Chinese page holds no English word outside ALLOWED_ON_CHINESE_PAGES: its visible text, its
  title, and what its alt, title, aria-label and placeholder attributes and its buttons say (a
  plot's words are stated in the page by its alt text and caption).

One test per page, so that a failure names the page; each gathers every problem of its four
views before failing, so that one run shows all that is left. The pages share one Chromium per
module (browser.py); each test has its own gunicorn (one worker) and database.
"""

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from predictor import services
from predictor.models import Channel, Outcome, PredictionRequest
from predictor.services.outcomes import OutcomeItem

from . import live
from .browser import wait_for
from .conftest import linear_rows, noisy_rows, write_csv

AXE = Path(settings.BASE_DIR) / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
LANGUAGES = ("zh-hans", "en")
# A phone (an iPhone 12-15's CSS width) and a laptop.
WIDTHS = (390, 1280)
HEIGHT = 900
# The auditor's name as a Chinese team would have it: what a page shows of its user is the user's,
# not the page's words.
AUDITOR = "审计员"
# WCAG 2.1 A and AA, and axe's best practices.
RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    }
}

# What a Chinese page may write in Latin letters. Each entry was reviewed; add one only with the
# reason a Chinese reader expects it so.
ALLOWED_ON_CHINESE_PAGES = [
    # The product's name, a brand: not translated.
    (r"\bviewsite\b", "the product's name"),
    # Chinese technical writing says API, CSV and JSON as they are (API 文档, CSV 文件).
    (r"\bAPI\b", "API, as Chinese technical writing says it"),
    (r"\bCSV\b", "a file format's name"),
    (r"\bJSON\b", "a file format's name"),
    # HTTP's methods, as Chinese API documentation names them (用 POST 发送): the words a program
    # sends, and the browsable API's buttons that send them.
    (r"\b(?:GET|POST|PUT|PATCH|DELETE|OPTIONS|HEAD)\b", "an HTTP method's name"),
    # The coefficient of determination's symbol, as Chinese statistics textbooks write it.
    (r"\bR²", "R², a statistic's symbol"),
    # A model version's label (v1, v12): the name it has at every door.
    (r"\bv\d+\b", "a version label"),
    # Units after a figure: SI symbols, written so in Chinese too (12.3 ms, 2.3 s).
    (r"(?<=\d)\s?(?:ms|s)\b", "a unit after a number"),
    # display.when names the time zone by its IANA name: "2026年12月7日 20:41 (Asia/Shanghai)".
    (re.escape(settings.TIME_ZONE), "the time zone's IANA name"),
    # An address on this site (/api/predictions/, /api/models/{label}/activate/): what a
    # program or a person types, the same in every language.
    (r"(?<![\w/])/[\w\-./{}]*", "a path on this site"),
    # Chinese software writes IP and ID as they are: IP 地址, 客户端 IP, 批次 ID.
    (r"\bIP\b", "IP, as Chinese software says it"),
    (r"\bID\b", "ID, as Chinese software says it"),
]
_ALLOWED = re.compile("|".join(f"(?:{pattern})" for pattern, _ in ALLOWED_ON_CHINESE_PAGES))
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")

# What a person reads of a page: its text nodes that are rendered, and what its attributes say
# to a screen reader or on hovering. Left out, as they are not the page's words: what is written
# in code elements (JSON, paths, headers: what programs read), what a person typed into a text
# area, and any element the page declares to be in another language (the language switch's
# "English", lang="en").
READ_TEXT = """
const otherLanguage = (element) => {
  const declared = element.closest("[lang]");
  return declared !== null && !declared.lang.toLowerCase().startsWith("zh");
};
const code = (element) =>
  element.closest("pre, code, kbd, samp, script, style, noscript, template, textarea") !== null;
const shown = (element) =>
  element.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true });
const texts = [document.title];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  const element = node.parentElement;
  if (node.nodeValue.trim() && element && !code(element) && !otherLanguage(element)
      && shown(element)) {
    texts.push(node.nodeValue.trim());
  }
}
const said = "[alt], [title], [aria-label], [placeholder], "
  + "input[type=submit], input[type=button], input[type=reset]";
for (const element of document.body.querySelectorAll(said)) {
  if (code(element) || otherLanguage(element)) {
    continue;
  }
  for (const name of ["alt", "title", "aria-label", "placeholder"]) {
    if (element.hasAttribute(name)) {
      texts.push(element.getAttribute(name));
    }
  }
  if (element.matches("input[type=submit], input[type=button], input[type=reset]")) {
    texts.push(element.value);
  }
}
return texts;
"""


@dataclass
class Site:
    """What a test's pages are about: its server, its model, its audit rows."""

    url: str
    version: object
    accepted: int | None = None
    refused: int | None = None


@dataclass(frozen=True)
class Page:
    name: str
    reach: Callable  # (driver, site): brings the page up
    ready: str  # a CSS selector present once it is up
    staff: bool = False  # read by a logged-in auditor
    # The document's own status when it is not 200: Chromium logs it as a console error, and it
    # is the page's answer, not a fault of the page.
    status: int = 200
    # Requests the page makes on its way whose refusal is the answer it asked for: the preview
    # of what is not yet a number is a 400, which Chromium logs as it logs any failed load.
    refused_on_the_way: tuple[str, ...] = ()
    # What the page needs stored first: (site, trained_models, tmp_path) -> None.
    prepare: Callable | None = None


def opened(path: str | Callable) -> Callable:
    def reach(driver, site):
        driver.get(site.url + (path(site) if callable(path) else path))

    return reach


def submit(driver, likes: str, shares: str, *, preview: bool = True) -> None:
    """Type as a person does, and (unless `preview` is off) read the preview before pressing
    Predict: it always answers, rather than sometimes, as the machine is slower or faster."""
    driver.find_element(By.ID, "id_likes").send_keys(likes)
    driver.find_element(By.ID, "id_shares").send_keys(shares)
    if preview:
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "preview").text)
    left = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, ".predict-form button[type=submit]").click()
    # The answer is a new page: until the form's is gone, its elements would pass for the answer's
    # (a screenshot taken while the page changes may never return).
    WebDriverWait(driver, 10).until(expected_conditions.staleness_of(left))


def form_answered(likes: str, shares: str) -> Callable:
    def reach(driver, site):
        driver.get(f"{site.url}/")
        submit(driver, likes, shares)

    return reach


def form_expired(driver, site):
    """The form sent without its CSRF cookie, as after a long pause or cleared cookies."""
    driver.get(f"{site.url}/")
    driver.delete_cookie(settings.CSRF_COOKIE_NAME)
    submit(driver, "1200", "300", preview=False)


def api_posted(driver, site):
    """The browsable API's own form, as a person uses it: JSON typed, POST pressed."""
    driver.get(f"{site.url}/api/predictions/")
    content = wait_for(driver, "#id__content")
    content.clear()
    content.send_keys('{"likes": 1200, "shares": 300}')
    driver.find_element(By.CSS_SELECTOR, "form.form-horizontal button.btn-primary").click()
    WebDriverWait(driver, 10).until(
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".response-info"), "HTTP 201"
        )
    )


def replayed_candidate(site: Site, trained_models, tmp_path: Path) -> None:
    """A stored candidate replayed on 60 answers of the active version, 40 with real views: its
    card's replay section with every figure and a verdict. The site's version becomes it."""
    asked = [{"likes": 100 + 50 * i, "shares": 50 + 30 * i} for i in range(60)]
    answers = services.predict(
        inputs=asked, raw_inputs=asked, info=services.RequestInfo(channel=Channel.API)
    )
    services.record_outcomes(
        [OutcomeItem(answer.pk, 9000 + 90 * i) for i, answer in enumerate(answers[:40])],
        source=Outcome.Source.IMPORT,
    )
    exact = write_csv(tmp_path / "exact.csv", linear_rows())
    candidate = trained_models.store(exact, activate=False)
    services.store_replay(services.replay(candidate))
    site.version = candidate


def admin_change(model: str, pk: Callable) -> Callable:
    return opened(lambda site: reverse(f"admin:predictor_{model}_change", args=[pk(site)]))


# The noisy model's training data spans likes 0-3,000 and shares 0-2,000 (conftest.noisy_rows);
# the form takes up to 20,000 of each.
PAGES = [
    Page("form-empty", opened("/"), "#id_likes"),
    # An answer shows why it is what it is (its waterfall) under it.
    Page("form-inside", form_answered("1200", "300"), ".result .waterfall"),
    Page("form-outside", form_answered("15000", "12000"), ".result .waterfall"),
    # 十二 ("twelve"): how a Chinese reader may well type a number; the page quotes it back, and
    # what it quotes is the reader's own words.
    Page(
        "form-refused",
        form_answered("25000", "十二"),
        "#id_likes_error",
        status=400,
        refused_on_the_way=("/api/predictions/preview/",),
    ),
    Page("form-expired", form_expired, "main h1", status=403),
    Page("model-card", opened(lambda site: f"/models/{site.version.label}/"), "#equation"),
    Page(
        "model-card-replayed",
        opened(lambda site: f"/models/{site.version.label}/"),
        "#replay-verdict",
        prepare=replayed_candidate,
    ),
    Page("admin-login", opened("/admin/login/"), "#id_username"),
    Page("admin-index", opened("/admin/"), "#content-main", staff=True),
    Page(
        "admin-history",
        opened("/admin/predictor/predictionrequest/"),
        "#result_list",
        staff=True,
    ),
    Page(
        "admin-accepted",
        admin_change("predictionrequest", lambda site: site.accepted),
        "#content-main .waterfall",
        staff=True,
    ),
    Page(
        "admin-refused",
        admin_change("predictionrequest", lambda site: site.refused),
        "#content-main",
        staff=True,
    ),
    Page("admin-versions", opened("/admin/predictor/modelversion/"), "#result_list", staff=True),
    Page(
        "admin-version",
        admin_change("modelversion", lambda site: site.version.pk),
        "#content-main",
        staff=True,
    ),
    # django-axes' section: the failed logins (one, the test's own wrong password).
    Page("admin-axes", opened("/admin/axes/accessfailurelog/"), "#result_list", staff=True),
    Page("api-root", opened("/api/"), "#content"),
    Page("api-predictions", opened("/api/predictions/"), "#content"),
    Page("api-posted", api_posted, ".response-info"),
    Page("api-swagger", opened("/api/docs/"), ".opblock"),
    Page("api-redoc", opened("/api/redoc/"), "[data-section-id^='operation/']"),
    Page("not-found", opened("/no-such-page/"), "main h1", status=404),
]


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
        f"axe {violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def english_words(texts: list[str]) -> list[str]:
    """Each Latin word outside the allow-list, once, with where it was read."""
    found: dict[str, str] = {}
    for text in texts:
        for word in _LATIN_WORD.findall(_ALLOWED.sub(" ", text)):
            found.setdefault(word, " ".join(text.split())[:80])
    return [f"English {word!r} in {context!r}" for word, context in found.items()]


def console_errors(driver, site: Site, page: Page) -> list[str]:
    failed = "- Failed to load resource: the server responded with a status of"
    # Chromium names the document as it was asked for, with its fragment (/#answer).
    answers = [f"{driver.current_url} {failed} {page.status} "] if page.status != 200 else []
    answers += [f"{site.url}{path} {failed} 400 " for path in page.refused_on_the_way]
    return [
        f"console: {entry['message']}"
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and not any(entry["message"].startswith(answer) for answer in answers)
    ]


# The page, or a part of it, that a person would have to scroll (or could not see) sideways: the
# document wider than the window, or a box whose content is wider than the box (a table cut off
# in a scrolling wrapper, a sentence clipped at the edge). Code may scroll within its block (a
# long JSON line is not prose to wrap); a visually hidden element (1 px, for screen readers) is
# not read on screen.
SIDEWAYS = r"""
const found = [];
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth) {
  found.push(`the page by ${page.scrollWidth - page.clientWidth}px`);
}
for (const element of document.body.querySelectorAll("*")) {
  const overflow = getComputedStyle(element).overflowX;
  if (overflow === "visible" || element.clientWidth <= 1
      || element.closest("pre, code, textarea") || !element.checkVisibility()) {
    continue;
  }
  const hidden = element.scrollWidth - element.clientWidth;
  // Code: in a code element, or set in a monospace face (Redoc writes its JSON samples so).
  const wideCode = /mono|courier|consolas|menlo/i.test(getComputedStyle(element).fontFamily)
    || [...element.querySelectorAll("pre, code")].some(
      (code) => code.scrollWidth > element.clientWidth);
  if (hidden > 1 && !wideCode) {
    const name = element.tagName.toLowerCase() + (element.id ? `#${element.id}` : "")
      + [...element.classList].map((c) => `.${c}`).join("");
    const text = element.innerText.trim().replace(/\s+/g, " ").slice(0, 40);
    found.push(`${name} by ${hidden}px (overflow-x: ${overflow}): "${text}"`);
  }
}
return found;
"""


def sideways_scroll(driver) -> list[str]:
    return [f"sideways: {where}" for where in driver.execute_script(SIDEWAYS)]


def screenshot(driver, path: Path) -> None:
    """The whole page, not only what the window shows: what is below the fold is read too."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def log_in(driver, site) -> None:
    """As an auditor would, once with a mistyped password (django-axes records it)."""
    for password in ("not-the-password", "pw-for-the-browser"):
        driver.get(f"{site.url}/admin/login/")
        left = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.ID, "id_username").send_keys(AUDITOR)
        driver.find_element(By.ID, "id_password").send_keys(f"{password}\ue007")
        # While the old page is torn down Chromium may answer "Node with given id does not
        # belong to the document" instead of "stale": both mean it has gone.
        WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
            expected_conditions.staleness_of(left)
        )
    wait_for(driver, "#user-tools")


def problems_of(driver, site: Site, page: Page, language: str, width: int) -> list[str]:
    """What is wrong with `page` as it reads in `language` at `width` px; its screenshot."""
    driver.set_window_size(width, HEIGHT)
    # At a phone's width, as a phone lays a page out: its viewport meta tag obeyed, scrollbars
    # drawn over the page rather than taking 15 px of its width.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.add_cookie({"name": settings.LANGUAGE_COOKIE_NAME, "value": language})
    driver.get_log("browser")  # what came before is another page's
    page.reach(driver, site)
    wait_for(driver, page.ready)
    screenshot(driver, SCREENSHOTS / f"{page.name}-{language}-{width}.png")
    found = []
    # A page without a viewport meta tag is laid out 980 px wide on a phone, and shrunk.
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:
        found.append(f"laid out {inner}px wide, not {width}px (a viewport meta tag?)")
    lang = driver.execute_script("return document.documentElement.lang")
    if lang != language:
        found.append(f"<html lang={lang!r}>")
    found += sideways_scroll(driver)
    # The page's console before axe runs: axe-core re-creates a stylesheet's @import (Django's
    # forms.css imports widgets.css) as <style> elements, which the CSP refuses, so the console
    # afterwards also holds axe's own refused styles.
    found += console_errors(driver, site, page)
    found += serious_violations(driver)
    if language.startswith("zh"):
        found += english_words(driver.execute_script(READ_TEXT))
    return found


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_the_page_reads_in_both_languages_at_both_widths(
    page, server, browser, tmp_path, trained_models, django_user_model
):
    # A fit with real error, so the card's plots and the answer's interval are as in use.
    version = trained_models.store(write_csv(tmp_path / "noisy.csv", noisy_rows()))
    live.wait_for_activation()
    site = Site(url=server, version=version)
    if page.prepare is not None:
        page.prepare(site, trained_models, tmp_path)
    if page.staff:
        django_user_model.objects.create_superuser(AUDITOR, password="pw-for-the-browser")
        live.post_json(f"{server}/api/predictions/", {"likes": 1200, "shares": 300})
        live.post_json(f"{server}/api/predictions/", {"likes": "十二", "shares": 300})
        rows = PredictionRequest.objects.order_by("pk")
        site.accepted, site.refused = (rows.get(accepted=flag).pk for flag in (True, False))
        log_in(browser, site)
    else:
        browser.get(f"{server}/healthz")  # the language cookie needs the site's address
    if page.name == "model-card":  # answers, so the card draws its drift tables and plots
        answers = [{"likes": likes, "shares": shares + 900} for likes, shares, _ in noisy_rows(60)]
        assert live.post_json(f"{server}/api/predictions/", answers)[0] == 201
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    try:
        found = {
            f"{language} {width}px": problems_of(browser, site, page, language, width)
            for language in LANGUAGES
            for width in WIDTHS
        }
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    assert urlsplit(browser.current_url).netloc == urlsplit(server).netloc
    assert found == {view: [] for view in found}, json.dumps(found, indent=2, ensure_ascii=False)


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
