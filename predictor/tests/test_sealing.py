"""Seals make tampering with the audit trail detectable, even by whoever can drop the triggers:
a trail written through the services is sealed, then changed by raw SQL, and verify_audit names
the row and what happened to it; an untouched trail passes; seals chain."""

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from predictor import append_only, services
from predictor.models import AuditSeal, Channel, Outcome, PredictionRequest
from predictor.services import sealing
from predictor.services.outcomes import OutcomeItem

API = services.RequestInfo(channel=Channel.API, client_ip="203.0.113.7", user_agent="test/1.0")
PREDICTIONS = "predictor_predictionrequest"
OUTCOMES = "predictor_outcome"


def write_trail(count: int = 3) -> list[PredictionRequest]:
    """A batch answered, a refusal and an outcome, written the way the doors write them."""
    inputs = [{"likes": 100 + i, "shares": 7 * i} for i in range(count)]
    answered = services.predict(inputs=inputs, raw_inputs=inputs, info=API, batch=True)
    [refused_id] = services.record_refusal(
        raw_inputs=[{"likes": "lots"}], errors=[{"likes": ["A whole number."]}], info=API
    )
    refused = PredictionRequest.objects.get(pk=refused_id)
    services.record_outcomes(
        [OutcomeItem(prediction_id=answered[0].id, views=12_345)], source=Outcome.Source.API
    )
    return [*answered, refused]


