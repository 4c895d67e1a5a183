"""The audit table's indexes: what every request writes, and what the auditor's lookups use;
the append-only tables; and the live error of a version where there is little to go on."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from predictor import services
from predictor.models import Activation, ModelVersion, Outcome, PredictionRequest

from .test_outcomes import predict, record

AUDIT_TABLE = PredictionRequest._meta.db_table


def index_definitions() -> dict[str, str]:
    """Each index on the audit table, primary key aside, with the SQL that defines it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
                " AND indexname NOT LIKE %s",
                [AUDIT_TABLE, "%_pkey"],
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
                " AND sql IS NOT NULL",
                [AUDIT_TABLE],
            )
        return dict(cursor.fetchall())


def plan(queryset) -> str:
    if connection.vendor == "postgresql":
        # With a few rows PostgreSQL rightly prefers reading the whole table; what is asked here
        # is whether an index can serve the lookup once the table is large.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


@pytest.mark.django_db
def test_only_the_date_version_and_address_indexes_hold_every_row():
    # Every full index is written by every request's INSERT; the rest must leave out the rows
    # of an answered, anonymous, single request.
    definitions = index_definitions()
    full = {name for name, definition in definitions.items() if "WHERE" not in definition}
    expected_full = {f"{AUDIT_TABLE}_created_at_b3cf609f", "prediction_version_newest"}
    if connection.vendor == "postgresql":
        # The auditor's search by client IP (and its beginning) needs every row's address.
        expected_full |= {"prediction_client_ip_text"}
    assert full == expected_full
    partial = {"prediction_refused", "prediction_user", "prediction_batch", "prediction_form"}
    assert set(definitions) - full == partial | {"prediction_cli"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        (lambda rows: rows.filter(accepted=False).order_by("-created_at"), "prediction_refused"),
        (lambda rows: rows.filter(user=get_user_model()(pk=7)), "prediction_user"),
        (lambda rows: rows.filter(user__in=[3, 7]), "prediction_user"),
        (lambda rows: rows.filter(batch_id=uuid.uuid4()), "prediction_batch"),
        (
            lambda rows: rows.filter(model_version=1).order_by("-created_at", "-id"),
            "prediction_version_newest",
        ),
    ],
    ids=["refusals", "one user", "users being deleted", "one batch", "one version"],
)
def test_the_auditors_lookups_are_served_by_an_index(lookup, index):
    # The user lookups are the ones `on_delete=PROTECT` makes before a user is deleted.
    assert index in plan(lookup(PredictionRequest.objects.all()))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no index on HOST()")
@pytest.mark.django_db
def test_the_bounded_count_of_an_ip_search_reads_the_address_index_alone():
    # What BoundedCountPaginator counts for the admin's search by an address's beginning.
    matches = PredictionRequest.objects.filter(client_ip__startswith="203.0.113.")
    matches = matches.order_by().values("pk")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    assert "Index Only Scan using prediction_client_ip_text" in plan(matches[:10001])
    # Enough histogram buckets to estimate a prefix's rows (migration 0014 says why).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
            ["prediction_client_ip_text"],
        )
        assert cursor.fetchone()[0] == 1000


@pytest.mark.django_db
def test_the_newest_outcome_of_each_prediction_is_found_through_its_index():
    # latest_per_prediction asks, for each outcome, whether a later one exists for its prediction.
    assert "predictor_o_predict_00af92_idx" in plan(Outcome.objects.latest_per_prediction())


# --- Append-only ----------------------------------------------------------------------------------


def test_activations_cannot_be_updated_or_deleted_through_the_orm(active_model):
    activation = Activation.objects.get()
    activation.reason = "rewritten"
    with pytest.raises(PermissionError):
        activation.save()
    with pytest.raises(PermissionError):
        activation.delete()
    with pytest.raises(PermissionError):
        Activation.objects.update(reason="rewritten")
    with pytest.raises(PermissionError):
        Activation.objects.all().delete()
    assert Activation.objects.get().reason_code == Activation.Reason.RETRAINED


# --- Live error where there is little to go on ----------------------------------------------------


def live(version: ModelVersion) -> ModelVersion:
    return ModelVersion.objects.with_live_error().get(pk=version.pk)


def test_a_version_without_predictions_or_outcomes_has_counts_of_0_and_no_figures(active_model):
    version = live(active_model)
    assert (version.live_predictions, version.live_outcomes) == (0, 0)
    assert [version.live_mae, version.live_rmse, version.live_mape, version.live_coverage] == [
        None,
        None,
        None,
        None,
    ]
    assert version.live_error_problem == ""


def test_mape_leaves_out_real_views_of_0_and_is_empty_when_all_are_0(active_model):
    first, second = predict((500, 300), (0, 0))  # exactly 59,000 and 1,000
    record(first.pk, 0)

    only_zero = live(active_model)
    assert only_zero.live_mae == pytest.approx(59000)
    assert only_zero.live_mape is None

    record(second.pk, 2000)
    both = live(active_model)
    assert both.live_mae == pytest.approx((59000 + 1000) / 2)
    assert both.live_rmse == pytest.approx(((59000**2 + 1000**2) / 2) ** 0.5)
    assert both.live_mape == pytest.approx(1000 / 2000)


def test_coverage_counts_only_predictions_made_with_an_interval(active_model):
    [with_interval] = predict((500, 300))
    # A version trained before intervals existed states none.
    ModelVersion.objects.filter(pk=active_model.pk).update(interval_relative_half_width=None)
    services.registry.clear_loaded_models()
    [without] = predict((20, 10))
    assert (with_interval.views_lower, without.views_lower) == (59000, None)
    record(without.pk, 99)
    assert live(active_model).live_coverage is None

    record(with_interval.pk, 59000)  # exactly the prediction, inside an interval of width ~0
    version = live(active_model)
    assert version.live_outcomes == 2
    assert version.live_coverage == pytest.approx(1.0)


def test_outcomes_count_against_the_version_that_answered(db, linear_csv, trained_models):
    first = trained_models.store(linear_csv)
    [old] = predict((500, 300))
    second = trained_models.store(linear_csv)
    [new] = predict((500, 300))
    record(old.pk, 60000)
    record(new.pk, 62000)
    record(new.pk, 63000)

    assert (live(first).live_outcomes, live(first).live_mae) == (1, pytest.approx(1000))
    assert (live(second).live_outcomes, live(second).live_mae) == (1, pytest.approx(4000))


@pytest.mark.parametrize(
    ("outcomes", "mae", "flagged"),
    [(20, 150.0, False), (20, 150.5, True), (19, 1e9, False), (0, None, False)],
    ids=["at the ratio", "above it", "too few outcomes", "no outcome"],
)
def test_a_version_is_flagged_above_the_ratio_on_enough_outcomes(settings, outcomes, mae, flagged):
    settings.VIEWSITE_LIVE_ERROR_RATIO = 1.5
    settings.VIEWSITE_LIVE_MIN_OUTCOMES = 20
    version = ModelVersion(number=3, cv_mae=100.0)
    version.live_outcomes, version.live_mae = outcomes, mae

    assert version.live_error_flagged is flagged
    if flagged:
        assert version.live_error_problem == (
            # 150.5 rounded as people round, halves up (display.count).
            "on 20 reported real view counts its typical miss is 151 views, more than 1.5 times "
            "the 100 it had in testing"
        )
