import csv
import html
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import Throttled
from rest_framework.test import APIClient

from predictor import features, services
from predictor.api.errors import exception_handler
from predictor.api.serializers import PredictionInputSerializer, PredictionSerializer
from predictor.models import Channel, ModelVersion, Outcome, PredictionRequest
from predictor.services.outcomes import OUTCOME_VIEWS_MAX

from .conftest import (
    ABOVE_RANGE,
    BELOW_RANGE,
    INSIDE_RANGE,
    STORED_REFUSALS,
    exact_views,
    linear_rows,
    remove_stored_file,
    replace_stored_file,
    stored_refusal_row,
    write_csv,
)

PREDICTIONS = reverse("predictor:prediction-create")
PREVIEW = reverse("predictor:prediction-preview")
HISTORY = reverse("predictor:prediction-list")


@pytest.fixture
def api():
    return APIClient()


def post_json(api, body, **extra):
    return api.post(PREDICTIONS, body, format="json", **extra)


def test_a_prediction_returns_201_with_the_answer_and_the_version(api, active_model):
    response = post_json(api, {"likes": 500, "shares": 300}, HTTP_USER_AGENT="curl/8")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "likes",
        "shares",
        "views",
        "interval",
        "model_version",
        "created_at",
        "extrapolated",
        "extrapolation",
    }
    assert body["views"] == exact_views(500, 300)
    assert body["model_version"] == active_model.label
    record = PredictionRequest.objects.get(pk=body["id"])
    assert record.channel == "api"
    assert record.accepted
    assert record.raw_input == {"likes": 500, "shares": 300}
    assert record.client_ip == "127.0.0.1"
    assert record.user_agent == "curl/8"


def test_views_are_rounded_to_two_decimals_in_the_answer_and_the_audit_row(
    api, db, tmp_path, trained_models
):
    rows = [(a, b, (10 * a) // 3 + b) for a, b, _ in linear_rows()]
    trained_models.store(write_csv(tmp_path / "thirds.csv", rows))
    [[raw]] = [services.load_model(services.active_version()).predict([[1, 1]])]

    body = post_json(api, {"likes": 1, "shares": 1}).json()

    assert raw != round(raw, 2)
    assert body["views"] == round(raw, 2)
    assert PredictionRequest.objects.get().views == body["views"]


def test_a_batch_is_predicted_and_audited_row_by_row(api, active_model):
    batch = [{"likes": i * 10, "shares": i} for i in range(25)]

    response = post_json(api, batch)

    assert response.status_code == 201
    assert [item["views"] for item in response.json()] == [
        exact_views(i * 10, i) for i in range(25)
    ]
    rows = PredictionRequest.objects.order_by("batch_index")
    assert rows.count() == 25
    assert [r.batch_index for r in rows] == list(range(25))
    assert len({r.batch_id for r in rows}) == 1
    # Each item's id is its own row's (the writer reserves the ids before it writes the rows).
    by_id = PredictionRequest.objects.in_bulk([item["id"] for item in response.json()])
    assert [
        (by_id[item["id"]].batch_index, by_id[item["id"]].likes) for item in response.json()
    ] == [(i, i * 10) for i in range(25)]


def test_a_batch_with_bad_items_is_refused_with_errors_per_item_and_every_item_audited(
    api, active_model
):
    batch = [{"likes": 1, "shares": 2}, {"likes": -1, "shares": "x"}, {"likes": 3}]

    response = post_json(api, batch)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"1", "2"}
    assert set(body["errors"]["1"]) == {"likes", "shares"}
    assert body["errors"]["2"] == {"shares": ["This field is required."]}
    rows = PredictionRequest.objects.order_by("batch_index")
    assert [r.accepted for r in rows] == [False, False, False]
    assert rows[0].errors == {"batch": [{"code": "not_predicted", "params": {}}]}
    assert rows[1].errors["likes"] == [{"code": "min_value", "params": {"limit_value": 0}}]
    assert rows[2].raw_input == {"likes": 3}


def test_a_batch_over_the_limit_is_refused_and_audited_once(api, active_model, settings):
    settings.VIEWSITE_BATCH_MAX = 3
    response = post_json(api, [{"likes": 1, "shares": 1}] * 4)
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "non_field_errors": ["A batch takes at most 3 inputs; this one has 4."]
    }
    row = PredictionRequest.objects.get()
    assert row.raw_input["batch_length"] == 4
    assert row.errors == {
        "non_field_errors": [{"code": "batch_too_long", "params": {"limit": 3, "length": 4}}]
    }


@pytest.mark.parametrize(
    ("language", "bound", "batch"),
    [
        (
            "en",
            "Ensure this value is less than or equal to 20,000.",
            "A batch takes at most 1,000 inputs; this one has 1,001.",
        ),
        (
            "zh-hans",
            "确保该值小于或等于20,000。",
            "一个批次最多 1,000 个输入；这个批次有 1,001 个。",
        ),
    ],
)
def test_an_error_body_writes_its_numbers_grouped_and_the_trail_keeps_them_as_numbers(
    api, active_model, settings, language, bound, batch
):
    settings.VIEWSITE_BATCH_MAX = 1000
    one = post_json(api, {"likes": 20_001, "shares": 1}, HTTP_ACCEPT_LANGUAGE=language)
    assert one.json()["errors"] == {"likes": [bound]}
    many = post_json(api, [{"likes": 1, "shares": 1}] * 1001, HTTP_ACCEPT_LANGUAGE=language)
    assert many.json()["errors"] == {"non_field_errors": [batch]}
    assert [row.errors for row in PredictionRequest.objects.order_by("pk")] == [
        {"likes": [{"code": "max_value", "params": {"limit_value": 20000}}]},
        {
            "non_field_errors": [
                {"code": "batch_too_long", "params": {"limit": 1000, "length": 1001}}
            ]
        },
    ]


