import csv
import io

from django.urls import reverse

from predictor import services
from predictor.models import Activation, ModelVersion, PredictionRequest

from .test_predictions import info


def make_records(count=3):
    inputs = [{"likes": i, "shares": i + 1} for i in range(count)]
    services.predict(inputs=inputs, raw_inputs=inputs, info=info(), batch=True)
    services.record_refusal(raw_inputs=[{"likes": "x"}], errors=[{"likes": ["bad"]}], info=info())


def test_audit_records_are_listed_filtered_and_searched(admin_client, active_model):
    make_records()
    changelist = reverse("admin:predictor_predictionrequest_changelist")

    assert admin_client.get(changelist).status_code == 200
    refused = admin_client.get(changelist, {"accepted__exact": "0"})
    assert len(refused.context["cl"].result_list) == 1
    by_version = admin_client.get(changelist, {"model_version__id__exact": active_model.pk})
    assert len(by_version.context["cl"].result_list) == 3
    searched = admin_client.get(changelist, {"q": "203.0.113.9"})
    assert len(searched.context["cl"].result_list) == 4
    assert (
        admin_client.get(changelist, {"created_at__year": "2000"}).context["cl"].result_count == 0
    )


def test_audit_records_cannot_be_added_changed_or_deleted_even_by_a_superuser(
    admin_client, active_model
):
    make_records(1)
    record = PredictionRequest.objects.first()
    change_url = reverse("admin:predictor_predictionrequest_change", args=[record.pk])

    assert admin_client.get(reverse("admin:predictor_predictionrequest_add")).status_code == 403
    page = admin_client.get(change_url)
    assert page.status_code == 200  # viewable, read-only
    assert b'name="_save"' not in page.content
    assert admin_client.post(change_url, {"views": "1"}).status_code == 403
    delete_url = reverse("admin:predictor_predictionrequest_delete", args=[record.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert PredictionRequest.objects.count() == 2


def test_csv_export_streams_the_selected_records(admin_client, active_model):
    make_records(2)
    ids = list(PredictionRequest.objects.values_list("pk", flat=True))

    response = admin_client.post(
        reverse("admin:predictor_predictionrequest_changelist"),
        {"action": "export_csv", "index": "0", "_selected_action": ids},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3
    accepted = sorted((r for r in rows if r["accepted"] == "True"), key=lambda r: r["likes"])
    assert [(r["likes"], r["shares"], r["model_version"]) for r in accepted] == [
        ("0", "1", "v1"),
        ("1", "2", "v1"),
    ]


def test_the_activate_action_rolls_back_to_an_older_version(admin_client, linear_csv):
    first = services.retrain(data_path=linear_csv).version
    services.retrain(data_path=linear_csv)

    changelist = reverse("admin:predictor_modelversion_changelist")
    action = {"action": "activate_version", "index": "0", "_selected_action": [first.pk]}

    asked = admin_client.post(changelist, action)
    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()  # it asks why first
    assert services.active_version().number == 2

    without_reason = admin_client.post(changelist, {**action, "confirm": "yes", "reason": ""})
    assert 'name="reason"' in without_reason.content.decode()
    assert services.active_version().number == 2

    response = admin_client.post(
        changelist, {**action, "confirm": "yes", "reason": "v2 over-predicts"}, follow=True
    )
    assert "Model v1 is now active." in response.content.decode()
    assert services.active_version() == first
    latest = Activation.objects.first()
    assert (latest.version, latest.previous.number, latest.door, latest.reason) == (
        first,
        2,
        "admin",
        "v2 over-predicts",
    )
    assert latest.user.username == "admin"


def test_the_activate_action_wants_exactly_one_version(admin_client, linear_csv):
    versions = [services.retrain(data_path=linear_csv).version for _ in range(2)]
    response = admin_client.post(
        reverse("admin:predictor_modelversion_changelist"),
        {"action": "activate_version", "index": "0", "_selected_action": [v.pk for v in versions]},
        follow=True,
    )
    assert "Select exactly one version" in response.content.decode()
    assert services.active_version() == versions[1]


def test_model_versions_show_their_metrics_and_cannot_be_added_or_deleted(
    admin_client, active_model
):
    changelist = admin_client.get(reverse("admin:predictor_modelversion_changelist"))
    assert changelist.status_code == 200
    assert b"CV R\xc2\xb2" in changelist.content
    assert admin_client.get(reverse("admin:predictor_modelversion_add")).status_code == 403
    delete_url = reverse("admin:predictor_modelversion_delete", args=[active_model.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert ModelVersion.objects.count() == 1


def test_the_admin_is_for_staff_only(client, active_model, plain_user):
    client.force_login(plain_user)
    response = client.get(reverse("admin:predictor_predictionrequest_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
