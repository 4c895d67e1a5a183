"""The pages in a real browser: Debian's Chromium, driven through chromedriver, against gunicorn."""

import csv
import io
import re
import urllib.request

from django.conf import settings
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from predictor.models import ModelVersion, PredictionRequest

from . import live
from .browser import chromium, wait_for
from .conftest import exact_views, linear_rows, write_csv
from .test_cards import noisy_views


def test_the_form_predicts_in_a_browser_with_its_stylesheet_and_no_javascript(
    server, browser_without_javascript
):
    browser = browser_without_javascript
    browser.get(f"{server}/")
    button = browser.find_element(By.CSS_SELECTOR, ".predict-form button[type=submit]")
    # The stylesheet arrived (served with a hashed name by WhiteNoise here, nginx in production).
    assert button.value_of_css_property("background-color") == "rgba(11, 122, 85, 1)"
    browser.find_element(By.ID, "id_likes").send_keys("500")
    browser.find_element(By.ID, "id_shares").send_keys("300")
    button.click()

    result = wait_for(browser, ".result-value")
    assert result.text == f"{exact_views(500, 300):,}"
    assert browser.find_element(By.CSS_SELECTOR, ".model-version").text == "v1"
    record = PredictionRequest.objects.get(channel="form")
    assert (record.channel, record.accepted, record.likes, record.shares) == (
        "form",
        True,
        500,
        300,
    )


def test_bad_input_is_shown_next_to_its_field(server, browser):
    browser.get(f"{server}/")
    browser.find_element(By.ID, "id_likes").send_keys("25000")
    browser.find_element(By.ID, "id_shares").send_keys("3")
    browser.find_element(By.CSS_SELECTOR, ".predict-form button[type=submit]").click()

    error = wait_for(browser, "#id_likes_error")
    assert error.text == "Ensure this value is less than or equal to 20,000."
    # A screen reader reads the field's hint and the message with the field they belong to.
    field = browser.find_element(By.ID, "id_likes")
    hint = browser.find_element(By.ID, "id_likes_helptext")
    assert field.get_attribute("aria-describedby").split() == [
        hint.get_attribute("id"),
        error.get_attribute("id"),
    ]
    assert browser.find_elements(By.CSS_SELECTOR, ".result-value") == []
    assert PredictionRequest.objects.get(channel="form").accepted is False


def test_the_browsable_api_posts_a_prediction(server, browser):
    browser.get(f"{server}/api/predictions/")
    content = wait_for(browser, "#id__content")
    content.clear()
    content.send_keys('{"likes": 120, "shares": 40}')
    browser.find_element(By.CSS_SELECTOR, "form.form-horizontal button.btn-primary").click()

    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".response-info"), "HTTP 201 Created"
        )
    )
    response_text = browser.find_element(By.CSS_SELECTOR, ".response-info").text
    assert f'"views": {exact_views(120, 40)}.0' in response_text
    assert PredictionRequest.objects.get().channel == "api"


