"""The audit table's indexes: what every request writes, and what the auditor's lookups use."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from predictor.models import PredictionRequest

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
def test_only_the_date_and_version_indexes_hold_every_row():
    # Every full index is written by every request's INSERT; the rest must leave out the rows
    # of an answered, anonymous, single request.
    definitions = index_definitions()
    full = {name for name, definition in definitions.items() if "WHERE" not in definition}
    assert full == {f"{AUDIT_TABLE}_created_at_b3cf609f", "predictor_p_model_v_e50de3_idx"}
    assert set(definitions) - full == {"prediction_refused", "prediction_user", "prediction_batch"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        (lambda rows: rows.filter(accepted=False).order_by("-created_at"), "prediction_refused"),
        (lambda rows: rows.filter(user=get_user_model()(pk=7)), "prediction_user"),
        (lambda rows: rows.filter(user__in=[3, 7]), "prediction_user"),
        (lambda rows: rows.filter(batch_id=uuid.uuid4()), "prediction_batch"),
        (
            lambda rows: rows.filter(model_version=1).order_by("-created_at"),
            "predictor_p_model_v",
        ),
    ],
    ids=["refusals", "one user", "users being deleted", "one batch", "one version"],
)
def test_the_auditors_lookups_are_served_by_an_index(lookup, index):
    # The user lookups are the ones `on_delete=PROTECT` makes before a user is deleted.
    assert index in plan(lookup(PredictionRequest.objects.all()))
