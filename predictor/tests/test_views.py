import datetime
import math
import re

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains

from predictor.display import coefficient
from predictor.models import PredictionRequest
from predictor.services import registry
from predictor.templatetags.viewsite import (
    about,
    count,
    decimal,
    milliseconds,
    percent,
    seconds,
    signed,
    times_in,
    when,
)

from .conftest import BELOW_RANGE, INSIDE_RANGE, exact_views, linear_rows, write_csv
from .test_cards import noisy_views

PAGE = reverse("predictor:predict")


def test_the_form_page_has_labels_in_each_language_csrf_and_its_own_stylesheet(client, db):
    chinese = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<label for="id_likes">点赞数</label>' in chinese
    assert '<label for="id_shares">转发数</label>' in chinese
    response = client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_likes">Likes</label>' in html
    assert '<label for="id_shares">Shares</label>' in html
    assert 'name="csrfmiddlewaretoken"' in html
    # Hashed name from the manifest storage: served by nginx or WhiteNoise, never a CDN.
    assert re.search(r'href="/static/css/site\.[0-9a-f]{12}\.css"', html)
    # Its one script (the preview) is a static file too; nothing runs inline.
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == [
        re.search(r'<script src="/static/js/preview\.[0-9a-f]{12}\.js" defer>', html).group(0)
    ]


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.mark.parametrize(
    ("language", "hint"),
    [
        ("en", "A whole number from 0 to 20,000, with or without commas (1200 or 1,200)."),
        ("zh-hans", "填 0 到 20,000 之间的整数，带不带逗号都行（如 1200 或 1,200）。"),
    ],
)
def test_each_field_says_what_it_takes_and_the_input_names_the_hint(client, db, language, hint):
    html = client.get(PAGE, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for field in ("likes", "shares"):
        assert f'<p class="field-hint" id="id_{field}_helptext">{hint}</p>' in html
        assert f'aria-describedby="id_{field}_helptext"' in html


def test_the_parts_kept_per_language_follow_each_request_s_language(client, db):
    # The header, the switch and the footer are rendered once per language and kept: each
    # request still gets its own language's, whatever the one before asked for.
    for language, tagline, footer, current in [
        ("en", "Predicting WeChat article views", "Every prediction is recorded", "English"),
        ("zh-hans", "微信软文浏览量预测", "每一次预测都会连同作答的模型版本", "简体中文"),
        ("en", "Predicting WeChat article views", "Every prediction is recorded", "English"),
    ]:
        html = client.get(PAGE, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert tagline in html
        assert footer in html
        assert re.search(rf'aria-pressed="true" class="current">{current}</button>', html)


def test_the_pages_carry_a_strict_policy_and_only_api_pages_allow_inline_style(client, db):
    page = directives(client.get(PAGE)["Content-Security-Policy"])
    api_page = client.get(reverse("predictor:model-list"), HTTP_ACCEPT="text/html")
    api = directives(api_page["Content-Security-Policy"])
    assert page["script-src"] == page["style-src"] == "'self'"
    assert page["frame-ancestors"] == "'none'"
    # DRF's browsable API sets one style attribute; its scripts stay 'self'-only.
    assert api["style-src"] == "'self' 'unsafe-inline'"
    assert api["script-src"] == "'self'"


def test_only_html_answers_carry_the_policy(client, active_model):
    # A policy governs documents; the API's JSON answers are none, so none is built for them.
    body = {"likes": 1, "shares": 1}
    answer = client.post(reverse("predictor:prediction-create"), body, "application/json")
    assert answer.status_code == 201
    assert "Content-Security-Policy" not in answer
    assert directives(client.get(PAGE)["Content-Security-Policy"])["default-src"] == "'self'"


def test_a_valid_post_shows_the_prediction_and_the_version(client, active_model):
    response = client.post(PAGE, {"likes": "500", "shares": "300"}, HTTP_USER_AGENT="Firefox")
    html = response.content.decode()

    assert response.status_code == 200
    assert f'data-views="{exact_views(500, 300)}' in html
    assert "59,000" in html
    card = reverse("predictor:model-card", kwargs={"number": active_model.number})
    assert f'<a class="model-version" href="{card}">{active_model.label}</a>' in html
    record = PredictionRequest.objects.get()
    assert (record.channel, record.accepted, record.views) == ("form", True, 59000.0)
    assert record.raw_input == {"likes": "500", "shares": "300"}
    assert record.user_agent == "Firefox"


def test_the_answer_links_its_version_to_that_version_card(client, active_model):
    html = client.post(PAGE, {"likes": "500", "shares": "300"}).content.decode()
    link = re.search(r'<a class="model-version" href="([^"]+)">', html).group(1)
    card = client.get(link)
    assert card.status_code == 200
    assert f"Model card {active_model.label}" in card.content.decode()


@pytest.fixture
def noisy_model(db, tmp_path, trained_models):
    """A linear model with an interval of real width: trained on a known relation plus noise."""
    path = write_csv(tmp_path / "noisy.csv", linear_rows(60, relation=noisy_views))
    version = trained_models.store(path)
    registry.clear_loaded_models()
    return version


def test_the_answer_states_the_audited_interval_in_words(client, noisy_model):
    version = noisy_model
    response = client.post(PAGE, {"likes": "500", "shares": "300"})
    html = response.content.decode()
    record = PredictionRequest.objects.get()

    # The audit row holds the answer and its interval, computed from the version's own numbers.
    coefficients = version.parameters["coefficients"]
    expected = 500 * coefficients["likes"] + 300 * coefficients["shares"]
    expected += version.parameters["intercept"]
    half_width = version.interval_relative_half_width * max(expected, version.interval_scale_floor)
    assert half_width > 1000
    assert record.views == pytest.approx(expected, abs=0.01)
    assert record.views_lower == pytest.approx(expected - half_width, abs=0.01)
    assert record.views_upper == pytest.approx(expected + half_width, abs=0.01)
    assert record.model_version == version

    # The page says it in words, each figure of the row rounded as `about` rounds it.
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    views, lower, upper = (
        about(record.views),
        about(record.views_lower),
        about(record.views_upper),
    )
    assert lower != views != upper
    assert f"About {views} views; 9 times in 10 between {lower} and {upper}." in text
    chinese = client.post(PAGE, {"likes": "500", "shares": "300"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = " ".join(re.sub(r"<[^>]+>", " ", chinese.content.decode()).split())
    with translation.override("zh-hans"):
        views, lower, upper = (
            about(record.views),
            about(record.views_lower),
            about(record.views_upper),
        )
    assert f"约 {views} 次浏览；10 次中有 9 次在 {lower} 到 {upper} 之间。" in text
    assert f'data-lower="{record.views_lower}" data-upper="{record.views_upper}"' in html


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (46292.74, 3, "46,300"),
        (59000.0, 3, "59,000"),
        (1234567, 3, "1,230,000"),
        (999.7, 3, "1,000"),
        (123.4, 3, "123"),
        (46292.74, 2, "46,000"),
        # A count: never finer than a unit, halves up, as `count` and the preview round.
        (46.5, 3, "47"),
        (9.6, 3, "10"),
        (0.4, 3, "0"),
        (-46292.74, 3, "-46,300"),
        (0, 3, "0"),
        (None, 3, ""),
        (math.nan, 3, ""),
        (math.inf, 3, ""),
    ],
)
def test_about_keeps_three_significant_figures_with_thousands_separators(value, digits, shown):
    assert about(value, digits) == shown


@pytest.mark.parametrize(
    ("coverage", "english", "chinese"),
    [
        (0.9, "9 times in 10", "10 次中有 9 次"),
        (0.95, "19 times in 20", "20 次中有 19 次"),
        (0.8, "4 times in 5", "5 次中有 4 次"),
        (0.99, "99 times in 100", "100 次中有 99 次"),
        # Not rounded up to "1 times in 1": an interval is never stated to hold always.
        (0.999, "999 times in 1,000", "1,000 次中有 999 次"),
        (None, "", ""),
    ],
)
def test_times_in_says_a_coverage_as_a_frequency(coverage, english, chinese):
    assert times_in(coverage) == english
    with translation.override("zh-hans"):
        assert times_in(coverage) == chinese


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [(0.1234, 1, "12.3%"), (0.9, 0, "90%"), (1, 1, "100.0%"), (0, 2, "0.00%"), (None, 1, "")],
)
def test_percent_shows_a_share_as_a_percentage(value, places, shown):
    assert percent(value, places) == shown


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(
    ("value", "shown"),
    [(47765.75, "47,766"), (47765.5, "47,766"), (805274, "805,274"), (12, "12"), (None, "")],
)
def test_count_writes_a_whole_number_grouped_the_same_in_both_languages(value, shown, language):
    # Django's zh_Hans writes 47766 ungrouped; viewsite/formats groups it as the preview does.
    with translation.override(language):
        assert count(value) == shown
        assert about(47765.75) == "47,800"


@pytest.mark.parametrize(
    ("value", "english", "chinese"),
    [
        (0.9767930000634806, "1.0 ms", "1.0 毫秒"),
        (1234.56, "1,234.6 ms", "1,234.6 毫秒"),
        (math.nan, "", ""),
    ],
)
def test_milliseconds_keep_one_decimal(value, english, chinese):
    assert milliseconds(value) == english
    with translation.override("zh-hans"):
        assert milliseconds(value) == chinese


@pytest.mark.parametrize(
    ("value", "shown"), [(0.00045979399999396264, "0.5 ms"), (2.345, "2.3 s"), (None, "")]
)
def test_seconds_are_written_in_the_unit_a_person_would_use(value, shown):
    assert seconds(value) == shown


def test_decimal_rounds_a_measure_to_its_places():
    assert decimal(0.9767930000634806) == "0.977"
    assert decimal(12345.6789, 1) == "12,345.7"
    # What the plots and the card hand over: NumPy's floats, whose repr is np.float64(...).
    assert decimal(np.float64(0.9767930000634806)) == "0.977"
    assert count(np.float64(47765.75)) == about(np.int64(47766), 5) == "47,766"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (3840.0, "+3,840.00"),
        (-27612.934, "−27,612.93"),
        (0.0, "+0.00"),
        (-0.001, "+0.00"),  # rounds to nothing: no sign of a loss
        (-0.0049, "+0.00"),
        (-0.005, "−0.01"),  # half a cent rounds up, to a loss of a cent
        (math.nan, ""),
    ],
)
def test_signed_writes_a_change_with_its_sign_in_words_not_colour(value, shown):
    assert signed(value) == shown


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(
    ("value", "log_scale", "shown"),
    [
        (83.94123, False, "83.94"),
        (80.0000001, False, "80"),
        (-14432.456, False, "-14,432.46"),
        (0.512345, True, "0.5123"),
        (2.00001, True, "2"),
        (math.nan, False, ""),
    ],
)
def test_coefficient_writes_a_model_s_parameter_as_the_card_and_retrain_both_do(
    value, log_scale, shown, language
):
    with translation.override(language):
        assert coefficient(value, log_scale) == shown