def test_the_pages_obey_their_content_security_policy(server, browser):
    with urllib.request.urlopen(f"{server}/", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    for path in ("/", "/api/predictions/", "/api/models/", "/admin/login/"):
        browser.get(f"{server}{path}")
        wait_for(browser, "body")
    # Chrome logs every blocked script, style or frame as a console error.
    violations = [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    assert violations == [], "\n".join(violations)


def test_the_answer_leads_to_a_model_card_whose_plots_all_load_without_a_console_error(
    server, browser, tmp_path, trained_models
):
    # A fit with real error, so the plots have points on both sides of the line.
    noisy = write_csv(tmp_path / "noisy.csv", linear_rows(60, relation=noisy_views))
    version = trained_models.store(noisy)
    live.wait_for_activation()
    browser.get(f"{server}/")
    browser.find_element(By.ID, "id_likes").send_keys("500")
    browser.find_element(By.ID, "id_shares").send_keys("300")
    browser.find_element(By.CSS_SELECTOR, ".predict-form button[type=submit]").click()

    assert wait_for(browser, ".result-interval").text.startswith("About ")
    link = browser.find_element(By.CSS_SELECTOR, ".model-version")
    assert link.text == version.label
    link.click()

    equation = wait_for(browser, "#equation")
    assert browser.current_url == f"{server}/models/{version.label}/"
    assert equation.is_displayed()
    assert re.fullmatch(
        r"views ≈ \d+\.\d\d × likes \+ \d+\.\d\d × shares [+−] [\d,]+(\.\d\d)?", equation.text
    ), equation.text
    images = browser.find_elements(By.CSS_SELECTOR, ".plots img")
    assert len(images) == len(version.plots) // len(settings.LANGUAGES) == 3
    WebDriverWait(browser, 10).until(
        lambda driver: all(
            driver.execute_script("return arguments[0].complete", image) for image in images
        )
    )
    for image in images:
        assert image.is_displayed()
        natural = browser.execute_script(
            "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image
        )
        # Drawn at 100 dpi, 5 inches wide; 0 would mean the browser could not decode it.
        assert natural[0] == 500, (image.get_attribute("src"), natural)
        assert natural[1] > 0
    # A blocked script or style, a plot refused with 404, a failed load: each is a console error.
    # (The site has no icon, and Chromium asks for /favicon.ico on its own: not the page's doing.)
    errors = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and not entry["message"].startswith(f"{server}/favicon.ico ")
    ]
    assert errors == [], "\n".join(errors)


def page_language(driver) -> str:
    # Asked of the document each time: an element found before the switch's navigation is stale.
    return driver.execute_script("return document.documentElement.lang")


def test_the_language_switch_changes_the_page_and_its_messages_and_is_remembered(server, browser):
    browser.get(f"{server}/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    browser.find_element(By.CSS_SELECTOR, ".language-switch button[value=zh-hans]").click()

    WebDriverWait(browser, 10).until(lambda driver: page_language(driver) == "zh-hans")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=id_likes]").text == "点赞数"
    browser.find_element(By.ID, "id_likes").send_keys("25000")
    browser.find_element(By.ID, "id_shares").send_keys("3")
    browser.find_element(By.CSS_SELECTOR, ".predict-form button[type=submit]").click()
    # The refusal in place, in the chosen language (Django's own catalogue says it in Chinese).
    assert wait_for(browser, "#id_likes_error").text == "确保该值小于或等于20,000。"

    # Remembered: a new visit is still in Chinese; the switch goes back to English.
    browser.get(f"{server}/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-hans"
    browser.find_element(By.CSS_SELECTOR, ".language-switch button[value=en]").click()
    WebDriverWait(browser, 10).until(lambda driver: page_language(driver) == "en")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=id_likes]").text == "Likes"


def test_the_answer_is_previewed_as_you_type_and_recorded_only_when_submitted(server, browser):
    browser.get(f"{server}/")
    preview = browser.find_element(By.ID, "preview")
    assert not preview.is_displayed()
    browser.find_element(By.ID, "id_likes").send_keys("1,200")  # typed as people type it
    browser.find_element(By.ID, "id_shares").send_keys("300")

    WebDriverWait(browser, 10).until(lambda driver: preview.is_displayed())
    views = f"{exact_views(1200, 300):,}"
    assert preview.text.startswith(f"Preview: about {views} views")
    assert "Press Predict to record it as your answer." in preview.text
    assert browser.find_elements(By.CSS_SELECTOR, ".result-value") == []
    # Each preview went through the API's preview operation and was audited as a preview; no
    # form answer yet.
    previews = PredictionRequest.objects.filter(channel="preview", accepted=True)
    assert previews.exists()
    assert not PredictionRequest.objects.filter(channel="form").exists()

    browser.find_element(By.ID, "id_likes").send_keys("x")
    WebDriverWait(browser, 10).until(lambda driver: "not yet a number" in preview.text)

    browser.find_element(By.ID, "id_likes").send_keys("\ue003")  # Backspace: 1,200 again
    browser.find_element(By.CSS_SELECTOR, ".predict-form button[type=submit]").click()
    assert wait_for(browser, ".result-value").text == views
    assert PredictionRequest.objects.get(channel="form").likes == 1200


def test_the_preview_says_when_an_answer_lies_outside_the_training_range(server, browser):
    # The server's model was trained on likes 100 to 1,543 and shares 50 to 445 (linear_rows).
    browser.get(f"{server}/")
    preview = browser.find_element(By.ID, "preview")
    browser.find_element(By.ID, "id_likes").send_keys("1200")
    browser.find_element(By.ID, "id_shares").send_keys("300")
    WebDriverWait(browser, 10).until(lambda driver: preview.is_displayed())
    inside = preview.text
    assert inside.startswith(f"Preview: about {exact_views(1200, 300):,} views")
    assert "extrapolation" not in inside

    browser.find_element(By.ID, "id_shares").send_keys("0")  # 3000 shares: above the range
    WebDriverWait(browser, 10).until(lambda driver: "extrapolation" in preview.text)
    assert preview.text.startswith(f"Preview: about {exact_views(1200, 3000):,} views")
    assert preview.text.endswith(
        "Press Predict to record it as your answer. 3,000 shares is above the range the model "
        "was trained on (50 to 445), so this prediction is an extrapolation and may be off."
    )

    # In Chinese, the API's sentence in Chinese: the page's language, not the browser's.
    browser.find_element(By.CSS_SELECTOR, ".language-switch button[value=zh-hans]").click()
    WebDriverWait(browser, 10).until(lambda driver: page_language(driver) == "zh-hans")
    browser.find_element(By.ID, "id_likes").send_keys("1200")
    browser.find_element(By.ID, "id_shares").send_keys("3000")
    preview = browser.find_element(By.ID, "preview")
    WebDriverWait(browser, 10).until(lambda driver: "外推" in preview.text)
    # Grouped by 3 with "," as display writes it in Chinese too (Django's zh_Hans would not).
    assert f"约 {exact_views(1200, 3000):,} " in preview.text
    assert preview.text.endswith(
        "转发数 3,000 高于训练数据的范围（50 至 445），这个预测是外推的，可能不准。"
    )


def served_by_the_active_version() -> int:
    return ModelVersion.objects.with_live_error().get(is_active=True).live_predictions


def test_typing_leaves_previews_in_the_audit_and_only_predict_adds_a_served_answer(server, browser):
    browser.get(f"{server}/")
    preview = browser.find_element(By.ID, "preview")
    served = served_by_the_active_version()
    browser.find_element(By.ID, "id_shares").send_keys("300")
    likes = browser.find_element(By.ID, "id_likes")
    # A key at a time, each pause long enough for the preview to answer what is typed so far.
    for typed, key in ((5, "5"), (50, "0"), (500, "0")):
        likes.send_keys(key)
        views = f"{exact_views(typed, 300):,}"
        WebDriverWait(browser, 10).until(lambda driver, views=views: views in preview.text)

    audited = PredictionRequest.objects.order_by("pk")
    assert [(r.channel, r.likes) for r in audited] == [
        ("preview", 5),
        ("preview", 50),
        ("preview", 500),
    ]
    assert served_by_the_active_version() == served

    browser.find_element(By.CSS_SELECTOR, ".predict-form button[type=submit]").click()
    assert wait_for(browser, ".result-value").text == f"{exact_views(500, 300):,}"

    assert served_by_the_active_version() == served + 1
    assert [(r.channel, r.likes) for r in audited.exclude(channel="preview")] == [("form", 500)]
    assert audited.filter(channel="preview").count() == 3


def test_the_auditor_reads_the_history_and_exports_it_as_csv(server, tmp_path, django_user_model):
    django_user_model.objects.create_superuser("auditor", password="pw-for-the-browser")
    for likes in (10, 20, 30):
        live.post_json(f"{server}/api/predictions/", {"likes": likes, "shares": 1})
    downloads = tmp_path / "downloads"
    driver = chromium(tmp_path)
    try:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        driver.get(f"{server}/admin/predictor/predictionrequest/")
        driver.find_element(By.ID, "id_username").send_keys("auditor")
        driver.find_element(By.ID, "id_password").send_keys("pw-for-the-browser\ue007")
        rows = WebDriverWait(driver, 10).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        )
        assert len(rows) == 3
        driver.find_element(By.ID, "action-toggle").click()  # select every row
        driver.find_element(By.CSS_SELECTOR, "select[name=action] option[value=export_csv]").click()
        driver.find_element(By.CSS_SELECTOR, "button[name=index]").click()

        WebDriverWait(driver, 10).until(lambda d: list(downloads.glob("predictions-*.csv")))
    finally:
        driver.quit()
    [exported] = list(downloads.glob("predictions-*.csv"))
    records = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    assert sorted(int(record["likes"]) for record in records) == [10, 20, 30]
    assert {record["channel"] for record in records} == {"api"}
