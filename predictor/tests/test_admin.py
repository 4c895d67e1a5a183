import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from predictor import services
from predictor.admin import BoundedCountPaginator, CreatedDrillDown, PredictionRequestAdmin
from predictor.models import Activation, AuditSeal, ModelVersion, Outcome, PredictionRequest

from .conftest import STORED_REFUSALS, stored_refusal_row
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
    assert admin_client.get(changelist, {"created": "2000"}).context["cl"].result_count == 0


@pytest.mark.parametrize(("language", "label"), [("en", "Preview"), ("zh-hans", "预览")])
def test_previews_are_shown_and_filtered_as_previews(admin_client, active_model, language, label):
    make_records()
    one = [{"likes": 5, "shares": 3}]
    services.predict(inputs=one, raw_inputs=one, info=services.RequestInfo(channel="preview"))
    changelist = reverse("admin:predictor_predictionrequest_changelist")

    page = admin_client.get(
        changelist, {"channel__exact": "preview"}, HTTP_ACCEPT_LANGUAGE=language
    )

    assert page.status_code == 200
    [preview] = page.context["cl"].result_list
    assert (preview.channel, preview.likes) == ("preview", 5)
    html = page.content.decode()
    assert f'<td class="field-channel">{label}</td>' in html
    # The filter offers it by its label, beside the other doors.
    assert f'href="?channel__exact=preview">{label}</a>' in html
    others = admin_client.get(changelist, {"channel__exact": "api"}).context["cl"].result_list
    assert {record.channel for record in others} == {"api"}
    assert len(others) == 4


def record_from(ip):
    services.predict(
        inputs=[{"likes": 1, "shares": 1}],
        raw_inputs=[{"likes": 1, "shares": 1}],
        info=services.RequestInfo(channel="api", client_ip=ip, user_agent="pytest"),
    )
    return PredictionRequest.objects.order_by("-id").first()


def found(admin_client, term):
    page = admin_client.get(reverse("admin:predictor_predictionrequest_changelist"), {"q": term})
    assert page.status_code == 200
    return {record.pk for record in page.context["cl"].result_list}


def test_search_finds_an_ip_exactly_or_by_its_beginning(admin_client, active_model):
    nine, ninety, other = (record_from(ip) for ip in ("10.1.2.9", "10.1.2.90", "10.1.3.9"))

    assert found(admin_client, "10.1.2.9") == {nine.pk}  # not 10.1.2.90
    assert found(admin_client, "10.1.2.") == {nine.pk, ninety.pk}
    assert found(admin_client, "10.1.") == {nine.pk, ninety.pk, other.pk}
    assert found(admin_client, "10.9.") == set()


def test_search_finds_a_user_by_exact_name_and_a_batch_by_id(
    admin_client, active_model, staff_user
):
    services.predict(
        inputs=[{"likes": 1, "shares": 1}],
        raw_inputs=[{"likes": 1, "shares": 1}],
        info=services.RequestInfo(channel="api", client_ip="10.0.0.1", user_id=staff_user.pk),
    )
    by_user = PredictionRequest.objects.get(user=staff_user)
    make_records(2)
    batch = PredictionRequest.objects.filter(batch_id__isnull=False).first().batch_id

    assert found(admin_client, staff_user.username) == {by_user.pk}
    assert found(admin_client, staff_user.username[:-1]) == set()  # exact, not a fragment
    assert found(admin_client, str(batch)) == set(
        PredictionRequest.objects.filter(batch_id=batch).values_list("pk", flat=True)
    )


def test_the_list_counts_no_further_than_its_bound(admin_client, active_model, monkeypatch):
    make_records(3)  # four records
    changelist = reverse("admin:predictor_predictionrequest_changelist")
    monkeypatch.setattr(BoundedCountPaginator, "COUNT_BOUND", 2)
    monkeypatch.setattr(PredictionRequestAdmin, "list_per_page", 1)

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(changelist)

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts
    assert all("LIMIT 3" in sql for sql in counts)
    assert page.context["cl"].result_count == 2
    assert page.context["cl"].paginator.num_pages == 2
    assert b"More than 2 records" in page.content
    assert admin_client.get(changelist, {"p": "2"}).status_code == 200
    assert admin_client.get(changelist, {"p": "3"}).status_code == 302  # past the bound: ?e=1

    monkeypatch.setattr(BoundedCountPaginator, "COUNT_BOUND", 4)
    exact = admin_client.get(changelist)
    assert exact.context["cl"].result_count == 4
    assert b"More than" not in exact.content


