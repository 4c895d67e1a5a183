"""Tamper evidence for the audit trail: seal the rows written since the last seal into a hash
chain, and verify the chain against the rows as they are now.

The triggers (predictor/append_only.py) stop UPDATE and DELETE, but not whoever can drop them.
Seals make what such a person did detectable afterwards:

- `seal` hashes every prediction request and outcome written since the previous seal, each row
  from a canonical encoding of all its columns, and stores which ids it covered and a 16-byte hash
  of each row. Its digest covers that, and the previous seal's digest: a chain. With
  VIEWSITE_AUDIT_SEAL_KEY set the digest is an HMAC under a key the database never holds, so
  whoever can write the database cannot make a valid chain over rows they changed.
  Once stored, it moves the served counts' checkpoint to the same id (services/served.py): every
  row up to there is committed, which is what a checkpoint needs too.
- `verify` recomputes every digest and the chain, and compares each sealed range with the rows
  there now: a row whose hash differs was changed, a sealed id that is gone was removed, and an id
  inside a sealed range that the seal did not list was inserted after the seal.

Why a lag: ids are handed out when a row is inserted, but a row becomes visible when its
transaction commits, so a slow transaction holding id 100 may commit after id 101 was sealed.
A seal reaches only as far as the newest row at least `lag` old (default five minutes) and covers
every row up to it, so a row is flagged as inserted only if its transaction stayed open for longer
than the lag, or its app host's clock was off by more (the audit's writes last milliseconds; keep
the hosts on NTP).

How a row becomes bytes (the seal's row_encoding; the columns it hashed, in order, are recorded in
each seal, so a column added later does not change the hash of rows sealed before it):

- postgresql, on PostgreSQL: the database hashes each row itself, SHA-256 of record_send(ROW(the
  columns)), PostgreSQL's binary row format (each column's type and its binary value: integers
  and floats as their bits, timestamps as UTC microseconds, JSON as jsonb's normalised text).
  Only ids and 16-byte hashes cross the wire, so psycopg never turns timestamps and JSON into
  Python objects (figures: bench/README.md, make bench-seal). The format does not depend on the
  session's settings, and survives pg_dump and restore.
- json, on SQLite (and for seals made before the PostgreSQL encoding): Python hashes a JSON array
  of the columns: integers and strings as JSON has them, floats by repr (json's own), datetimes in
  UTC ISO format with microseconds, UUIDs as text, and JSON columns with their keys sorted. It
  hashes the same on either database, so a trail sealed on SQLite verifies after a move to
  PostgreSQL.
"""

import hashlib
import hmac
import json
import logging
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from ..models import AuditSeal, Outcome, PredictionRequest
from . import served

RowEncoding = AuditSeal.RowEncoding

logger = logging.getLogger(__name__)

DEFAULT_LAG = timedelta(minutes=5)
# 128 bits: finding another row with the same short hash is still out of reach, and a seal of a
# million rows keeps 16 MB of them.
ROW_HASH_BYTES = 16
# Rows fetched per round trip; on PostgreSQL a server-side cursor, so memory stays flat.
CHUNK_SIZE = 5000
# Ids and hashes hashed by PostgreSQL, per query: 24 bytes a row.
HASH_CHUNK_SIZE = 50_000
# verify keeps this many problems to show; it counts them all.
PROBLEMS_KEPT = 1000


@dataclass(frozen=True)
class SealedTable:
    """One audit table and the AuditSeal fields that describe it."""

    model: type[models.Model]
    written_at: str  # the column the lag is measured on
    plural: str  # AuditSeal's predictions_after_id, ...
    singular: str  # AuditSeal's prediction_count, prediction_ids, ...

    @property
    def name(self) -> str:
        return self.model._meta.db_table

    def columns(self) -> list[str]:
        """Every column, the primary key first, in the model's order."""
        return [column.attname for column in self.model._meta.concrete_fields]

    def range_of(self, seal: AuditSeal) -> tuple[int, int]:
        return getattr(seal, f"{self.plural}_after_id"), getattr(seal, f"{self.plural}_through_id")

    def count_of(self, seal: AuditSeal) -> int:
        return getattr(seal, f"{self.singular}_count")

    def ids_of(self, seal: AuditSeal) -> bytes:
        return bytes(getattr(seal, f"{self.singular}_ids"))

    def hashes_of(self, seal: AuditSeal) -> bytes:
        return bytes(getattr(seal, f"{self.singular}_hashes"))


SEALED_TABLES = (
    SealedTable(PredictionRequest, "created_at", "predictions", "prediction"),
    SealedTable(Outcome, "recorded_at", "outcomes", "outcome"),
)


class SealChainBroken(Exception):
    """The newest seal does not match its digest: sealing on top of it would vouch for it."""


