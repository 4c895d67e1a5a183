"""services.audit_writes: the one writer of audit rows. A row it writes is the row the ORM would
have written, column by column and as the seal hashes it; ids come back in the rows' order; a
call writes all its rows or none; two writers at once never share an id."""

import threading
import uuid
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction

from predictor.models import Channel, Outcome, PredictionRequest
from predictor.services import audit_writes, sealing

COLUMNS = [
    field.attname for field in PredictionRequest._meta.concrete_fields if not field.primary_key
]


def values(active_model, user, *, created_at, **changes) -> dict:
    """Every column of an audit row, with the kinds of value that convert differently on each
    database: a datetime, JSON (text to escape, a float, a nested null), floats whose repr
    matters, a UUID, booleans and NULLs, an IPv6 address the ORM writes in short form."""
    row = {
        "created_at": created_at,
        "channel": Channel.API,
        "accepted": True,
        "raw_input": {"点赞数": "1,200", "quote": 'a "b" \\ c', "list": [1, 2.5, None, True]},
        "likes": 1200,
        "shares": 0,
        "views": 12345.67,
        "views_lower": 0.1 + 0.2,
        "views_upper": 1e300,
        "extrapolated": True,
        "errors": None,
        "model_version_id": active_model.pk,
        "latency_ms": 1.5,
        "client_ip": "2001:0db8:0000:0000:0000:0000:0000:0001",
        "user_agent": "pytest/1 中文",
        "user_id": user.pk,
        "batch_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "batch_index": 0,
    }
    return {**row, **changes}


CASES = [
    # Microseconds, and none: SQLite's text form of the two differs in length.
    {"created_at": datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)},
    {"created_at": datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC), "extrapolated": None},
    {
        "created_at": datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC),
        "accepted": False,
        "likes": None,
        "shares": None,
        "views": None,
        "views_lower": None,
        "views_upper": None,
        "extrapolated": None,
        "errors": {"likes": [{"code": "min_value", "params": {"limit_value": 0}}]},
        "model_version_id": None,
        "client_ip": None,
        "user_agent": "",
        "user_id": None,
        "batch_id": None,
        "batch_index": None,
    },
]


def stored(row_id: int) -> tuple:
    """The row as the database keeps it, without its id: SQLite's own values (text for dates,
    JSON and UUIDs), or PostgreSQL's binary row format, which its seals hash."""
    with connection.cursor() as cursor:
        columns = ", ".join(
            connection.ops.quote_name(field.column)
            for field in PredictionRequest._meta.concrete_fields
            if not field.primary_key
        )
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT sha256(record_send(ROW({columns}))) FROM predictor_predictionrequest "
                "WHERE id = %s",
                [row_id],
            )
            return (bytes(cursor.fetchone()[0]),)
        cursor.execute(f"SELECT {columns} FROM predictor_predictionrequest WHERE id = %s", [row_id])
        return cursor.fetchone()


def as_read(row_id: int) -> tuple:
    return PredictionRequest.objects.filter(pk=row_id).values_list(*COLUMNS).get()


@pytest.mark.parametrize("changes", CASES)
def test_a_row_written_by_the_writer_is_the_row_the_orm_writes(active_model, staff_user, changes):
    row = values(active_model, staff_user, **changes)
    by_orm = PredictionRequest.objects.create(**row).pk
    # One row (its INSERT), two rows (COPY or executemany), and columns shared by a call.
    [one] = audit_writes.write_rows(PredictionRequest, list(row), [tuple(row.values())])
    many = audit_writes.write_rows(PredictionRequest, list(row), [tuple(row.values())] * 2)
    per_row = ["raw_input", "likes", "views", "errors"]
    shared = {name: value for name, value in row.items() if name not in per_row}
    split = audit_writes.write_rows(
        PredictionRequest, per_row, [tuple(row[name] for name in per_row)] * 2, shared=shared
    )

    for row_id in [one, *many, *split]:
        assert as_read(row_id) == as_read(by_orm)
        assert stored(row_id) == stored(by_orm)


def test_rows_the_writer_wrote_are_sealed_and_verified_like_any(active_model, staff_user):
    for changes in CASES:
        row = values(active_model, staff_user, **changes)
        PredictionRequest.objects.create(**row)
        audit_writes.write_rows(PredictionRequest, list(row), [tuple(row.values())] * 3)
    [prediction_id] = audit_writes.write_rows(
        PredictionRequest, ["channel", "accepted", "latency_ms"], [(Channel.CLI, False, 0.0)]
    )
    audit_writes.write_rows(
        Outcome,
        ["prediction_id", "views", "recorded_at", "source"],
        [(prediction_id, 5, datetime(2026, 3, 1, tzinfo=UTC), Outcome.Source.IMPORT)] * 2,
    )

    call_command("seal_audit", lag=0, verbosity=0)
    result = sealing.verify()

    assert result.problems == []
    assert result.rows_checked == {
        "predictor_predictionrequest": PredictionRequest.objects.count(),
        "predictor_outcome": 2,
    }