def test_the_date_drill_down_goes_from_years_to_months_to_days(admin_client, active_model):
    make_records(1)
    today = timezone.localdate()
    changelist = reverse("admin:predictor_predictionrequest_changelist")

    def choices(value=None):
        page = admin_client.get(changelist, {"created": value} if value else {})
        spec = next(s for s in page.context["cl"].filter_specs if isinstance(s, CreatedDrillDown))
        return [value for value, _ in spec.lookup_choices], page.context["cl"].result_count

    years, _ = choices()
    assert years == [str(today.year)]
    months, in_year = choices(str(today.year))
    assert months[1:] == [f"{today.year}-{month:02}" for month in range(1, 13)]
    assert in_year == 2
    days, in_month = choices(f"{today:%Y-%m}")
    assert today.isoformat() in days
    assert in_month == 2
    assert choices(today.isoformat())[1] == 2
    assert choices((today - timedelta(days=1)).isoformat())[1] == 0


@pytest.mark.parametrize("value", ["2026-13", "20x6", "2026-02-30", "0000"])
def test_a_bad_drill_down_value_is_refused_as_a_bad_filter_not_a_500(
    admin_client, active_model, value
):
    make_records(1)
    changelist = reverse("admin:predictor_predictionrequest_changelist")
    response = admin_client.get(changelist, {"created": value})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


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


def test_csv_export_of_everything_a_filter_chose_streams_every_row(admin_client, active_model):
    make_records(3)
    refused = PredictionRequest.objects.get(accepted=False)
    yesterday = timezone.localdate() - timedelta(days=1)
    changelist = reverse("admin:predictor_predictionrequest_changelist")
    select_all = {
        "action": "export_csv",
        "index": "0",
        "select_across": "1",
        "_selected_action": [refused.pk],
    }

    response = admin_client.post(f"{changelist}?created={timezone.localdate()}", select_all)

    assert response.streaming
    assert response["X-Accel-Buffering"] == "no"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeffid,created_at,channel,accepted,likes,shares,views")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [int(r["id"]) for r in rows] == sorted(  # every row, oldest first
        PredictionRequest.objects.values_list("pk", flat=True)
    )
    exported = next(r for r in rows if r["id"] == str(refused.pk))
    assert json.loads(exported["raw_input"]) == {"likes": "x"}
    assert json.loads(exported["errors"]) == {"likes": ["bad"]}
    assert exported["model_version"] == exported["user"] == ""
    assert datetime.fromisoformat(exported["created_at"]) == refused.created_at
    other_day = admin_client.post(f"{changelist}?created={yesterday}", select_all)
    assert b"".join(other_day.streaming_content).decode("utf-8").count("\n") == 1  # the header


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


def test_the_activate_action_rolls_back_to_an_older_version(
    admin_client, linear_csv, trained_models
):
    first = trained_models.store(linear_csv)
    trained_models.store(linear_csv)

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


def test_the_activate_action_wants_exactly_one_version(admin_client, linear_csv, trained_models):
    versions = [trained_models.store(linear_csv) for _ in range(2)]
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


# --- Outcomes and activations -------------------------------------------------------------------

OUTCOME_ADD = reverse("admin:predictor_outcome_add")


def staff_with(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw-for-tests", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def recorder(django_user_model):
    return staff_with(django_user_model, "marketing", "record_outcome")


def test_a_user_who_may_record_outcomes_adds_one_through_the_admin(client, active_model, recorder):
    make_records(1)
    prediction = PredictionRequest.objects.get(accepted=True)
    client.force_login(recorder)
    assert client.get(OUTCOME_ADD).status_code == 200

    response = client.post(
        OUTCOME_ADD, {"prediction": prediction.pk, "views": "1234", "note": "from the CMS"}
    )

    assert response.status_code == 302
    outcome = Outcome.objects.get()
    assert (outcome.prediction, outcome.views, outcome.note) == (prediction, 1234, "from the CMS")
    assert (outcome.source, outcome.user) == ("admin", recorder)
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.user) == (str(outcome.pk), recorder)
    assert entry.object_repr == str(outcome)


def test_staff_without_the_permission_cannot_add_outcomes(client, active_model, staff_user):
    make_records(1)
    prediction = PredictionRequest.objects.get(accepted=True)
    staff_user.user_permissions.add(Permission.objects.get(codename="view_outcome"))
    client.force_login(staff_user)

    assert client.get(OUTCOME_ADD).status_code == 403
    assert client.post(OUTCOME_ADD, {"prediction": prediction.pk, "views": "1"}).status_code == 403
    assert not Outcome.objects.exists()


