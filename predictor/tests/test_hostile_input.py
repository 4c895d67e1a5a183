"""The nasty cases, table-driven, for the API and the form.

Each must get a 4xx (the API: in the one JSON error envelope; the form: a message in place),
never a 5xx, never a non-finite number in a response, and an audit row that holds only values
the server decided (no prediction, no model version, nothing the client tried to set).
"""

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from predictor.models import PredictionRequest

PREDICTIONS = reverse("predictor:prediction-create")
PAGE = reverse("predictor:predict")
JSON = "application/json"
LONG = "7" * 100_000

API_CASES = [
    # (name, body bytes, content type, expected status, expected code)
    ("non-number", b'{"likes": "abc", "shares": 1}', JSON, 400, "invalid"),
    ("negative", b'{"likes": -1, "shares": 1}', JSON, 400, "invalid"),
    ("fraction", b'{"likes": 1.5, "shares": 1}', JSON, 400, "invalid"),
    ("boolean", b'{"likes": true, "shares": false}', JSON, 400, "invalid"),
    ("NaN literal", b'{"likes": NaN, "shares": 1}', JSON, 400, "parse_error"),
    ("Infinity literal", b'{"likes": Infinity, "shares": 1}', JSON, 400, "parse_error"),
    ("-Infinity literal", b'{"likes": -Infinity, "shares": 1}', JSON, 400, "parse_error"),
    ("NaN string", b'{"likes": "NaN", "shares": 1}', JSON, 400, "invalid"),
    ("Infinity string", b'{"likes": "Infinity", "shares": 1}', JSON, 400, "invalid"),
    ("1e308", b'{"likes": 1e308, "shares": 1}', JSON, 400, "invalid"),
    ("1e400", b'{"likes": 1e400, "shares": 1}', JSON, 400, "invalid"),
    ("5,000-digit integer", b'{"likes": 1' + b"0" * 5000 + b', "shares": 1}', JSON, 400, "parse_error"),
    ("4,000-digit integer", b'{"likes": 1' + b"0" * 4000 + b', "shares": 1}', JSON, 400, "invalid"),
    ("very long string", json.dumps({"likes": LONG, "shares": 1}).encode(), JSON, 400, "invalid"),
    ("very long key", json.dumps({LONG: 1, "likes": 1, "shares": 1}).encode(), JSON, 400, "invalid"),
    ("empty body", b"", JSON, 400, "invalid"),
    ("empty object", b"{}", JSON, 400, "invalid"),
    ("empty list", b"[]", JSON, 400, "invalid"),
    ("null", b"null", JSON, 400, "invalid"),
    ("nested objects", b'{"likes": {"a": 1}, "shares": [1]}', JSON, 400, "invalid"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, JSON, 400, "parse_error"),
    ("list over the batch limit", json.dumps([{"likes": 1, "shares": 1}] * 10_001).encode(), JSON, 400, "invalid"),
    ("wrong content type", b"likes=1&shares=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("text/plain", b'{"likes": 1, "shares": 1}', "text/plain", 415, "unsupported_media_type"),
    ("malformed JSON", b'{"likes": 1, "shares": ', JSON, 400, "parse_error"),
    ("not UTF-8", b'{"likes": "\xff\xfe", "shares": 1}', JSON, 400, "parse_error"),
    ("UTF-16", '{"likes": 1, "shares": 1}'.encode("utf-16"), JSON, 400, "parse_error"),
    ("NUL in a value", b'{"likes": "\\u0000", "shares": 1}', JSON, 400, "invalid"),
    ("NUL in a key", b'{"lik\\u0000es": 1, "shares": 1}', JSON, 400, "invalid"),
    ("body over the size limit", b" " * 2_700_000, JSON, 413, "body_too_large"),
    ("unknown field", b'{"likes": 1, "shares": 1, "comments": 3}', JSON, 400, "invalid"),
    ("client sets id", b'{"id": 99999, "likes": 1, "shares": 1}', JSON, 400, "invalid"),
    ("client sets views", b'{"likes": 1, "shares": 1, "views": 1e9}', JSON, 400, "invalid"),
    ("client sets model_version", b'{"likes": 1, "shares": 1, "model_version": "v99"}', JSON, 400, "invalid"),
]  # fmt: skip


def strict_json(body: bytes):
    """Decode as a strict client would: NaN or Infinity anywhere is an error."""

    def refuse(token):
        raise AssertionError(f"non-finite number {token} in a response")

    return json.loads(body, parse_constant=refuse)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [case[1:] for case in API_CASES],
    ids=[case[0] for case in API_CASES],
)
def test_the_api_refuses_nasty_input_with_a_4xx_envelope_and_audits_it(
    active_model, body, content_type, status, code
):
    response = APIClient().generic("POST", PREDICTIONS, body, content_type=content_type)

    assert response.status_code == status
    envelope = strict_json(response.content)
    assert envelope["code"] == code
    assert isinstance(envelope["detail"], str)
    assert envelope["detail"]
    rows = PredictionRequest.objects.all()
    assert rows.exists()
    for row in rows:
        assert not row.accepted
        assert (row.views, row.model_version_id, row.likes, row.shares) == (None, None, None, None)
        assert row.errors
        assert len(json.dumps(row.raw_input)) < 20_000  # evidence kept, but bounded
    assert not PredictionRequest.objects.filter(pk=99999).exists()