ACCEPTED = "点赞数 (likes), 转发数 (shares)"


@pytest.mark.parametrize(
    ("body", "field", "message", "stored"),
    [
        (
            {"likes": "abc", "shares": 1},
            "likes",
            "“abc” is not a whole number.",
            {"code": "not_a_number", "params": {"value": "abc"}},
        ),
        (
            {"likes": -1, "shares": 1},
            "likes",
            "Ensure this value is greater than or equal to 0.",
            {"code": "min_value", "params": {"limit_value": 0}},
        ),
        (
            {"likes": 1.5, "shares": 1},
            "likes",
            "“1.5” is not a whole number: a count has no fraction or decimal point.",
            {"code": "not_whole", "params": {"value": "1.5"}},
        ),
        (
            {"likes": True, "shares": 1},
            "likes",
            "“true” is not a whole number.",
            {"code": "not_a_number", "params": {"value": "true"}},
        ),
        (
            {"likes": 20_001, "shares": 1},
            "likes",
            "Ensure this value is less than or equal to 20,000.",
            {"code": "max_value", "params": {"limit_value": 20000}},
        ),
        (
            {"likes": None, "shares": 1},
            "likes",
            "This field is required.",
            {"code": "required", "params": {}},
        ),
        ({"shares": 1}, "likes", "This field is required.", {"code": "required", "params": {}}),
        (
            {"likes": 1, "shares": 1, "views": 5},
            "views",
            f"Unknown field(s): views. Only {ACCEPTED} are accepted.",
            {"code": "unknown_field", "params": {"fields": "views", "accepted": ACCEPTED}},
        ),
        (
            {"likes": 1, "shares": 1, "id": 5},
            "id",
            f"Unknown field(s): id. Only {ACCEPTED} are accepted.",
            {"code": "unknown_field", "params": {"fields": "id", "accepted": ACCEPTED}},
        ),
        (
            "500",
            "non_field_errors",
            "Expected an object with likes and shares, but got str.",
            {"code": "not_an_object", "params": {"type": "str"}},
        ),
    ],
)
def test_invalid_input_is_a_400_naming_the_field_and_is_audited_as_a_code(
    api, active_model, body, field, message, stored
):
    response = post_json(api, body)

    assert response.status_code == 400
    assert message in response.json()["errors"][field]
    row = PredictionRequest.objects.get()
    assert not row.accepted
    assert row.views is None
    # The trail keeps the code and its parameters, never the sentence the client was sent.
    assert stored in row.errors[field]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"likes": 1,', "application/json", 400, "parse_error"),
        (b'{"likes": NaN, "shares": 1}', "application/json", 400, "parse_error"),
        (b'{"likes": 1e400, "shares": 1}', "application/json", 400, "invalid"),
        (b"likes=1&shares=2", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"[]", "application/json", 400, "invalid"),
    ],
)
def test_malformed_requests_get_a_clear_4xx_and_an_audit_row(
    api, active_model, body, content_type, status, code
):
    response = api.generic("POST", PREDICTIONS, body, content_type=content_type)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert PredictionRequest.objects.filter(accepted=False).count() == 1