@pytest.mark.parametrize(
    ("which", "views", "message"),
    [
        ("refused", "100", "was refused, so it has no answer to compare with."),
        ("unknown", "100", "Select a valid choice."),
        ("answered", "-5", "Ensure this value is greater than or equal to 0."),
        (
            "answered",
            "1.5",
            "“1.5” is not a whole number: a count has no fraction or decimal point.",
        ),
        ("answered", "lots", "“lots” is not a whole number."),
        ("answered", "1000000001", "Ensure this value is less than or equal to 1000000000."),
    ],
    ids=["refused prediction", "unknown prediction", "negative", "fraction", "text", "too large"],
)
def test_an_outcome_the_service_refuses_is_a_form_error_and_writes_nothing(
    client, active_model, recorder, which, views, message
):
    make_records(1)
    prediction_id = {
        "refused": PredictionRequest.objects.get(accepted=False).pk,
        "answered": PredictionRequest.objects.get(accepted=True).pk,
        "unknown": PredictionRequest.objects.order_by("-pk").first().pk + 100,
    }[which]
    client.force_login(recorder)

    response = client.post(OUTCOME_ADD, {"prediction": prediction_id, "views": views})

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert message in str(form.errors)
    assert message.replace(",", "") in response.content.decode().replace(",", "")
    assert not Outcome.objects.exists()


def test_staff_with_view_permissions_see_the_activations_and_outcomes(
    client, active_model, django_user_model
):
    make_records(1)
    prediction = PredictionRequest.objects.get(accepted=True)
    services.record_outcomes([services.OutcomeItem(prediction.pk, 4321)], source="import")
    services.activate(version=active_model, door="command", reason="back to the known good one")
    auditor = staff_with(django_user_model, "reviewer", "view_activation", "view_outcome")
    client.force_login(auditor)

    activations = client.get(reverse("admin:predictor_activation_changelist"))
    outcomes = client.get(reverse("admin:predictor_outcome_changelist"))

    assert activations.status_code == 200
    assert "back to the known good one" in activations.content.decode()
    assert len(activations.context["cl"].result_list) == 2  # the retrain, then the command
    assert outcomes.status_code == 200
    assert [o.views for o in outcomes.context["cl"].result_list] == [4321]
    assert OUTCOME_ADD not in outcomes.content.decode()  # viewing is not recording


def test_nobody_can_change_or_delete_an_outcome_or_an_activation(admin_client, active_model):
    make_records(1)
    prediction = PredictionRequest.objects.get(accepted=True)
    [outcome] = services.record_outcomes([services.OutcomeItem(prediction.pk, 4321)], source="api")
    activation = Activation.objects.get()

    for name, obj in [("outcome", outcome), ("activation", activation)]:
        change_url = reverse(f"admin:predictor_{name}_change", args=[obj.pk])
        page = admin_client.get(change_url)
        assert page.status_code == 200  # viewable, read-only
        assert b'name="_save"' not in page.content
        assert admin_client.post(change_url, {"views": "1", "reason": "x"}).status_code == 403
        delete_url = reverse(f"admin:predictor_{name}_delete", args=[obj.pk])
        assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
        changelist = admin_client.get(reverse(f"admin:predictor_{name}_changelist"))
        assert "delete_selected" not in changelist.context["cl"].model_admin.get_actions(
            changelist.wsgi_request
        )
    assert admin_client.get(reverse("admin:predictor_activation_add")).status_code == 403
    assert list(Outcome.objects.values_list("views", flat=True)) == [4321]
    assert Activation.objects.get().reason == activation.reason


def test_audit_seals_are_listed_read_only_without_their_row_hashes(admin_client, active_model):
    make_records(2)
    call_command("seal_audit", "--lag", "0", stdout=io.StringIO())
    seal = AuditSeal.objects.get()

    listed = admin_client.get(reverse("admin:predictor_auditseal_changelist"))
    assert listed.status_code == 200
    assert seal.digest in listed.content.decode()
    detail = admin_client.get(reverse("admin:predictor_auditseal_change", args=[seal.pk]))
    assert detail.status_code == 200
    assert b"prediction_hashes" not in detail.content
    assert b'name="_save"' not in detail.content
    assert admin_client.get(reverse("admin:predictor_auditseal_add")).status_code == 403


@pytest.mark.parametrize(
    ("errors", "english", "chinese"),
    [case[1:] for case in STORED_REFUSALS],
    ids=[case[0] for case in STORED_REFUSALS],
)
def test_the_record_page_says_a_refusal_of_any_age_in_the_readers_language(
    admin_client, db, errors, english, chinese
):
    row = stored_refusal_row(errors)
    url = reverse("admin:predictor_predictionrequest_change", args=[row.pk])
    [field] = errors

    in_english = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    in_chinese = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert f"<li><code>{field}</code>: {escape(english)}</li>" in in_english
    assert f"<li><code>{field}</code>: {escape(chinese)}</li>" in in_chinese
    assert "Why refused" in in_english
    assert "拒绝原因" in in_chinese
    # The stored JSON stays on the page for the auditor, whatever the language (as the database
    # keeps it: PostgreSQL's jsonb orders an object's keys its own way).
    kept = PredictionRequest.objects.get(pk=row.pk).errors
    stored = escape(json.dumps(kept, ensure_ascii=False))
    assert stored in in_english
    assert stored in in_chinese