def test_ids_come_back_in_the_rows_order_across_chunks(db, monkeypatch):
    monkeypatch.setattr(audit_writes, "WRITE_CHUNK", 7)
    rows = ((Channel.CLI, False, float(index), index) for index in range(30))  # a generator

    ids = audit_writes.write_rows(
        PredictionRequest, ["channel", "accepted", "latency_ms", "batch_index"], rows
    )

    assert ids == sorted(set(ids))
    assert len(ids) == 30
    written = dict(PredictionRequest.objects.values_list("pk", "batch_index"))
    assert [written[row_id] for row_id in ids] == list(range(30))
    # The next row the ORM writes takes the next id: the table's counter saw them.
    assert (
        PredictionRequest.objects.create(channel="cli", accepted=False, latency_ms=0).pk > ids[-1]
    )


def test_no_rows_write_nothing(db):
    assert audit_writes.write_rows(PredictionRequest, ["channel"], iter([])) == []
    assert not PredictionRequest.objects.exists()


def test_a_call_writes_all_its_chunks_or_none(transactional_db, monkeypatch):
    """Outside any transaction (autocommit, as a command runs), the call makes its own."""
    monkeypatch.setattr(audit_writes, "WRITE_CHUNK", 5)
    # The last chunk's row breaks a constraint (likes >= 0) after two chunks went in.
    rows = [(Channel.CLI, False, 0.0, likes) for likes in [*range(12), -1]]

    with pytest.raises(IntegrityError):
        audit_writes.write_rows(
            PredictionRequest, ["channel", "accepted", "latency_ms", "likes"], rows
        )

    assert not PredictionRequest.objects.exists()


def test_inside_a_transaction_a_failed_call_undoes_the_transaction(transactional_db, monkeypatch):
    monkeypatch.setattr(audit_writes, "WRITE_CHUNK", 5)
    columns = ["channel", "accepted", "latency_ms", "likes"]

    def two_calls():
        with transaction.atomic():
            audit_writes.write_rows(PredictionRequest, columns, [(Channel.CLI, False, 0.0, 1)] * 3)
            audit_writes.write_rows(PredictionRequest, columns, [(Channel.CLI, False, 0.0, -1)] * 8)

    with pytest.raises(IntegrityError):
        two_calls()

    assert not PredictionRequest.objects.exists()


def test_the_writers_id_is_refused_as_a_column(db):
    with pytest.raises(ValueError, match="gives each row its id"):
        audit_writes.write_rows(PredictionRequest, ["id", "channel"], [(1, Channel.CLI)])


def test_two_writers_at_once_never_share_an_id_and_each_gets_its_own_rows(
    transactional_db, monkeypatch
):
    """Each writer writes chunks of rows marked with its name, one call after another, while the
    other does the same (on SQLite they queue on the write lock; on PostgreSQL they interleave
    on the sequence). Every id returned names the row its writer gave for it."""
    monkeypatch.setattr(audit_writes, "WRITE_CHUNK", 10)
    columns = ["channel", "accepted", "latency_ms", "user_agent", "batch_index"]
    results: dict[str, list[int]] = {}
    errors = []
    start = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            start.wait()
            ids = []
            for call in range(20):
                rows = [(Channel.CLI, False, 0.0, name, call * 25 + i) for i in range(25)]
                ids += audit_writes.write_rows(PredictionRequest, columns, rows)
                ids += audit_writes.write_rows(PredictionRequest, columns, rows[:1])  # one row
            results[name] = ids
        except Exception as error:  # reported below, with the thread's name
            errors.append((name, error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results["a"]) | set(results["b"])) == 2 * 20 * 26
    written = {
        pk: (agent, index)
        for pk, agent, index in PredictionRequest.objects.values_list(
            "pk", "user_agent", "batch_index"
        )
    }
    assert len(written) == 2 * 20 * 26
    for name, ids in results.items():
        expected = [
            (name, index)
            for call in range(20)
            for index in [*range(call * 25, call * 25 + 25), call * 25]
        ]
        assert [written[row_id] for row_id in ids] == expected
