"""The fast lane answers plain anonymous JSON predictions exactly as the DRF view would."""

import pytest
from csp.utils import build_policy
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from predictor.api import views as api_views
from predictor.models import PredictionRequest

from .conftest import exact_views

PREDICTIONS = reverse("predictor:prediction-list")
PLAIN = '{"likes": 500, "shares": 300}'
SHARED_HEADERS = [
    "Content-Type",
    "Allow",
    "Vary",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
]


@pytest.fixture
def drf_calls(monkeypatch):
    """Every request that reached the DRF view's `post`, which the lane never calls."""
    calls = []
    real_post = api_views.PredictionListCreateView.post

    def post(view, request, *args, **kwargs):
        calls.append(request)
        return real_post(view, request, *args, **kwargs)

    monkeypatch.setattr(api_views.PredictionListCreateView, "post", post)
    return calls


def post(client, body=PLAIN, path=PREDICTIONS, **extra):
    return client.post(path, body, content_type="application/json", **extra)


def audit_row(response) -> dict:
    row = PredictionRequest.objects.get(pk=response.json()["id"])
    return {
        field: getattr(row, field)
        for field in ("channel", "accepted", "raw_input", "likes", "shares", "views", "errors")
    } | {"version": row.model_version.label, "ip": row.client_ip, "user": row.user_id}


def test_the_lane_answers_as_the_drf_view_does(client, active_model, drf_calls):
    lane = post(client, HTTP_USER_AGENT="curl/8")
    assert drf_calls == []
    # A query string sends the same request to DRF.
    drf = post(client, path=f"{PREDICTIONS}?format=json", HTTP_USER_AGENT="curl/8")
    assert len(drf_calls) == 1

    assert lane.status_code == drf.status_code == 201
    assert audit_row(lane) == audit_row(drf)
    assert PredictionRequest.objects.get(pk=lane.json()["id"]).user_agent == "curl/8"
    answer, reference = dict(lane.json()), dict(drf.json())
    assert answer.keys() == reference.keys()
    assert answer["id"] != reference["id"]
    for volatile in ("id", "created_at"):
        answer.pop(volatile), reference.pop(volatile)
    assert (
        answer
        == reference
        == {
            "likes": 500,
            "shares": 300,
            "views": exact_views(500, 300),
            "model_version": active_model.label,
        }
    )
    assert [lane.get(h) for h in SHARED_HEADERS] == [drf.get(h) for h in SHARED_HEADERS]
    assert lane["Content-Length"] == str(len(lane.content))
    # JSON gets the site's policy; only DRF's HTML pages need the inline-style exception.
    assert lane["Content-Security-Policy"] == build_policy()


def test_a_plain_batch_takes_the_lane_too(client, active_model, drf_calls):
    response = post(client, '[{"likes": 1, "shares": 2}, {"likes": 3, "shares": 4}]')

    assert response.status_code == 201
    assert drf_calls == []
    assert [item["views"] for item in response.json()] == [exact_views(1, 2), exact_views(3, 4)]
    rows = PredictionRequest.objects.filter(pk__in=[item["id"] for item in response.json()])
    assert sorted(rows.values_list("batch_index", flat=True)) == [0, 1]


@pytest.mark.parametrize(
    ("body", "extra"),
    [
        ('{"likes": "500", "shares": 300}', {}),  # not a plain whole number: DRF explains
        ('{"likes": 500}', {}),
        ("{not json", {}),
        (PLAIN.encode("utf-16"), {}),  # DRF's parser reads UTF-8 only
        (PLAIN, {"HTTP_ACCEPT": "text/html"}),  # the browsable API
        (PLAIN, {"QUERY_STRING": "format=api"}),
    ],
)
def test_anything_unusual_goes_to_the_drf_view(client, active_model, drf_calls, body, extra):
    response = post(client, body, **extra)

    assert len(drf_calls) == 1
    assert response.status_code in (201, 400)
    assert PredictionRequest.objects.count() == 1


def test_a_token_or_a_session_user_goes_to_drf_and_is_recorded(active_model, plain_user, drf_calls):
    token = Token.objects.create(user=plain_user).key
    by_token = post(Client(), HTTP_AUTHORIZATION=f"Token {token}")
    session = Client(enforce_csrf_checks=True)
    session.force_login(plain_user)
    # A session user must pass CSRF, which only the DRF view checks: without a token, refused.
    by_session = post(session)

    assert len(drf_calls) == 1  # the session request was refused before `post`
    assert by_token.status_code == 201
    assert PredictionRequest.objects.get(pk=by_token.json()["id"]).user_id == plain_user.pk
    assert by_session.status_code == 403
    assert PredictionRequest.objects.filter(accepted=False).count() == 1


def test_an_unknown_host_is_refused_before_the_lane(client, active_model, drf_calls):
    response = post(client, HTTP_HOST="attacker.example")

    assert response.status_code == 400
    assert drf_calls == []
    assert not PredictionRequest.objects.exists()


def test_without_a_model_the_lane_answers_drfs_503_envelope(client, db, drf_calls):
    response = post(client)

    assert drf_calls == []
    assert response.status_code == 503
    assert response.json() == {
        "detail": "No model is active yet. Run `python manage.py retrain` first.",
        "code": "service_unavailable",
    }
    assert PredictionRequest.objects.get().accepted is False
