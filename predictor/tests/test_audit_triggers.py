"""The database itself refuses to change the audit trail: raw SQL that updates, deletes or empties
the prediction requests, the outcomes or the seals fails, with a message that says what was
refused and why, on SQLite and PostgreSQL alike."""

import pytest
from django.db import IntegrityError, connection, transaction

from predictor import append_only
from predictor.models import Channel, Outcome, PredictionRequest

TABLES = append_only.TABLES


def audit_rows():
    """One prediction request, one outcome and one seal, written as the application writes them."""
    from django.core.management import call_command

    record = PredictionRequest.objects.create(
        channel=Channel.API, accepted=False, raw_input={"likes": "x"}, latency_ms=1.5
    )
    Outcome.objects.create(prediction=record, views=10, source=Outcome.Source.API)
    call_command("seal_audit", lag=0, verbosity=0)


def execute(sql: str):
    # A savepoint, so that on PostgreSQL the refused statement does not abort the test's
    # transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


def every_trigger() -> set[tuple[str, str]]:
    # SQLite has no TRUNCATE.
    operations = ["UPDATE", "DELETE"] + (["TRUNCATE"] if connection.vendor == "postgresql" else [])
    return {(table, operation) for table in TABLES for operation in operations}


def test_the_migrated_database_refuses_every_change_to_every_audit_table(db):
    assert append_only.installed(connection) == every_trigger()


@pytest.mark.parametrize("table", TABLES)
def test_raw_sql_cannot_update_a_row_and_is_told_why(db, table):
    audit_rows()
    with pytest.raises(IntegrityError) as refused:
        execute(f"UPDATE {table} SET id = id")
    assert f"UPDATE on {table} refused: the audit trail is append-only" in str(refused.value)


@pytest.mark.parametrize("table", TABLES)
def test_raw_sql_cannot_delete_a_row_and_is_told_why(db, table):
    audit_rows()
    with pytest.raises(IntegrityError) as refused:
        execute(f"DELETE FROM {table} WHERE id = (SELECT max(id) FROM {table})")
    assert f"DELETE on {table} refused: the audit trail is append-only" in str(refused.value)


@pytest.mark.parametrize("table", TABLES)
def test_raw_sql_cannot_empty_a_table(db, table):
    audit_rows()
    # TRUNCATE on PostgreSQL, which row triggers never see; SQLite's DELETE without WHERE is its
    # fast path for the same, which a trigger turns off.
    statement = "TRUNCATE {} CASCADE" if connection.vendor == "postgresql" else "DELETE FROM {}"
    if connection.vendor == "postgresql":
        # The rows' foreign keys are checked at commit, and PostgreSQL will not truncate a table
        # with checks pending: check them now, as a committed trail would have.
        execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match="refused: the audit trail is append-only"):
        execute(statement.format(table))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        assert cursor.fetchone()[0] >= 1


def test_inserting_is_still_allowed(db):
    audit_rows()
    assert PredictionRequest.objects.count() == 1


def test_dropped_triggers_refuse_nothing_and_install_puts_them_back(db):
    audit_rows()
    append_only.drop(connection)
    assert append_only.installed(connection) == set()
    execute("UPDATE predictor_outcome SET views = 11")
    append_only.install(connection)
    append_only.install(connection)  # idempotent: the test suite reinstalls after every flush
    with pytest.raises(IntegrityError):
        execute("UPDATE predictor_outcome SET views = 12")
    assert Outcome.objects.get().views == 11


def test_a_transactional_test_still_refuses_and_its_rows_are_flushed_after_it(transactional_db):
    # The conftest lifts the triggers only for Django's flush after the test, never during it;
    # the next test checks that they are back.
    audit_rows()
    with pytest.raises(IntegrityError):
        execute("DELETE FROM predictor_outcome")


def test_the_triggers_are_back_after_a_transactional_tests_flush(db):
    assert PredictionRequest.objects.count() == 0
    assert append_only.installed(connection) == every_trigger()