class SealConflict(Exception):
    """Another seal_audit stored a seal while this one was hashing: this one stores nothing."""


# --- How a row is hashed --------------------------------------------------------------------------


def _encode_other(value):
    if isinstance(value, datetime):
        # Both databases hand Django UTC datetimes; converting only the rest saves a call per row.
        utc = value if value.tzinfo is UTC else value.astimezone(UTC)
        return utc.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    raise TypeError(f"No canonical encoding for {type(value).__name__} in a sealed row.")


# One encoder for every row: json.dumps with options builds a new one per call.
_ROW_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_encode_other
)


def row_hash(row: tuple) -> bytes:
    return hashlib.sha256(_ROW_ENCODER.encode(row).encode()).digest()[:ROW_HASH_BYTES]


def rows_between(
    table: SealedTable, columns: list[str], after: int, through: int
) -> Iterator[tuple]:
    """The table's rows with ids after `after` through `through`, in id order, as tuples."""
    return (
        table.model.objects.filter(pk__gt=after, pk__lte=through)
        .order_by("pk")
        .values_list(*columns)
        .iterator(chunk_size=CHUNK_SIZE)
    )


def default_encoding() -> str:
    return RowEncoding.POSTGRESQL if connection.vendor == "postgresql" else RowEncoding.JSON


def can_hash(encoding: str) -> bool:
    return encoding == RowEncoding.JSON or connection.vendor == encoding


def row_hashes(
    table: SealedTable, columns: list[str], encoding: str, after: int, through: int
) -> Iterator[tuple[int, bytes]]:
    """(id, row hash) of the rows with ids after `after` through `through`, in id order."""
    if encoding == RowEncoding.JSON:
        return ((row[0], row_hash(row)) for row in rows_between(table, columns, after, through))
    if not can_hash(encoding):
        raise ValueError(f"The {encoding} row encoding needs a {encoding} database.")
    return _hashed_by_postgresql(table, columns, after, through)


def _hashed_by_postgresql(
    table: SealedTable, columns: list[str], after: int, through: int
) -> Iterator[tuple[int, bytes]]:
    quote = connection.ops.quote_name
    pk = quote(table.model._meta.pk.column)
    fields = {field.attname: field.column for field in table.model._meta.concrete_fields}
    row = ", ".join(quote(fields[name]) for name in columns)
    # Keyset chunks: each query is a range scan of the primary key, however sparse the ids.
    query = (
        f"SELECT {pk}, substring(sha256(record_send(ROW({row}))) FROM 1 FOR {ROW_HASH_BYTES}) "
        f"FROM {quote(table.name)} WHERE {pk} > %s AND {pk} <= %s ORDER BY {pk} "
        f"LIMIT {HASH_CHUNK_SIZE}"
    )
    last = after
    with connection.cursor() as cursor:
        while True:
            cursor.execute(query, [last, through])
            chunk = cursor.fetchall()
            for row_id, digest in chunk:
                yield row_id, bytes(digest)
            if len(chunk) < HASH_CHUNK_SIZE:
                return
            last = chunk[-1][0]


# --- Ids as runs ----------------------------------------------------------------------------------


def _pack_runs(ids: Iterable[int]) -> bytes:
    """Ascending ids as (first, last) pairs of little-endian int64: mostly one run per seal."""
    runs = array("q")
    for row_id in ids:
        if runs and runs[-1] == row_id - 1:
            runs[-1] = row_id
        else:
            runs.extend((row_id, row_id))
    if sys.byteorder == "big":
        runs.byteswap()
    return runs.tobytes()


def _unpack_runs(blob: bytes) -> Iterator[int]:
    runs = array("q")
    runs.frombytes(blob)
    if sys.byteorder == "big":
        runs.byteswap()
    for first, last in zip(runs[::2], runs[1::2], strict=True):
        yield from range(first, last + 1)


# --- The chain ------------------------------------------------------------------------------------


def _key() -> bytes:
    return settings.VIEWSITE_AUDIT_SEAL_KEY.encode()


def compute_digest(seal: AuditSeal) -> str:
    """The seal's digest from everything it holds, including the previous seal's digest."""
    key = _key()
    digest = hmac.new(key, digestmod=hashlib.sha256) if key else hashlib.sha256()
    header = {
        "number": seal.number,
        "previous": seal.previous_digest,
        "sealed_at": _encode_other(seal.sealed_at),
        "cutoff": _encode_other(seal.cutoff),
        "columns": seal.columns,
        # Left out for json, so that seals made before there was a choice keep their digests.
        **({"row_encoding": seal.row_encoding} if seal.row_encoding != RowEncoding.JSON else {}),
        "tables": {t.name: [*t.range_of(seal), t.count_of(seal)] for t in SEALED_TABLES},
    }
    digest.update(_ROW_ENCODER.encode(header).encode())
    for table in SEALED_TABLES:
        # Length-prefixed, so that no byte can move from one blob to the next unnoticed.
        for blob in (table.ids_of(seal), table.hashes_of(seal)):
            digest.update(len(blob).to_bytes(8, "big"))
            digest.update(blob)
    return digest.hexdigest()