def test_when_writes_local_time_in_the_language_with_the_zone_named(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    moment = datetime.datetime(2026, 12, 7, 12, 41, tzinfo=datetime.UTC)
    assert when(moment) == "7 Dec 2026, 20:41 (Asia/Shanghai)"
    with translation.override("zh-hans"):
        assert when(moment) == "2026年12月7日 20:41 (Asia/Shanghai)"
        assert when(moment, named=False) == "2026年12月7日 20:41"


@pytest.mark.parametrize(
    ("data", "field", "message", "stored"),
    [
        (
            {"likes": "abc", "shares": "1"},
            "likes",
            "“abc” is not a whole number.",
            {"code": "not_a_number", "params": {"value": "abc"}},
        ),
        (
            {"likes": "-3", "shares": "1"},
            "likes",
            "Ensure this value is greater than or equal to 0.",
            {"code": "min_value", "params": {"limit_value": 0}},
        ),
        (
            {"likes": "1", "shares": "2.5"},
            "shares",
            "“2.5” is not a whole number: a count has no fraction or decimal point.",
            {"code": "not_whole", "params": {"value": "2.5"}},
        ),
        (
            {"likes": "1", "shares": "99999"},
            "shares",
            "Ensure this value is less than or equal to 20,000.",
            {"code": "max_value", "params": {"limit_value": 20000}},
        ),
        (
            {"likes": "", "shares": "1"},
            "likes",
            "This field is required.",
            {"code": "required", "params": {}},
        ),
    ],
)
def test_bad_input_is_shown_in_place_with_a_400_and_audited_as_a_code(
    client, active_model, data, field, message, stored
):
    response = client.post(PAGE, data)
    html = response.content.decode()

    assert response.status_code == 400
    assert f'<p class="field-error" id="id_{field}_error">{message}</p>' in html
    # The field names its hint and its message for screen readers.
    assert f'aria-describedby="id_{field}_helptext id_{field}_error"' in html
    assert 'class="result-value"' not in html
    record = PredictionRequest.objects.get()
    assert not record.accepted
    # The same code as the API stores for the same input: the page's language is not kept.
    assert record.errors[field] == [stored]
    assert record.raw_input == data


def test_without_a_model_the_form_says_so_with_a_503(client, db):
    response = client.post(PAGE, {"likes": "1", "shares": "1"})
    assert response.status_code == 503
    # Where the answer would be: the form posts to #answer.
    assertContains(
        response,
        '<section class="card result" id="answer">\n  <div class="notice notice-error" '
        'role="alert">No model is active',
        status_code=503,
    )
    assert PredictionRequest.objects.get().accepted is False


def test_a_post_without_a_csrf_token_is_refused_and_audited(active_model):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(PAGE, {"likes": "1", "shares": "1"})
    assert response.status_code == 403
    assert "The form has expired" in response.content.decode()
    record = PredictionRequest.objects.get()
    assert not record.accepted
    assert record.channel == "form"
    [stored] = record.errors["csrf"]
    assert stored["code"] == "csrf"
    assert "CSRF" in stored["params"]["reason"]


def test_a_post_with_its_csrf_token_is_accepted(active_model):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(PAGE).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(PAGE, {"likes": "1", "shares": "1", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert PredictionRequest.objects.get().raw_input == {"likes": "1", "shares": "1"}


def test_a_logged_in_user_is_recorded(client, active_model, plain_user):
    client.force_login(plain_user)
    client.post(PAGE, {"likes": "1", "shares": "1"})
    assert PredictionRequest.objects.get().user == plain_user


def test_m_form_posts_valid_and_invalid_leave_m_audit_rows(client, active_model):
    posts = [{"likes": str(i), "shares": "x" if i % 2 else "1"} for i in range(12)]
    statuses = [client.post(PAGE, data).status_code for data in posts]
    assert statuses.count(200) == 6
    assert statuses.count(400) == 6
    assert PredictionRequest.objects.filter(channel="form").count() == 12


def test_a_body_nginx_refused_is_audited_when_nginx_reports_it(client, db):
    url = reverse("predictor:refused-by-proxy")
    assert client.post(url).status_code == 404  # not from nginx
    response = client.post(
        url,
        HTTP_X_VIEWSITE_REFUSED="body_too_large",
        HTTP_X_ORIGINAL_URI="/api/predictions/?x=1",
        HTTP_X_ORIGINAL_CONTENT_LENGTH="9999999",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    row = PredictionRequest.objects.get()
    assert (row.channel, row.accepted, row.raw_input) == (
        "api",
        False,
        {"content_length": "9999999"},
    )


def test_a_preview_body_nginx_refused_is_audited_as_a_preview(client, db):
    response = client.post(
        reverse("predictor:refused-by-proxy"),
        HTTP_X_VIEWSITE_REFUSED="body_too_large",
        HTTP_X_ORIGINAL_URI=reverse("predictor:prediction-preview"),
        HTTP_X_ORIGINAL_CONTENT_LENGTH="9999999",
    )
    assert response.status_code == 413
    row = PredictionRequest.objects.get()
    assert (row.channel, row.accepted) == ("preview", False)


@pytest.mark.parametrize(
    ("typed", "count"),
    [
        ("1,200", 1200),
        ("1，200", 1200),  # the full-width comma of a Chinese keyboard
        ("５００", 500),  # full-width digits
        ("  500\u3000", 500),  # spaces, the ideographic one too
        ("12,345", 12345),
    ],
)
def test_the_form_accepts_counts_as_people_type_them(client, active_model, typed, count):
    response = client.post(PAGE, {"likes": typed, "shares": "10"})

    assert response.status_code == 200
    record = PredictionRequest.objects.get()
    assert (record.likes, record.views) == (count, exact_views(count, 10))
    assert record.raw_input["likes"] == typed  # the audit keeps what was typed


@pytest.mark.parametrize(
    ("typed", "code", "reason"),
    [
        ("1,20", "decimal_comma", ": a comma separates thousands (1,500), not decimals."),
        ("1,5", "decimal_comma", ": a comma separates thousands (1,500), not decimals."),
        ("12,34,567", "decimal_comma", ": a comma separates thousands (1,500), not decimals."),
        ("1 200", "not_a_number", "."),
        ("1.200,5", "not_a_number", "."),
        (",500", "not_a_number", "."),
    ],
)
def test_commas_out_of_their_places_are_refused_not_guessed(
    client, active_model, typed, code, reason
):
    response = client.post(PAGE, {"likes": typed, "shares": "10"})

    assert response.status_code == 400
    assert f"“{typed}” is not a whole number{reason}" in response.content.decode()
    row = PredictionRequest.objects.get()
    assert not row.accepted
    assert row.errors["likes"] == [{"code": code, "params": {"value": typed}}]


def test_the_inputs_are_text_with_a_numeric_keyboard(client, db):
    html = client.get(PAGE).content.decode()
    for name in ("likes", "shares"):
        [tag] = re.findall(rf'<input [^>]*name="{name}"[^>]*>', html)
        assert 'type="text"' in tag  # a number input would refuse "1,200" in the browser
        assert 'inputmode="numeric"' in tag


def test_the_icon_browsers_ask_for_on_their_own_is_the_site_s_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].startswith("/static/img/favicon.")
    assert response["Location"].endswith(".svg")


# --- An answer honest about itself (issue 22) ---------------------------------------------------


def page_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_an_answer_below_zero_is_shown_as_zero_inside_its_interval_and_says_why(
    client, below_zero_model
):
    response = client.post(PAGE, BELOW_RANGE)
    html = response.content.decode()

    assert response.status_code == 200
    record = PredictionRequest.objects.get()
    assert record.views < 0  # what the model computed, kept in the trail
    assert 'data-views="0.0"' in html
    lower = float(re.search(r'data-lower="([^"]+)"', html).group(1))
    upper = float(re.search(r'data-upper="([^"]+)"', html).group(1))
    assert lower == 0.0 < upper
    assert (lower, upper) == (record.views_lower, record.views_upper)
    sentence = re.search(r'<p class="result-extrapolation[^"]*">([^<]+)</p>', html).group(1)
    assert sentence == (
        "10 likes is below the range the model was trained on (300 to 3,000) and 5 shares is "
        "below the range the model was trained on (100 to 2,000), so this prediction is an "
        "extrapolation and may be off."
    )


def test_the_form_says_in_chinese_which_input_is_outside_the_range(client, below_zero_model):
    response = client.post(
        PAGE, {"likes": "1500", "shares": "2500"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert (
        "转发数 2,500 高于训练数据的范围（100 至 2,000），这个预测是外推的，可能不准。"
        in page_text(response)
    )


def test_an_answer_inside_the_range_says_nothing_about_it(client, below_zero_model):
    response = client.post(PAGE, INSIDE_RANGE)
    html = response.content.decode()
    record = PredictionRequest.objects.get()

    assert record.views > 0
    assert not record.extrapolated
    assert f'data-views="{record.views}"' in html
    assert record.views_lower <= record.views <= record.views_upper
    assert "result-extrapolation" not in html
    assert "extrapolation" not in page_text(response)


@pytest.mark.parametrize(
    ("language", "inputs", "bound", "hint"),
    [
        (
            "en",
            "15,000 likes · 12,000 shares",
            "Ensure this value is less than or equal to 20,000.",
            "A whole number from 0 to 20,000",
        ),
        (
            "zh-hans",
            "点赞数 15,000 · 转发数 12,000",
            "确保该值小于或等于20,000。",
            "填 0 到 20,000 之间的整数",
        ),
    ],
)
def test_the_form_page_writes_every_number_grouped_in_both_languages(
    client, active_model, language, inputs, bound, hint
):
    answered = client.post(
        PAGE, {"likes": "15000", "shares": "12000"}, HTTP_ACCEPT_LANGUAGE=language
    )
    record = PredictionRequest.objects.get()
    html = answered.content.decode()
    with translation.override(language):
        views = count(record.served_views)
    assert "," in views
    assert f'<p class="result-value" data-views="{record.views}">{views}</p>' in html
    assert inputs in page_text(answered)

    # A refusal under its field writes the bound as the hint above it does.
    refused = client.post(PAGE, {"likes": "25000", "shares": "1"}, HTTP_ACCEPT_LANGUAGE=language)
    assert f'<p class="field-error" id="id_likes_error">{bound}</p>' in refused.content.decode()
    assert hint in page_text(refused)
    assert PredictionRequest.objects.get(accepted=False).errors == {
        "likes": [{"code": "max_value", "params": {"limit_value": 20000}}]
    }


# --- Why this number (the form's waterfall) ------------------------------------------------------


def written_figure(text: str) -> float:
    """A figure as the page writes it ("−27,612.93", "+3,840.00", "180,984.02") as a number."""
    return float(text.strip().replace("−", "-").replace(",", ""))


def waterfall_figures(html: str) -> tuple[float, list[float], float]:
    """The start, the changes and the answer as the page writes them (to the cent)."""
    table = re.search(r'<table class="waterfall">.*?</table>', html, re.S).group(0)
    start = re.search(r'<tr class="waterfall-start">.*?<td>([^<]*)<svg', table, re.S).group(1)
    changes = re.findall(r'<td class="waterfall-change">([^<]+)</td>', table)
    answer = re.search(r'<tr class="waterfall-answer">.*?<td>([^<]*)<svg', table, re.S).group(1)
    # Each change says its direction in its sign: a person needs no colour to read it.
    assert all(change.strip()[0] in "+−" for change in changes)
    return written_figure(start), [written_figure(c) for c in changes], written_figure(answer)


@pytest.mark.parametrize("item", [INSIDE_RANGE, BELOW_RANGE])
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_form_s_waterfall_adds_up_to_the_answer_served_to_the_cent(
    client, below_zero_model, item, language
):
    response = client.post(PAGE, item, HTTP_ACCEPT_LANGUAGE=language)

    html = response.content.decode()
    record = response.context["record"]
    start, changes, answer = waterfall_figures(html)
    assert round(start + sum(changes), 2) == round(record.views, 2) == answer
    assert len(changes) == 2 + (record.computed_views < 0)
    assert "<caption>" in html
    assert '<th scope="row">' in html
    heading = {"en": "Why this number", "zh-hans": "为什么是这个数"}[language]
    assert f'<h2 id="why-this-number">{heading}</h2>' in html
    # The bars are drawn with SVG attributes alone: the CSP forbids style attributes.
    assert "style=" not in html


def test_the_form_s_waterfall_names_the_floor_step_below_zero(client, below_zero_model):
    html = client.post(PAGE, BELOW_RANGE).content.decode()

    assert "Answers below zero are served as 0" in html
    assert "Average prediction" in html


def test_the_form_starts_from_the_intercept_for_a_version_without_training_means(
    client, below_zero_model
):
    type(below_zero_model).objects.filter(pk=below_zero_model.pk).update(training_summary={})
    registry.clear_loaded_models()

    response = client.post(PAGE, INSIDE_RANGE)

    html = response.content.decode()
    start, changes, answer = waterfall_figures(html)
    assert "Starting figure (no likes, no shares)" in html
    assert start == round(below_zero_model.parameters["intercept"], 2)
    assert round(start + sum(changes), 2) == answer == round(response.context["record"].views, 2)
