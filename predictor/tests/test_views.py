import re

import pytest
from django.test import Client
from django.urls import reverse

from predictor.models import PredictionRequest

from .conftest import exact_views

PAGE = reverse("predictor:predict")


def test_the_form_page_has_chinese_labels_csrf_and_its_own_stylesheet(client, db):
    response = client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_likes">点赞数 <small>likes</small></label>' in html
    assert '<label for="id_shares">转发数 <small>shares</small></label>' in html
    assert 'name="csrfmiddlewaretoken"' in html
    # Hashed name from the manifest storage: served by nginx or WhiteNoise, never a CDN.
    assert re.search(r'href="/static/css/site\.[0-9a-f]{12}\.css"', html)
    assert "<script" not in html


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_the_pages_carry_a_strict_policy_and_only_api_pages_allow_inline_style(client, db):
    page = directives(client.get(PAGE)["Content-Security-Policy"])
    api_page = client.get(reverse("predictor:model-list"), HTTP_ACCEPT="text/html")
    api = directives(api_page["Content-Security-Policy"])
    assert page["script-src"] == page["style-src"] == "'self'"
    assert page["frame-ancestors"] == "'none'"
    # DRF's browsable API sets one style attribute; its scripts stay 'self'-only.
    assert api["style-src"] == "'self' 'unsafe-inline'"
    assert api["script-src"] == "'self'"


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


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"likes": "abc", "shares": "1"}, "likes", "Enter a whole number."),
        (
            {"likes": "-3", "shares": "1"},
            "likes",
            "Ensure this value is greater than or equal to 0.",
        ),
        ({"likes": "1", "shares": "2.5"}, "shares", "Enter a whole number."),
        (
            {"likes": "1", "shares": "99999"},
            "shares",
            "Ensure this value is less than or equal to 20000.",
        ),
        ({"likes": "", "shares": "1"}, "likes", "This field is required."),
    ],
)
def test_bad_input_is_shown_in_place_with_a_400_and_audited(
    client, active_model, data, field, message
):
    response = client.post(PAGE, data)
    html = response.content.decode()

    assert response.status_code == 400
    assert f'<p class="field-error" id="id_{field}_error">{message}</p>' in html
    # The field names its message for screen readers.
    assert f'aria-describedby="id_{field}_error"' in html
    assert 'class="result-value"' not in html
    record = PredictionRequest.objects.get()
    assert not record.accepted
    assert record.errors[field][0]["message"] == message
    assert record.raw_input == data


def test_without_a_model_the_form_says_so_with_a_503(client, db):
    response = client.post(PAGE, {"likes": "1", "shares": "1"})
    assert response.status_code == 503
    assert "No model is active" in response.content.decode()
    assert PredictionRequest.objects.get().accepted is False


def test_a_post_without_a_csrf_token_is_refused_and_audited(active_model):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(PAGE, {"likes": "1", "shares": "1"})
    assert response.status_code == 403
    assert "The form has expired" in response.content.decode()
    record = PredictionRequest.objects.get()
    assert not record.accepted
    assert record.channel == "form"
    assert "CSRF" in record.errors["csrf"][0]


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