def seal(
    *, lag: timedelta = DEFAULT_LAG, dry_run: bool = False, encoding: str | None = None
) -> AuditSeal | None:
    """Seal the rows written since the last seal and at least `lag` ago; None when there are none.

    `encoding` is how rows become bytes (the module's docstring): the database's own by default.

    Raises SealChainBroken when the newest seal does not match its digest, and SealConflict when
    another seal was stored meanwhile. A stored seal moves the served counts' checkpoint.
    """
    now = timezone.now()
    cutoff = now - lag
    previous = AuditSeal.objects.order_by("-number").first()
    if previous is not None and compute_digest(previous) != previous.digest:
        raise SealChainBroken(
            gettext(
                "Seal #%(number)s does not match its digest (changed, or made with another "
                "VIEWSITE_AUDIT_SEAL_KEY); nothing was sealed on top of it. Run manage.py "
                "verify_audit."
            )
            % {"number": previous.number}
        )
    new = AuditSeal(
        number=previous.number + 1 if previous else 1,
        sealed_at=now,
        cutoff=cutoff,
        previous_digest=previous.digest if previous else "",
        columns={},
        row_encoding=encoding or default_encoding(),
    )
    # Rows are read and hashed outside any transaction: on SQLite a transaction takes the write
    # lock every audited request waits for, and a first seal of a large trail takes a while.
    for table in SEALED_TABLES:
        after = table.range_of(previous)[1] if previous else 0
        unsealed = table.model.objects.filter(pk__gt=after)
        # Everything up to the newest row old enough, including younger rows with lower ids
        # (their request started earlier but inserted later): they are committed and visible.
        newest = unsealed.filter(**{f"{table.written_at}__lte": cutoff}).aggregate(
            newest=models.Max("pk")
        )["newest"]
        through = after if newest is None else newest
        columns = table.columns()
        ids = array("q")
        hashes = bytearray()
        for row_id, digest in row_hashes(table, columns, new.row_encoding, after, through):
            ids.append(row_id)
            hashes += digest
        new.columns[table.name] = columns
        setattr(new, f"{table.plural}_after_id", after)
        setattr(new, f"{table.plural}_through_id", through)
        setattr(new, f"{table.singular}_count", len(ids))
        setattr(new, f"{table.singular}_ids", _pack_runs(ids))
        setattr(new, f"{table.singular}_hashes", bytes(hashes))
    if not any(table.count_of(new) for table in SEALED_TABLES):
        return None
    new.digest = compute_digest(new)
    if dry_run:
        return new
    try:
        with transaction.atomic():
            latest = AuditSeal.objects.order_by("-number").values_list("number", flat=True)
            if latest.first() != (previous.number if previous else None):
                raise SealConflict(
                    gettext("Seal #%(number)s was stored meanwhile.") % {"number": latest.first()}
                )
            new.save()  # the unique number refuses a seal stored between the check and here
    except IntegrityError as error:
        raise SealConflict(
            gettext("Seal #%(number)s was stored meanwhile.") % {"number": new.number}
        ) from error
    # Every row through the seal's ids is committed (the lag): the served counts' checkpoint can
    # move there, so the figures read per page sum only the rows and outcomes since
    # (services/served.py).
    served.advance(
        through_id=new.predictions_through_id, outcomes_through_id=new.outcomes_through_id
    )
    logger.info(
        "audit sealed",
        extra={
            "seal": new.number,
            "digest": new.digest,
            "keyed": bool(_key()),
            **{t.name: t.count_of(new) for t in SEALED_TABLES},
        },
    )
    return new


# --- Verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing that does not match the seals: a row (table and id) or a seal itself."""

    what: str  # changed, removed, inserted, or seal: the chain itself
    seal_number: int
    detail: str
    table: str = ""
    row_id: int | None = None

    def __str__(self) -> str:
        if self.row_id is None:
            return gettext("seal #%(number)s: %(detail)s") % {
                "number": self.seal_number,
                "detail": self.detail,
            }
        return gettext("%(table)s row %(id)s: %(detail)s") % {
            "table": self.table,
            "id": self.row_id,
            "detail": self.detail,
        }


@dataclass
class Verification:
    seals: int = 0
    last_digest: str = ""
    rows_checked: dict[str, int] = field(default_factory=dict)
    rows_unsealed: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def intact(self) -> bool:
        return self.problem_count == 0

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)