FORM_CASES = [
    # (name, form data, field with the message or None for the form's own, message)
    ("non-number", {"likes": "abc", "shares": "1"}, "likes", "“abc” is not a whole number."),
    ("negative", {"likes": "-1", "shares": "1"}, "likes", "Ensure this value is greater than or equal to 0."),
    ("fraction", {"likes": "1.5", "shares": "1"}, "likes", "“1.5” is not a whole number: a count has no fraction or decimal point."),
    ("boolean", {"likes": "true", "shares": "1"}, "likes", "“true” is not a whole number."),
    ("NaN", {"likes": "NaN", "shares": "1"}, "likes", "“NaN” marks a missing value; a number is required."),
    ("Infinity", {"likes": "Infinity", "shares": "1"}, "likes", "“Infinity” is not a whole number."),
    ("1e308", {"likes": "1e308", "shares": "1"}, "likes", "“1e308” is not a whole number: write the digits (1000), not an exponent."),
    ("1e400", {"likes": "1e400", "shares": "1"}, "likes", "“1e400” is not a whole number: write the digits (1000), not an exponent."),
    ("5,000-digit integer", {"likes": "1" + "0" * 5000, "shares": "1"}, "likes", "Ensure this value is less than or equal to 20,000."),
    ("very long string", {"likes": LONG, "shares": "1"}, "likes", "Ensure this value is less than or equal to 20,000."),
    # Input quoted back in a message is cut short: the page does not echo 100,000 characters.
    ("very long text", {"likes": "x" * 100_000, "shares": "1"}, "likes", f"“{'x' * 200}…” is not a whole number."),
    ("NUL character", {"likes": "1\x00", "shares": "1"}, "likes", "“1\x00” is not a whole number."),
    ("empty", {"likes": "", "shares": ""}, "likes", "This field is required."),
    ("missing field", {"likes": "1"}, "shares", "This field is required."),
    ("client sets views", {"likes": "1", "shares": "1", "views": "1"}, None, "Unknown field(s): views."),
    ("client sets id", {"likes": "1", "shares": "1", "id": "5"}, None, "Unknown field(s): id."),
    ("client sets model_version", {"likes": "1", "shares": "1", "model_version": "v9"}, None, "Unknown field(s): model_version."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [case[1:] for case in FORM_CASES],
    ids=[case[0] for case in FORM_CASES],
)
def test_the_form_refuses_nasty_input_with_a_message_in_place_and_audits_it(
    client, active_model, data, field, message
):
    response = client.post(PAGE, data)
    html = response.content.decode()

    assert response.status_code == 400
    if field:
        assert f'<p class="field-error" id="id_{field}_error">{message}</p>' in html
    else:
        assert message in html
    assert 'class="result-value"' not in html
    row = PredictionRequest.objects.get()
    assert not row.accepted
    assert (row.views, row.model_version_id) == (None, None)
    assert len(json.dumps(row.raw_input)) < 20_000


def test_a_form_post_over_the_size_limit_is_a_413_and_is_audited(client, active_model, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(PAGE, {"likes": "1" * 2000, "shares": "1"})
    assert response.status_code == 413
    assert "larger than the limit of 1,000 bytes" in response.content.decode()
    row = PredictionRequest.objects.get()
    assert (row.channel, row.accepted) == ("form", False)


def test_no_traceback_or_setting_reaches_a_client_outside_debug(client, db, settings):
    assert settings.DEBUG is False
    for path in ("/api/does-not-exist/", "/does-not-exist", "/api/predictions/not-a-number/"):
        response = client.get(path)
        assert response.status_code == 404
        body = response.content.decode()
        assert "Traceback" not in body
        assert "SECRET_KEY" not in body
        assert "urlpatterns" not in body
    assert client.get("/api/nothing/").json() == {
        "detail": "There is nothing here.",
        "code": "not_found",
    }


def test_an_unknown_host_header_is_refused(client, db):
    response = client.get(PAGE, HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert "evil.example.com" not in response.content.decode()
