"""Who may do what, tried at every door as anonymous, ordinary, staff and permitted users.

Anyone may predict; the history and switching models need staff or a dedicated permission, by
session or by token; retraining is never reachable over HTTP.
"""

import pytest
from django.contrib.auth.models import Permission
from django.urls import get_resolver, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from predictor import services
from predictor.models import Activation

from .conftest import replace_stored_file


@pytest.fixture
def users(django_user_model):
    ordinary = django_user_model.objects.create_user("ordinary", password="pw-for-tests")
    staff = django_user_model.objects.create_user("staff", password="pw-for-tests", is_staff=True)
    operator = django_user_model.objects.create_user("operator", password="pw-for-tests")
    operator.user_permissions.add(Permission.objects.get(codename="activate_modelversion"))
    admin = django_user_model.objects.create_superuser("root", password="pw-for-tests")
    return {
        "anonymous": None,
        "ordinary": ordinary,
        "staff": staff,
        "operator": operator,
        "admin": admin,
    }


def client_for(user, how):
    api = APIClient()
    if user is not None and how == "token":
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    elif user is not None:
        api.force_login(user)
    return api


DOORS = {
    # door: expected status for anonymous, ordinary, staff, operator, admin
    "predict": (201, 201, 201, 201, 201),
    "history": (401, 403, 200, 403, 200),
    "record": (401, 403, 200, 403, 200),
    "models": (200, 200, 200, 200, 200),
    "activate": (401, 403, 403, 200, 200),
    # Recording what really happened is its own permission: staff who read the history or
    # operators who roll back do not have it by being either.
    "outcome": (401, 403, 403, 403, 201),
}
ROLES = ("anonymous", "ordinary", "staff", "operator", "admin")


def knock(api, door, record_id):
    if door == "predict":
        return api.post(
            reverse("predictor:prediction-create"), {"likes": 1, "shares": 1}, format="json"
        )
    if door == "history":
        return api.get(reverse("predictor:prediction-list"))
    if door == "record":
        return api.get(reverse("predictor:prediction-detail", args=[record_id]))
    if door == "models":
        return api.get(reverse("predictor:model-list"))
    if door == "outcome":
        return api.post(
            reverse("predictor:prediction-outcome", args=[record_id]), {"views": 7}, format="json"
        )
    return api.post(reverse("predictor:model-activate", args=["v1"]))


@pytest.mark.parametrize("how", ["session", "token"])
@pytest.mark.parametrize("door", list(DOORS))
def test_each_door_for_each_kind_of_user(active_model, users, door, how):
    [record] = services.predict(
        inputs=[{"likes": 1, "shares": 1}],
        raw_inputs=[{}],
        info=services.RequestInfo(channel="api"),
    )
    for role, expected in zip(ROLES, DOORS[door], strict=True):
        response = knock(client_for(users[role], how), door, record.pk)
        assert response.status_code == expected, (role, door, how, response.content[:200])
        if expected >= 400:
            assert set(response.json()) >= {"detail", "code"}


def test_activating_over_the_api_rolls_back(linear_csv, users, trained_models):
    first = trained_models.store(linear_csv)
    trained_models.store(linear_csv)
    api = client_for(users["operator"], "token")

    response = api.post(
        reverse("predictor:model-activate", args=[first.label]),
        {"reason": "v2 over-predicts"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["version"] == "v1"
    assert response.json()["is_active"] is True
    assert services.active_version() == first
    latest = Activation.objects.first()
    assert (latest.version, latest.previous.number, latest.door, latest.reason) == (
        first,
        2,
        "api",
        "v2 over-predicts",
    )
    assert latest.user == users["operator"]
    too_long = api.post(
        reverse("predictor:model-activate", args=["v2"]), {"reason": "x" * 501}, format="json"
    )
    assert (too_long.status_code, list(too_long.json()["errors"])) == (400, ["reason"])
    assert services.active_version() == first
    missing = api.post(reverse("predictor:model-activate", args=["v42"]))
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_a_version_with_a_broken_artifact_is_not_activated_over_the_api(
    linear_csv, users, trained_models
):
    first = trained_models.store(linear_csv)
    second = trained_models.store(linear_csv)
    replace_stored_file(first.artifact_name, b"altered")

    response = client_for(users["admin"], "token").post(
        reverse("predictor:model-activate", args=["v1"])
    )

    assert response.status_code == 409
    assert "does not match the recorded sha256" in response.json()["detail"]
    assert services.active_version() == second


def test_the_admin_activate_action_needs_the_activate_permission(
    client, linear_csv, users, trained_models
):
    first = trained_models.store(linear_csv)
    second = trained_models.store(linear_csv)
    staff = users["staff"]
    staff.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(staff)
    changelist = reverse("admin:predictor_modelversion_changelist")

    page = client.get(changelist)
    assert page.status_code == 200
    assert b"activate_version" not in page.content  # the action is not offered
    client.post(
        changelist, {"action": "activate_version", "index": "0", "_selected_action": [first.pk]}
    )
    assert services.active_version() == second

    # The dedicated permission, not a general right to change versions, offers it.
    staff.user_permissions.add(Permission.objects.get(codename="activate_modelversion"))
    client.force_login(staff)
    assert b"activate_version" in client.get(changelist).content
    client.post(
        changelist,
        {
            "action": "activate_version",
            "index": "0",
            "_selected_action": [first.pk],
            "confirm": "yes",
            "reason": "roll back",
        },
    )
    assert services.active_version() == first


def test_retraining_is_never_reachable_over_http(client, active_model, users):
    routes = list(all_routes(get_resolver().url_patterns))
    assert "api/predictions/" in routes
    assert not [route for route in routes if "train" in route]
    api = client_for(users["admin"], "token")
    for path in ("/api/models/retrain/", "/api/retrain/", "/retrain", "/api/models/v1/retrain/"):
        assert api.post(path).status_code == 404


def all_routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            yield from all_routes(pattern.url_patterns, route)
        else:
            yield route