def skip_ids(table: str, count: int) -> None:
    """Leave a gap in the table's ids, as a rolled-back insert does on PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(id) FROM {table}")
        next_id = cursor.fetchone()[0] + count
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [next_id])
        else:
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [next_id, table])


def tamper(sql: str, params=()) -> None:
    """Raw SQL by someone who can drop the triggers (the test's transaction restores them)."""
    append_only.drop(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def seal(**options) -> str:
    out = []
    call_command("seal_audit", stdout=_Lines(out), **{"lag": 0, **options})
    return "".join(out)


def verify() -> str:
    out = []
    call_command("verify_audit", stdout=_Lines(out), stderr=_Lines(out))
    return "".join(out)


def verify_fails() -> tuple[str, str]:
    """The first problem, as the command's error states it, and everything it listed."""
    out = []
    with pytest.raises(CommandError) as failed:
        call_command("verify_audit", stdout=_Lines(out), stderr=_Lines(out))
    return str(failed.value), "".join(out)


class _Lines:
    def __init__(self, out: list):
        self.out = out

    def write(self, text):
        self.out.append(text)

    def flush(self):
        pass


# Each way a row becomes bytes that this database can hash: json everywhere, postgresql on it.
ROW_ENCODINGS = [encoding for encoding in AuditSeal.RowEncoding if sealing.can_hash(encoding)]


@pytest.fixture(params=ROW_ENCODINGS)
def row_encoding(request):
    return request.param


@pytest.fixture
def sealed_trail(active_model, row_encoding):
    records = write_trail()
    seal(row_encoding=row_encoding)
    assert AuditSeal.objects.get().row_encoding == row_encoding
    return records


def test_an_untouched_trail_verifies(sealed_trail):
    report = verify()
    assert "4 predictor_predictionrequest rows as sealed; 0 written since the last seal" in report
    assert "1 predictor_outcome rows as sealed" in report
    digest = AuditSeal.objects.get().digest
    assert f"Audit trail intact: 1 seal(s); the chain ends at seal #1, digest {digest}." in report


def test_a_row_updated_by_raw_sql_is_named_as_changed(sealed_trail):
    record = sealed_trail[1]
    tamper(f"UPDATE {PREDICTIONS} SET views = views * 2 WHERE id = %s", [record.id])
    error, listed = verify_fails()
    assert f"the first: {PREDICTIONS} row {record.id}: changed since seal #1 sealed it" in error
    assert listed.count("changed") == 1


def test_verify_audit_states_the_problems_in_the_readers_language(sealed_trail, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    record = sealed_trail[1]
    tamper(f"UPDATE {PREDICTIONS} SET views = views * 2 WHERE id = %s", [record.id])
    error, listed = verify_fails()
    assert error == (
        f"审计记录与封存不符：共 1 处问题；第一处：{PREDICTIONS} 第 {record.id} 条：在封存 #1 "
        "封存之后被修改过。"
    )
    assert listed == f"{PREDICTIONS} 第 {record.id} 条：在封存 #1 封存之后被修改过\n"


def test_an_outcome_updated_by_raw_sql_is_named_as_changed(sealed_trail):
    outcome = Outcome.objects.get()
    tamper(f"UPDATE {OUTCOMES} SET views = 99 WHERE id = %s", [outcome.id])
    error, _ = verify_fails()
    assert f"{OUTCOMES} row {outcome.id}: changed since seal #1 sealed it" in error


def test_a_change_to_a_json_column_is_caught(sealed_trail):
    refused = sealed_trail[-1]
    tamper(f"UPDATE {PREDICTIONS} SET errors = %s WHERE id = %s", ['{"likes": []}', refused.id])
    error, _ = verify_fails()
    assert f"{PREDICTIONS} row {refused.id}: changed" in error


def test_a_row_deleted_by_raw_sql_with_the_trigger_dropped_is_named_as_removed(sealed_trail):
    record = sealed_trail[2]  # no outcome refers to it
    tamper(f"DELETE FROM {PREDICTIONS} WHERE id = %s", [record.id])
    error, _ = verify_fails()
    assert f"{PREDICTIONS} row {record.id}: removed; seal #1 had sealed it" in error


def test_a_forged_row_inserted_into_a_sealed_range_is_named_as_inserted(active_model):
    first = write_trail()
    skip_ids(PREDICTIONS, 5)  # a gap, as a rolled-back insert leaves
    later = write_trail()
    seal()
    forged = first[-1].id + 2
    assert first[-1].id < forged < later[0].id
    columns = [c for c in sealing.SEALED_TABLES[0].columns() if c != "id"]
    # No trigger stands in the way of an INSERT: the trail grows.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PREDICTIONS} (id, {', '.join(columns)}) "
            f"SELECT %s, {', '.join(columns)} FROM {PREDICTIONS} WHERE id = %s",
            [forged, first[0].id],
        )
    error, _ = verify_fails()
    assert (
        f"the first: {PREDICTIONS} row {forged}: inserted into the range seal #1 sealed "
        f"(ids 1–{later[-1].id}), which did not list it" in error
    )


def test_verify_lists_every_problem_in_table_and_id_order(sealed_trail):
    first, second = sealed_trail[0], sealed_trail[2]
    tamper(
        f"UPDATE {PREDICTIONS} SET latency_ms = latency_ms + 1 WHERE id IN (%s, %s)",
        [first.id, second.id],
    )
    error, listed = verify_fails()
    assert "2 problem(s)" in error
    assert listed.index(f"row {first.id}: changed") < listed.index(f"row {second.id}: changed")


def test_a_second_seal_chains_to_the_first_and_covers_only_what_is_new(sealed_trail):
    first = AuditSeal.objects.get()
    write_trail(count=2)
    seal()
    second = AuditSeal.objects.get(number=2)
    assert second.previous_digest == first.digest
    assert second.predictions_after_id == first.predictions_through_id
    assert second.prediction_count == 3
    assert second.outcome_count == 1
    assert "Audit trail intact: 2 seal(s)" in verify()


def test_altering_the_first_seals_digest_breaks_the_chain(sealed_trail):
    write_trail(count=1)
    seal()
    tamper("UPDATE predictor_auditseal SET digest = %s WHERE number = 1", ["0" * 64])
    error, listed = verify_fails()
    assert "the first: seal #1: does not match its digest" in error
    assert "seal #2: does not chain to the seal before it" in listed


def test_a_removed_seal_is_missed_in_the_chain(sealed_trail):
    write_trail(count=1)
    seal()
    write_trail(count=1)
    seal()
    tamper("DELETE FROM predictor_auditseal WHERE number = 2")
    error, listed = verify_fails()
    assert "seal #3: seal #2 before it is missing" in error
    assert "its predictor_predictionrequest range starts after id" in listed


def test_a_seal_re_made_without_the_key_is_caught(active_model, settings):
    settings.VIEWSITE_AUDIT_SEAL_KEY = "a key only the sealing host holds"
    records = write_trail()
    seal()
    assert "Audit trail intact" in verify()
    # Whoever can write the database changes a row, and re-makes the seal over it, as well as
    # they can without the key: the right row hash, a plain SHA-256 digest.
    tamper(f"UPDATE {PREDICTIONS} SET views = 1 WHERE id = %s", [records[0].id])
    forged = AuditSeal.objects.get()
    [(_, row_hash)] = sealing.row_hashes(
        sealing.SEALED_TABLES[0],
        forged.columns[PREDICTIONS],
        forged.row_encoding,
        records[0].id - 1,
        records[0].id,
    )
    hashes = bytearray(forged.prediction_hashes)
    hashes[: sealing.ROW_HASH_BYTES] = row_hash
    forged.prediction_hashes = bytes(hashes)
    settings.VIEWSITE_AUDIT_SEAL_KEY = ""
    forged.digest = sealing.compute_digest(forged)
    settings.VIEWSITE_AUDIT_SEAL_KEY = "a key only the sealing host holds"
    tamper(
        "UPDATE predictor_auditseal SET prediction_hashes = %s, digest = %s WHERE number = 1",
        [forged.prediction_hashes, forged.digest],
    )
    error, _ = verify_fails()
    assert "seal #1: does not match its digest" in error
    assert "another VIEWSITE_AUDIT_SEAL_KEY" in error


def test_seal_audit_will_not_chain_onto_a_changed_seal(sealed_trail):
    tamper("UPDATE predictor_auditseal SET prediction_count = 3 WHERE number = 1")
    write_trail(count=1)
    with pytest.raises(CommandError, match="Seal #1 does not match its digest"):
        seal()
    assert AuditSeal.objects.count() == 1


def test_rows_younger_than_the_lag_wait_for_the_next_seal(active_model):
    now = timezone.now()
    # Requests usually insert in the order they started, not always: the one that started first
    # (older created_at) may get the higher id.
    young_first = PredictionRequest.objects.create(
        channel=Channel.API, accepted=False, latency_ms=1.0, created_at=now
    )
    old_second = PredictionRequest.objects.create(
        channel=Channel.API, accepted=False, latency_ms=1.0, created_at=now - timedelta(minutes=9)
    )
    young_third = PredictionRequest.objects.create(
        channel=Channel.API, accepted=False, latency_ms=1.0, created_at=now
    )
    report = seal(lag=5 * 60)
    first = AuditSeal.objects.get()
    # Up to the newest old row, with the younger row before it (it is committed and visible).
    assert young_first.id < old_second.id < young_third.id
    assert (first.predictions_after_id, first.predictions_through_id) == (0, old_second.id)
    assert first.prediction_count == 2
    assert f"2 {PREDICTIONS} (ids" in report
    assert "1 written since the last seal" in verify()
    assert "Nothing to seal" in seal(lag=5 * 60)
    seal()
    assert AuditSeal.objects.get(number=2).predictions_through_id == young_third.id


def test_nothing_to_seal_stores_nothing(db):
    assert "Nothing to seal" in seal()
    assert AuditSeal.objects.count() == 0
    assert "nothing has been sealed yet" in verify()


def test_a_dry_run_stores_nothing(sealed_trail):
    write_trail(count=1)
    assert "Seal #2 would be" in seal(dry_run=True)
    assert AuditSeal.objects.count() == 1


def test_an_unkeyed_seal_is_flagged_as_such_on_stderr(sealed_trail, settings):
    assert settings.VIEWSITE_AUDIT_SEAL_KEY == ""
    write_trail(count=1)
    out, err = [], []
    call_command("seal_audit", lag=0, stdout=_Lines(out), stderr=_Lines(err))
    assert "VIEWSITE_AUDIT_SEAL_KEY is not set" in "".join(err)
    assert "VIEWSITE_AUDIT_SEAL_KEY" not in "".join(out)  # the answer is the seal, alone


def test_a_negative_lag_is_refused(db):
    with pytest.raises(CommandError, match="--lag must be zero or more seconds"):
        seal(lag=-1)


def test_each_database_seals_in_its_own_row_encoding(active_model):
    write_trail(count=1)
    assert "(json rows)" in seal(row_encoding="json")
    write_trail(count=1)
    report = seal()
    expected = "postgresql" if connection.vendor == "postgresql" else "json"
    assert AuditSeal.objects.get(number=2).row_encoding == expected
    assert f"Seal #2 stored ({expected} rows)" in report
    # Seals of either encoding chain, and both verify.
    assert "Audit trail intact: 2 seal(s)" in verify()


# The smallest change to each kind of column: a hash that rounds, truncates or normalises any of
# them would miss it.
SMALLEST_CHANGES = {
    "created_at": lambda value: connection.ops.adapt_datetimefield_value(
        value + timedelta(microseconds=1)
    ),
    "views": lambda value: math.nextafter(value, math.inf),
    "raw_input": lambda value: json.dumps({**value, "likes": value["likes"] + 1}),
    "client_ip": lambda value: "203.0.113.8",
    "user_agent": lambda value: value + " ",
    "shares": lambda value: None,
}


@pytest.mark.parametrize("column", SMALLEST_CHANGES)
def test_the_smallest_change_to_any_column_is_caught(sealed_trail, column):
    record = PredictionRequest.objects.filter(pk=sealed_trail[0].id)
    before = record.values_list(column, flat=True).get()
    tamper(
        f"UPDATE {PREDICTIONS} SET {column} = %s WHERE id = %s",
        [SMALLEST_CHANGES[column](before), sealed_trail[0].id],
    )
    assert record.values_list(column, flat=True).get() != before
    error, _ = verify_fails()
    assert f"{PREDICTIONS} row {sealed_trail[0].id}: changed since seal #1 sealed it" in error


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL hashes rows itself")
def test_postgresql_row_hashes_do_not_depend_on_the_sessions_settings(active_model):
    """What a restore into a server configured otherwise must not change.
    (The json encoding reads rows through psycopg's text format, which these settings change.)"""
    write_trail()
    seal(row_encoding="postgresql")
    with connection.cursor() as cursor:
        # (Not the time zone: Django sets that on each connection, and reads timestamps by it.)
        cursor.execute("SET extra_float_digits = -3")
        cursor.execute("SET bytea_output = 'escape'")
    assert "Audit trail intact" in verify()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL hashes either encoding")
def test_rows_hashed_by_postgresql_are_verified_only_there(sealed_trail):
    with pytest.raises(CommandError, match="--row-encoding postgresql needs a postgresql database"):
        seal(row_encoding="postgresql")
    # A trail moved from PostgreSQL: its seals name where they can be checked.
    tamper("UPDATE predictor_auditseal SET row_encoding = 'postgresql'")
    _, listed = verify_fails()
    assert (
        f"seal #1: its {PREDICTIONS} rows were hashed in the postgresql row encoding, which "
        "only a postgresql database computes: verify there" in listed
    )


def test_a_row_hashes_the_same_on_sqlite_and_postgresql(db):
    """Each column type's canonical form, checked against a hand-written encoding."""
    [record] = PredictionRequest.objects.bulk_create(
        [
            PredictionRequest(
                id=10**12,
                created_at=datetime(2026, 12, 7, 8, 9, 10, 123456, tzinfo=UTC),
                channel=Channel.FORM,
                accepted=True,
                raw_input={"shares": "1，200", "likes": 5, "nested": {"b": [1.5, None], "a": True}},
                likes=5,
                views=46292.74,
                latency_ms=0.1,
                client_ip="203.0.113.7",
                batch_id=UUID("12345678-1234-5678-1234-567812345678"),
            )
        ]
    )
    columns = ["id", "created_at", "channel", "accepted", "raw_input", "likes", "shares"]
    columns += ["views", "latency_ms", "client_ip", "batch_id", "user_id"]
    with transaction.atomic():
        row = PredictionRequest.objects.filter(pk=record.pk).values_list(*columns).get()
    by_hand = (
        '[1000000000000,"2026-12-07T08:09:10.123456+00:00","form",true,'
        '{"likes":5,"nested":{"a":true,"b":[1.5,null]},"shares":"1，200"},5,null,'
        '46292.74,0.1,"203.0.113.7","12345678-1234-5678-1234-567812345678",null]'
    )
    assert json.loads(by_hand)  # well-formed
    assert sealing.row_hash(row) == hashlib.sha256(by_hand.encode()).digest()[:16]