def verify() -> Verification:
    """Check every seal's digest and link, then every sealed row, in seal and id order."""
    result = Verification(rows_checked={t.name: 0 for t in SEALED_TABLES})
    previous: AuditSeal | None = None
    # One seal's blobs in memory at a time.
    for current in AuditSeal.objects.order_by("number").iterator(chunk_size=20):
        _check_link(result, previous, current)
        for table in SEALED_TABLES:
            _check_rows(result, table, current)
        previous = current
        result.seals += 1
        result.last_digest = current.digest
    for table in SEALED_TABLES:
        sealed_through = table.range_of(previous)[1] if previous else 0
        result.rows_unsealed[table.name] = table.model.objects.filter(pk__gt=sealed_through).count()
        # Ids start at 1; a row below every sealed range was put there by hand.
        for row_id in table.model.objects.filter(pk__lte=0).values_list("pk", flat=True):
            detail = gettext("inserted below every sealed range (ids start at 1)")
            result.add(Problem("inserted", 1, detail, table.name, row_id))
    return result


def _check_link(result: Verification, previous: AuditSeal | None, current: AuditSeal) -> None:
    expected_number = previous.number + 1 if previous else 1
    if current.number != expected_number:
        missing = f"#{expected_number}" + (
            f"–#{current.number - 1}" if current.number - 1 > expected_number else ""
        )
        detail = gettext("seal %(missing)s before it is missing") % {"missing": missing}
        result.add(Problem("seal", current.number, detail))
    if current.previous_digest != (previous.digest if previous else ""):
        result.add(
            Problem(
                "seal",
                current.number,
                gettext(
                    "does not chain to the seal before it (its previous digest differs: a seal "
                    "was removed, changed or inserted)"
                ),
            )
        )
    if compute_digest(current) != current.digest:
        result.add(
            Problem(
                "seal",
                current.number,
                gettext(
                    "does not match its digest: the seal was changed, or made with another "
                    "VIEWSITE_AUDIT_SEAL_KEY"
                ),
            )
        )
    for table in SEALED_TABLES:
        expected_after = table.range_of(previous)[1] if previous else 0
        if table.range_of(current)[0] != expected_after:
            result.add(
                Problem(
                    "seal",
                    current.number,
                    gettext(
                        "its %(table)s range starts after id %(start)s, not after %(expected)s "
                        "where the seal before it ended"
                    )
                    % {
                        "table": table.name,
                        "start": table.range_of(current)[0],
                        "expected": expected_after,
                    },
                )
            )


def _check_rows(result: Verification, table: SealedTable, current: AuditSeal) -> None:
    after, through = table.range_of(current)
    if after >= through:
        return
    columns = current.columns.get(table.name, [])
    gone = sorted(set(columns) - set(table.columns()))
    if gone or not columns:
        result.add(
            Problem(
                "seal",
                current.number,
                gettext(
                    "hashed %(table)s columns that no longer exist (%(columns)s); its rows "
                    "cannot be checked"
                )
                % {"table": table.name, "columns": ", ".join(gone) or gettext("none recorded")},
            )
        )
        return
    if not can_hash(current.row_encoding):
        result.add(
            Problem(
                "seal",
                current.number,
                gettext(
                    "its %(table)s rows were hashed in the %(encoding)s row encoding, which only "
                    "a %(encoding)s database computes: verify there"
                )
                % {"table": table.name, "encoding": current.row_encoding},
            )
        )
        return
    hashes = table.hashes_of(current)
    expected = (
        (row_id, hashes[i * ROW_HASH_BYTES : (i + 1) * ROW_HASH_BYTES])
        for i, row_id in enumerate(_unpack_runs(table.ids_of(current)))
    )
    number, name = current.number, table.name

    def removed(row_id: int) -> Problem:
        detail = gettext("removed; seal #%(number)s had sealed it") % {"number": number}
        return Problem("removed", number, detail, name, row_id)

    next_expected = next(expected, None)
    for row_id, digest in row_hashes(table, columns, current.row_encoding, after, through):
        while next_expected is not None and next_expected[0] < row_id:
            result.add(removed(next_expected[0]))
            next_expected = next(expected, None)
        if next_expected is not None and next_expected[0] == row_id:
            if digest != next_expected[1]:
                detail = gettext("changed since seal #%(number)s sealed it") % {"number": number}
                result.add(Problem("changed", number, detail, name, row_id))
            next_expected = next(expected, None)
        else:
            detail = gettext(
                "inserted into the range seal #%(number)s sealed (ids %(first)s–%(last)s), which "
                "did not list it"
            ) % {"number": number, "first": after + 1, "last": through}
            result.add(Problem("inserted", number, detail, name, row_id))
        result.rows_checked[name] += 1
    while next_expected is not None:
        result.add(removed(next_expected[0]))
        next_expected = next(expected, None)