def test_an_oversized_body_is_a_413_and_is_audited(api, active_model, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps([{"likes": 1, "shares": 1}] * 100)

    response = api.generic("POST", PREDICTIONS, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than the limit of 1,000 bytes.",
        "code": "body_too_large",
    }
    row = PredictionRequest.objects.get()
    assert row.raw_input["content_length"] == str(len(body))


def test_a_malformed_body_is_kept_in_the_audit_row(api, active_model):
    api.generic("POST", PREDICTIONS, b'{"likes": oops}', content_type="application/json")
    assert PredictionRequest.objects.get().raw_input["body_excerpt"] == '{"likes": oops}'


def test_without_an_active_model_the_api_answers_503_and_audits(api, db):
    response = post_json(api, {"likes": 1, "shares": 1})
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "No model is active" in response.json()["detail"]
    assert PredictionRequest.objects.get().accepted is False


def test_a_tampered_artifact_makes_the_api_answer_503(api, active_model):
    replace_stored_file(active_model.artifact_name, b"swapped")
    response = post_json(api, {"likes": 1, "shares": 1})
    assert response.status_code == 503
    assert "does not match the recorded sha256" in response.json()["detail"]


def test_a_bad_token_is_a_401_and_is_audited(api, active_model):
    response = post_json(api, {"likes": 1, "shares": 1}, HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    # DRF's refusal has no code of ours: its code and its sentence are kept.
    assert PredictionRequest.objects.get().errors == {
        "request": [{"code": "authentication_failed", "message": "Invalid token."}]
    }


def test_a_token_user_is_recorded_on_the_audit_row(api, active_model, plain_user):
    token = Token.objects.create(user=plain_user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert post_json(api, {"likes": 1, "shares": 1}).status_code == 201
    assert PredictionRequest.objects.get().user == plain_user


def test_n_requests_valid_and_invalid_leave_n_audit_rows_and_no_5xx(api, active_model):
    bodies = [
        {"likes": i, "shares": i} if i % 3 else {"likes": -i, "shares": "?"} for i in range(30)
    ]
    statuses = [post_json(api, body).status_code for body in bodies]
    assert all(status < 500 for status in statuses)
    assert statuses.count(201) == 20
    assert PredictionRequest.objects.count() == 30


# --- History (staff only) ---------------------------------------------------------------------


# --- Previews (the form's answer as you type) -----------------------------------------------------


def served(version) -> int:
    return ModelVersion.objects.with_live_error().get(pk=version.pk).live_predictions


def test_a_preview_is_answered_200_like_a_prediction_and_audited_as_a_preview(api, active_model):
    response = api.post(PREVIEW, {"likes": -1, "shares": 300}, format="json")
    assert response.status_code == 400  # the same validation as a prediction
    response = api.post(PREVIEW, {"likes": "500", "shares": 300}, format="json")

    assert response.status_code == 200
    body = response.json()
    prediction = post_json(api, {"likes": 500, "shares": 300}).json()
    assert set(body) == set(prediction)
    assert (body["views"], body["interval"]) == (prediction["views"], prediction["interval"])
    refused, answered = PredictionRequest.objects.filter(channel=Channel.PREVIEW).order_by("pk")
    assert (refused.accepted, answered.accepted, answered.pk) == (False, True, body["id"])
    assert answered.model_version == active_model
    assert (answered.raw_input, answered.batch_id) == ({"likes": "500", "shares": 300}, None)
    assert PredictionRequest.objects.get(channel=Channel.API).pk == prediction["id"]


def test_previews_leave_the_versions_served_count_as_it_was(api, active_model):
    for typed in ("5", "50", "500"):
        assert api.post(PREVIEW, {"likes": typed, "shares": 3}, format="json").status_code == 200
    assert served(active_model) == 0

    post_json(api, {"likes": 500, "shares": 3})

    assert served(active_model) == 1
    assert PredictionRequest.objects.filter(channel=Channel.PREVIEW).count() == 3


def test_a_list_sent_as_a_preview_is_refused_with_400_and_audited_once(api, active_model):
    items = [{"likes": 1, "shares": 1}] * 5
    response = api.post(PREVIEW, items, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    [row] = PredictionRequest.objects.all()
    assert (row.channel, row.accepted, row.batch_id) == (Channel.PREVIEW, False, None)
    assert row.raw_input == {"batch_length": 5, "first_items": items[:3]}
    assert served(active_model) == 0


def test_a_preview_without_a_model_is_a_503_audited_as_a_preview(api, db):
    response = api.post(PREVIEW, {"likes": 1, "shares": 1}, format="json")

    assert response.status_code == 503
    row = PredictionRequest.objects.get()
    assert (row.channel, row.accepted) == (Channel.PREVIEW, False)


def test_staff_find_the_previews_in_the_history_by_channel(api, active_model, staff_user):
    api.post(PREVIEW, {"likes": 5, "shares": 3}, format="json")
    api.post(PREVIEW, {"likes": "x", "shares": 3}, format="json")
    post_json(api, {"likes": 5, "shares": 3})
    api.force_authenticate(staff_user)

    previews = api.get(HISTORY, {"channel": "preview"}).json()["results"]
    others = api.get(HISTORY, {"channel": "api"}).json()["results"]

    assert [(r["channel"], r["accepted"]) for r in previews] == [
        ("preview", False),
        ("preview", True),
    ]
    assert [r["channel"] for r in others] == ["api"]


def test_history_is_refused_to_anonymous_and_ordinary_users(api, active_model, plain_user):
    assert api.get(HISTORY).status_code == 401
    api.force_authenticate(plain_user)
    assert api.get(HISTORY).status_code == 403
    post_json(api, {"likes": 1, "shares": 1})
    record = PredictionRequest.objects.get()
    assert api.get(reverse("predictor:prediction-detail", args=[record.pk])).status_code == 403


def test_staff_see_the_paginated_history_filtered_by_version_and_date(
    api, linear_csv, staff_user, trained_models
):
    first = trained_models.store(linear_csv)
    post_json(api, {"likes": 1, "shares": 1})
    second = trained_models.store(linear_csv)
    post_json(api, [{"likes": 2, "shares": 2}, {"likes": 3, "shares": 3}])
    post_json(api, {"likes": "bad", "shares": 3})
    api.force_authenticate(staff_user)

    def listed(**filters):
        return [record["id"] for record in api.get(HISTORY, filters).json()["results"]]

    everything = listed()
    assert len(everything) == 4
    by_version = api.get(HISTORY, {"model_version": second.label}).json()
    assert sorted(r["likes"] for r in by_version["results"]) == [2, 3]
    assert len(listed(model_version=first.number)) == 1
    assert listed(model_version="v99") == []
    assert len(listed(accepted="false")) == 1
    newest = PredictionRequest.objects.order_by("-id").first()
    assert listed(created_after=newest.created_at.isoformat()) == [newest.pk]
    assert listed(date="2000-01-01") == []
    assert listed(date=timezone.localdate().isoformat()) == everything

    detail = api.get(reverse("predictor:prediction-detail", args=[newest.pk])).json()
    assert detail["accepted"] is False
    assert detail["raw_input"] == {"likes": "bad", "shares": 3}


def test_history_pages_forward_and_back_by_cursor_without_repeating_a_record(
    api, active_model, staff_user, settings
):
    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    # A batch's records share one created_at: more of them than a page, between single ones.
    post_json(api, {"likes": 1, "shares": 1})
    post_json(api, [{"likes": i, "shares": i} for i in range(2 * page_size + 5)])
    post_json(api, {"likes": 2, "shares": 2})
    api.force_authenticate(staff_user)
    newest_first = list(
        PredictionRequest.objects.order_by("-created_at", "-id").values_list("pk", flat=True)
    )

    pages, url = [], HISTORY
    while url:
        page = api.get(url).json()
        assert "count" not in page  # no request counts the trail
        pages.append([record["id"] for record in page["results"]])
        url = page["next"]
    assert [len(ids) for ids in pages] == [page_size, page_size, 7]
    assert [pk for ids in pages for pk in ids] == newest_first

    back, url = [], api.get(HISTORY).json()["next"]
    url = api.get(url).json()["next"]  # the last page
    while url:
        page = api.get(url).json()
        back.append([record["id"] for record in page["results"]])
        url = page["previous"]
    assert back == pages[::-1]


def test_a_bad_cursor_is_a_404_not_a_500(api, db, staff_user):
    api.force_authenticate(staff_user)
    response = api.get(HISTORY, {"cursor": "not-a-cursor"})
    assert response.status_code == 404


# --- Model versions and health ----------------------------------------------------------------


def test_the_api_root_links_every_operation_by_name(api, db):
    links = api.get(reverse("predictor:api-root")).json()
    assert links == {
        "predictions": "http://testserver" + PREDICTIONS,
        "preview": "http://testserver" + PREVIEW,
        "history": "http://testserver" + HISTORY,
        "models": "http://testserver" + reverse("predictor:model-list"),
        "schema": "http://testserver/api/schema/",
        "docs": "http://testserver/api/docs/",
        "redoc": "http://testserver/api/redoc/",
    }


# --- A GET on a prediction address: how to ask --------------------------------------------------


def test_a_get_on_the_predictions_says_how_to_ask_in_the_readers_language(db, settings):
    english = APIClient(HTTP_ACCEPT_LANGUAGE="en").get(PREDICTIONS)
    chinese = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans").get(PREDICTIONS)

    assert (english.status_code, chinese.status_code) == (200, 200)
    guide = english.json()
    assert "POST" in guide["detail"]
    assert "10,000" in guide["detail"]
    assert (guide["method"], guide["content_type"]) == ("POST", "application/json")
    assert guide["fields"] == {
        feature.name: {
            "title": feature.name,
            "type": "integer",
            "required": True,
            "minimum": 0,
            "maximum": features.FEATURE_MAX,
        }
        for feature in features.INPUT_FEATURES
    }
    assert guide["batch_max"] == settings.VIEWSITE_BATCH_MAX
    assert guide["docs"] == {
        "schema": "http://testserver/api/schema/",
        "swagger_ui": "http://testserver/api/docs/",
        "redoc": "http://testserver/api/redoc/",
    }
    assert chinese.json()["detail"] != guide["detail"]
    assert "POST" in chinese.json()["detail"]
    assert {name: field["title"] for name, field in chinese.json()["fields"].items()} == {
        "likes": "点赞数",
        "shares": "转发数",
    }


def test_the_guides_examples_are_answered_as_a_prediction_and_a_batch(api, active_model):
    examples = api.get(PREDICTIONS).json()["examples"]

    one = post_json(api, examples["one_article"])
    batch = post_json(api, examples["batch"])

    assert (one.status_code, batch.status_code) == (201, 201)
    assert len(batch.json()) == len(examples["batch"]) >= 2


def test_the_guides_examples_lie_inside_the_sample_datas_range(api, db, settings):
    # What a reader copies gets an answer the sample model stands behind, not an extrapolation.
    with open(settings.VIEWSITE_DEFAULT_DATA, encoding="utf-8-sig", newline="") as data:
        rows = list(csv.DictReader(data))
    examples = api.get(PREDICTIONS).json()["examples"]

    for item in examples["batch"]:
        for feature in features.INPUT_FEATURES:
            column = [int(row[feature.label]) for row in rows if row[feature.label]]
            assert min(column) <= item[feature.name] <= max(column), (feature.name, item)


def test_a_preview_get_says_how_to_ask_for_one_input_only(api, db):
    guide = api.get(PREVIEW, HTTP_ACCEPT_LANGUAGE="en").json()

    assert "batch_max" not in guide
    assert set(guide["examples"]) == {"one_article"}
    assert "preview" in guide["detail"]


def test_a_get_predicts_nothing_and_reads_no_database(api, db, django_assert_num_queries):
    # A GET is not a prediction: no audit row, and not one query (an anonymous client).
    with django_assert_num_queries(0):
        assert api.get(PREDICTIONS).status_code == 200
        assert api.get(PREVIEW).status_code == 200
    assert PredictionRequest.objects.count() == 0


def test_the_guide_links_no_docs_while_the_schema_is_not_served(api, db, settings):
    settings.VIEWSITE_API_SCHEMA = False

    guide = api.get(PREDICTIONS).json()

    assert "docs" not in guide
    assert guide["examples"]["one_article"] == {"likes": 1500, "shares": 1000}


def test_the_browsable_api_starts_its_form_with_the_example_not_nulls(client, db):
    page = client.get(PREDICTIONS, HTTP_ACCEPT="text/html").content.decode()

    assert "HTTP 200 OK" in page
    [content] = re.findall(r'<textarea name="_content"[^>]*>(.*?)</textarea>', page, re.S)
    assert json.loads(html.unescape(content)) == {"likes": 1500, "shares": 1000}


def test_models_lists_versions_with_metrics_and_the_active_one(api, db, linear_csv, trained_models):
    trained_models.store(linear_csv)
    trained_models.store(linear_csv, activate=False)

    versions = api.get(reverse("predictor:model-list")).json()["results"]

    assert [(v["version"], v["is_active"]) for v in versions] == [("v2", False), ("v1", True)]
    assert versions[1]["cv_r2"] == pytest.approx(1.0)
    assert versions[1]["parameters"]["coefficients"]["likes"] == pytest.approx(80)
    assert "artifact_name" not in versions[1]


def test_healthz_names_the_active_version(client, active_model):
    response = client.get(reverse("predictor:healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model_version": active_model.label}


def test_healthz_is_503_without_a_model(client, db):
    response = client.get(reverse("predictor:healthz"))
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


@pytest.mark.parametrize("damage", ["tampered", "missing"])
def test_healthz_is_503_when_the_active_model_cannot_be_served(client, api, active_model, damage):
    if damage == "tampered":
        replace_stored_file(active_model.artifact_name, b"not the model")
    else:
        remove_stored_file(active_model.artifact_name)

    health = client.get(reverse("predictor:healthz"))

    assert health.status_code == 503
    reason = "does not match the recorded sha256" if damage == "tampered" else "cannot be read"
    assert reason in health.json()["detail"]
    # Ready means what the predictions see.
    assert post_json(api, {"likes": 1, "shares": 1}).status_code == 503


def test_the_browsable_api_offers_a_json_form_to_anyone_and_the_history_to_staff(
    client, active_model, staff_user
):
    anonymous = client.get(PREDICTIONS, HTTP_ACCEPT="text/html")
    assert b"<h1>Predictions</h1>" in anonymous.content
    assert b'id="id__content"' in anonymous.content  # the raw JSON form for POST
    client.force_login(staff_user)
    staff = client.get(HISTORY, HTTP_ACCEPT="text/html")
    assert staff.status_code == 200
    assert b"&quot;results&quot;: []" in staff.content
    models_page = client.get(reverse("predictor:model-list"), HTTP_ACCEPT="text/html")
    assert models_page.status_code == 200
    assert b"<h1>Model versions</h1>" in models_page.content


def test_the_browsable_api_signs_in_and_out_through_the_admins_login(
    client, active_model, staff_user
):
    """One login page for the site: the admin's (translated, watched by django-axes), which
    brings the auditor back to the API page they came from."""
    anonymous = client.get(HISTORY, HTTP_ACCEPT="text/html").content.decode()
    login = f"{reverse('admin:login')}?next={HISTORY}"
    assert f'href="{login}"' in anonymous
    assert client.get("/api/auth/login/").status_code == 404  # DRF's own page is not served

    signed_in = client.post(login, {"username": staff_user.username, "password": "pw-for-tests"})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == HISTORY
    page = client.get(HISTORY, HTTP_ACCEPT="text/html").content.decode()
    assert f'action="{reverse("admin:logout")}?next={HISTORY}"' in page
    assert client.post(f"{reverse('admin:logout')}?next={HISTORY}").status_code == 302
    assert client.get(HISTORY, HTTP_ACCEPT="application/json").status_code in (401, 403)


@pytest.mark.parametrize(
    ("language", "words", "english"),
    [
        (
            "zh-hans",
            ["预测记录", "按字段筛选", "渠道", "创建时间起", "版本号，例如 v3", "提交", "退出登录"],
            ["Field filters", "Prediction history", "Log out", "Api Root", "Django REST framework"],
        ),
        ("en", ["Prediction history", "Field filters", "Channel", "Created from", "Log out"], []),
    ],
)
def test_the_browsable_history_and_its_filters_speak_the_readers_language(
    client, db, staff_user, language, words, english
):
    client.force_login(staff_user)

    page = client.get(HISTORY, HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE=language)

    text = page.content.decode()
    assert [word for word in words if word not in text] == []
    assert [word for word in english if word in text] == []


def test_the_openapi_schema_describes_the_prediction_input(client, db):
    response = client.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    input_schema = schema["components"]["schemas"]["PredictionInput"]
    assert input_schema["properties"]["likes"]["maximum"] == 20_000
    assert input_schema["required"] == ["likes", "shares"]


def test_the_input_serializer_takes_exactly_the_feature_inputs():
    assert list(PredictionInputSerializer().fields) == list(features.INPUT_NAMES)


def test_the_answer_is_what_the_prediction_serializer_documents(api, active_model):
    # The schema shows PredictionSerializer; the view builds the same answer without it.
    answers = post_json(api, [{"likes": 5, "shares": 7}, {"likes": 0, "shares": 9}]).json()
    records = PredictionRequest.objects.filter(pk__in=[a["id"] for a in answers])
    assert answers == PredictionSerializer(records.order_by("batch_index"), many=True).data


# --- Outcomes (the record_outcome permission) ---------------------------------------------------


def outcome_url(prediction_id: int) -> str:
    return reverse("predictor:prediction-outcome", args=[prediction_id])


@pytest.fixture
def recorder(django_user_model):
    """Someone who may record outcomes: not staff, only the permission."""
    user = django_user_model.objects.create_user("marketing", password="pw-for-tests")
    user.user_permissions.add(Permission.objects.get(codename="record_outcome"))
    return user


@pytest.fixture
def prediction(api, active_model) -> PredictionRequest:
    body = post_json(api, {"likes": 500, "shares": 300}).json()
    return PredictionRequest.objects.get(pk=body["id"])


@pytest.mark.parametrize("door", ["session", "token"])
def test_a_user_with_the_permission_records_an_outcome_and_gets_the_row(
    api, prediction, recorder, door
):
    if door == "session":
        api.force_login(recorder)
    else:
        token = Token.objects.create(user=recorder)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = api.post(outcome_url(prediction.pk), {"views": 61234}, format="json")

    assert response.status_code == 201
    outcome = Outcome.objects.get()
    body = response.json()
    assert parse_datetime(body.pop("recorded_at")) == outcome.recorded_at
    assert body == {
        "id": outcome.pk,
        "prediction": prediction.pk,
        "views": 61234,
        "source": "api",
        "user": "marketing",
        "note": "",
    }
    assert (outcome.prediction, outcome.views, outcome.source, outcome.user) == (
        prediction,
        61234,
        "api",
        recorder,
    )


def test_outcomes_are_refused_without_the_permission(api, prediction, plain_user, staff_user):
    url = outcome_url(prediction.pk)

    anonymous = api.post(url, {"views": 1}, format="json")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert api.get(url).status_code == 401
    for user in (plain_user, staff_user):  # staff may read the history, not record outcomes
        api.force_authenticate(user)
        refused = api.post(url, {"views": 1}, format="json")
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
        assert api.get(url).status_code == 403
    assert not Outcome.objects.exists()


def test_a_superuser_may_record_outcomes(api, prediction, admin_user):
    api.force_authenticate(admin_user)
    assert api.post(outcome_url(prediction.pk), {"views": 7}, format="json").status_code == 201


def test_an_outcome_for_an_unknown_prediction_is_a_404(api, prediction, recorder):
    api.force_authenticate(recorder)
    unknown = prediction.pk + 1000

    response = api.post(outcome_url(unknown), {"views": 1}, format="json")

    assert response.status_code == 404
    assert response.json() == {
        "detail": f"There is no prediction #{unknown}.",
        "code": "not_found",
    }
    assert api.get(outcome_url(unknown)).status_code == 404
    assert not Outcome.objects.exists()


def test_an_outcome_for_a_refused_prediction_is_a_409(api, active_model, recorder):
    post_json(api, {"likes": -1, "shares": 1})
    refused = PredictionRequest.objects.get()
    api.force_authenticate(recorder)

    response = api.post(outcome_url(refused.pk), {"views": 1}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["detail"].startswith(f"Prediction #{refused.pk} was refused")
    assert not Outcome.objects.exists()


def test_an_outcome_for_a_preview_is_a_409_that_says_so(api, active_model, recorder):
    preview = api.post(PREVIEW, {"likes": 500, "shares": 300}, format="json").json()
    api.force_authenticate(recorder)

    response = api.post(outcome_url(preview["id"]), {"views": 51234}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Prediction #{preview['id']} was a preview while typing, so nobody kept its answer "
        "to compare with."
    )
    assert not Outcome.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"views": -1},
        {"views": 1.5},
        {"views": "many"},
        {"views": True},
        {"views": None},
        {"views": OUTCOME_VIEWS_MAX + 1},
        {},
    ],
    ids=["negative", "fraction", "text", "bool", "null", "too large", "missing"],
)
def test_a_bad_outcome_value_is_a_400_in_the_error_envelope(api, prediction, recorder, body):
    api.force_authenticate(recorder)

    response = api.post(outcome_url(prediction.pk), body, format="json")

    assert response.status_code == 400
    envelope = response.json()
    assert (envelope["detail"], envelope["code"]) == ("The input is not valid.", "invalid")
    assert list(envelope["errors"]) == ["views"]
    assert not Outcome.objects.exists()


def test_outcomes_are_listed_newest_first_and_the_audit_row_is_unchanged(api, prediction, recorder):
    before = model_to_dict(PredictionRequest.objects.get(pk=prediction.pk))
    api.force_authenticate(recorder)
    url = outcome_url(prediction.pk)
    assert api.get(url).json() == []

    first = api.post(url, {"views": 58000}, format="json").json()
    second = api.post(url, {"views": "61000"}, format="json").json()

    listed = api.get(url).json()
    assert [(o["id"], o["views"]) for o in listed] == [
        (second["id"], 61000),
        (first["id"], 58000),
    ]
    assert model_to_dict(PredictionRequest.objects.get(pk=prediction.pk)) == before


def test_a_version_without_outcomes_shows_an_empty_live_error(api, prediction):
    [version] = api.get(reverse("predictor:model-list")).json()["results"]

    assert version["live"] == {
        "predictions": 1,
        "outcomes": 0,
        "mae": None,
        "rmse": None,
        "mape": None,
        "interval_coverage": None,
        "flagged": False,
        "problem": "",
    }
    assert version["model_card"] == "http://testserver" + reverse(
        "predictor:model-card", kwargs={"number": version["version"].removeprefix("v")}
    )


@pytest.mark.parametrize(
    ("typed", "count"), [("1,200", 1200), ("１２００", 1200), (" 1200 ", 1200), ("1，200", 1200)]
)
def test_counts_sent_as_text_are_read_as_the_form_reads_them(api, active_model, typed, count):
    response = post_json(api, {"likes": typed, "shares": 1})

    assert response.status_code == 201
    assert (response.json()["likes"], response.json()["views"]) == (count, exact_views(count, 1))
    assert PredictionRequest.objects.get().raw_input == {"likes": typed, "shares": 1}


@pytest.mark.parametrize("typed", ["1,20", "12,34,567", "1 200", "1,200.5"])
def test_commas_out_of_place_in_text_are_refused(api, active_model, typed):
    response = post_json(api, {"likes": typed, "shares": 1})

    assert (response.status_code, list(response.json()["errors"])) == (400, ["likes"])


def test_the_429_is_worded_by_the_core_in_the_readers_language():
    with translation.override("zh-hans"):
        response = exception_handler(Throttled(wait=42), {"request": None})
    assert response.status_code == 429
    assert response.data == {"detail": "请求过多。请在 42 秒后重试。", "code": "throttled"}


@pytest.mark.parametrize(
    ("errors", "english", "chinese"),
    [case[1:] for case in STORED_REFUSALS],
    ids=[case[0] for case in STORED_REFUSALS],
)
def test_staff_read_a_stored_refusal_of_any_age_in_their_language(
    api, db, staff_user, errors, english, chinese
):
    row = stored_refusal_row(errors)
    api.force_authenticate(staff_user)
    url = reverse("predictor:prediction-detail", args=[row.pk])
    [field] = errors

    in_english = api.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    in_chinese = api.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert in_english["errors"] == {field: [english]}
    assert in_chinese["errors"] == {field: [chinese]}
    # The stored form is served as it is, whatever the reader's language, for programs.
    assert in_english["errors_stored"] == in_chinese["errors_stored"] == errors


# --- An answer honest about itself (issue 22): never below zero, inside its interval, and saying
# when it lies outside the training range ---------------------------------------------------------

BELOW_SENTENCE = (
    "10 likes is below the range the model was trained on (300 to 3,000) and 5 shares is below "
    "the range the model was trained on (100 to 2,000), so this prediction is an extrapolation "
    "and may be off."
)


def assert_honest(answer: dict) -> None:
    """At least zero, inside its interval."""
    interval = answer["interval"]
    assert 0.0 <= interval["lower"] <= answer["views"] <= interval["upper"], answer


@pytest.mark.parametrize("door", [PREDICTIONS, PREVIEW])
def test_an_answer_outside_the_range_is_zero_at_least_and_says_so(api, below_zero_model, door):
    response = api.post(door, BELOW_RANGE, format="json")

    assert response.status_code in (200, 201)
    body = response.json()
    assert body["views"] == 0.0
    assert_honest(body)
    assert body["extrapolated"] is True
    assert body["extrapolation"] == BELOW_SENTENCE
    record = PredictionRequest.objects.get(pk=body["id"])
    assert record.views < 0  # the model's own figure, kept in the trail
    assert record.extrapolated


@pytest.mark.parametrize("door", [PREDICTIONS, PREVIEW])
def test_an_answer_inside_the_range_has_no_sentence(api, below_zero_model, door):
    body = api.post(door, INSIDE_RANGE, format="json").json()

    assert body["views"] == PredictionRequest.objects.get().views > 0
    assert_honest(body)
    assert body["extrapolated"] is False
    assert body["extrapolation"] is None


@pytest.mark.parametrize("door", [PREDICTIONS, PREVIEW])
def test_the_sentence_is_in_the_request_s_language(api, below_zero_model, door):
    body = api.post(door, ABOVE_RANGE, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert body["extrapolation"] == (
        "点赞数 20,000 高于训练数据的范围（300 至 3,000），"
        "转发数 20,000 高于训练数据的范围（100 至 2,000），这个预测是外推的，可能不准。"
    )


def test_each_item_of_a_batch_says_whether_it_is_outside_the_range(api, below_zero_model):
    batch = [INSIDE_RANGE, BELOW_RANGE, ABOVE_RANGE, {"likes": 0, "shares": 0}]

    answers = post_json(api, batch).json()

    for answer in answers:
        assert_honest(answer)
    assert [answer["extrapolated"] for answer in answers] == [False, True, True, True]
    assert answers[0]["extrapolation"] is None
    assert answers[1]["extrapolation"] == BELOW_SENTENCE
    assert answers[2]["extrapolation"].startswith("20,000 likes is above the range")
    assert [answer["views"] for answer in answers[1:4:2]] == [0.0, 0.0]
    # The documented serializer reads the same answers from the rows (the model's figures).
    records = PredictionRequest.objects.filter(pk__in=[a["id"] for a in answers])
    assert answers == PredictionSerializer(records.order_by("batch_index"), many=True).data


def test_the_schema_documents_the_answer_s_extrapolation_fields(api, db):
    response = api.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    properties = json.loads(response.content)["components"]["schemas"]["Prediction"]["properties"]
    assert properties["extrapolated"]["type"] == "boolean"
    assert "outside the range" in properties["extrapolated"]["description"]
    assert properties["extrapolation"]["type"] == "string"
    assert properties["extrapolation"]["nullable"] is True
    assert "or 0 where it computes less" in properties["views"]["description"]


# --- Why this number (?explain=1) ----------------------------------------------------------------


def adds_up(waterfall: dict) -> float:
    return round(waterfall["start"] + sum(step["contribution"] for step in waterfall["steps"]), 2)


@pytest.mark.parametrize("door", [PREDICTIONS, PREVIEW])
@pytest.mark.parametrize("item", [INSIDE_RANGE, BELOW_RANGE])
def test_explain_adds_parts_that_add_up_to_the_answer_to_the_cent(
    api, below_zero_model, door, item
):
    response = api.post(f"{door}?explain=1", item, format="json")

    assert response.status_code in (200, 201)
    body = response.json()
    explanation = body["explanation"]
    record = PredictionRequest.objects.get(pk=body["id"])
    assert explanation["linear"] is True
    assert explanation["not_linear"] is None
    assert explanation["views"] == body["views"]
    assert explanation["computed_views"] == record.views
    for view in ("from_intercept", "from_average"):
        assert adds_up(explanation[view]) == round(body["views"], 2)
        inputs = [s for s in explanation[view]["steps"] if s["kind"] == "input"]
        assert [(s["feature"], s["value"]) for s in inputs] == list(item.items())
    assert explanation["from_intercept"]["start"] == round(
        below_zero_model.parameters["intercept"], 2
    )
    floors = [s for s in explanation["from_average"]["steps"] if s["kind"] == "floor"]
    assert len(floors) == (record.views < 0)


def test_explain_gives_each_answer_of_a_batch_its_own_parts(api, below_zero_model):
    batch = [INSIDE_RANGE, BELOW_RANGE, ABOVE_RANGE]

    body = api.post(f"{PREDICTIONS}?explain=true", batch, format="json").json()

    assert [item["explanation"]["views"] for item in body] == [item["views"] for item in body]
    for item in body:
        assert adds_up(item["explanation"]["from_average"]) == round(item["views"], 2)


@pytest.mark.parametrize("query", ["", "?explain=0", "?explain=false"])
def test_without_explain_the_answer_is_as_it_was(api, below_zero_model, query):
    plain = api.post(PREDICTIONS, INSIDE_RANGE, format="json").json()

    body = api.post(f"{PREDICTIONS}{query}", INSIDE_RANGE, format="json").json()

    assert "explanation" not in body
    assert set(body) == set(plain)


def test_without_explain_no_explanation_is_computed(api, below_zero_model, monkeypatch):
    def refuse(answers):
        raise AssertionError("explained without being asked")

    monkeypatch.setattr(services, "explain_answers", refuse)

    assert api.post(PREDICTIONS, [INSIDE_RANGE], format="json").status_code == 201
    assert api.post(PREVIEW, INSIDE_RANGE, format="json").status_code == 200


def test_a_version_that_is_not_linear_says_so_in_its_explanation(api, db, tmp_path, trained_models):
    trained_models.store(write_csv(tmp_path / "linear.csv", linear_rows(60)), algorithm="hist-gb")

    explanation = api.post(f"{PREDICTIONS}?explain=1", INSIDE_RANGE, format="json").json()[
        "explanation"
    ]

    assert explanation["linear"] is False
    assert explanation["from_intercept"] is None
    assert explanation["from_average"] is None
    assert "not broken into parts" in explanation["not_linear"]


@pytest.mark.parametrize("item", [INSIDE_RANGE, BELOW_RANGE])
def test_a_ridge_version_s_explanation_has_parts_that_add_up_to_the_answer(api, ridge_model, item):
    body = api.post(f"{PREDICTIONS}?explain=1", item, format="json").json()

    explanation = body["explanation"]
    record = PredictionRequest.objects.get(pk=body["id"])
    assert record.model_version == ridge_model
    assert explanation["linear"] is True
    assert explanation["not_linear"] is None
    assert explanation["computed_views"] == record.views
    for view in ("from_intercept", "from_average"):
        assert adds_up(explanation[view]) == round(body["views"], 2)
    assert explanation["from_intercept"]["start"] == round(ridge_model.parameters["intercept"], 2)


@pytest.mark.parametrize("model", ["below_zero_model", "ridge_model"])
def test_a_tampered_artifact_makes_an_explained_answer_503_as_any_other(api, request, model):
    version = request.getfixturevalue(model)
    replace_stored_file(version.artifact_name, b"swapped")

    plain = api.post(PREDICTIONS, INSIDE_RANGE, format="json")
    explained = api.post(f"{PREDICTIONS}?explain=1", INSIDE_RANGE, format="json")

    assert plain.status_code == explained.status_code == 503
    assert explained.json()["detail"] == plain.json()["detail"]
    assert "does not match the recorded sha256" in explained.json()["detail"]


@pytest.mark.parametrize("door", [PREDICTIONS, PREVIEW])
def test_a_bad_explain_is_refused_with_400_and_audited(api, below_zero_model, door):
    response = api.post(f"{door}?explain=maybe", INSIDE_RANGE, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_query"
    assert "“maybe”" in body["detail"]
    assert "explain" in body["detail"]
    refused = PredictionRequest.objects.get()
    assert not refused.accepted
    assert refused.errors == {"request": [{"code": "explain_flag", "params": {"value": "maybe"}}]}
