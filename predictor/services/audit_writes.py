"""Writing audit rows: the one function every door's audit write goes through, from a request's
single row to a file of a million, by the database's own bulk interface.

Rows come as plain tuples of column values, never model instances: building 10,000 instances
and converting their fields one by one cost more than the rest of a batch (issue 21). Values a
whole call shares (who asked, when, through which door, the version) are given once.

- PostgreSQL: the rows' ids are reserved from the table's sequence (nextval over
  generate_series), then the rows, ids included, stream through COPY (psycopg 3's
  `cursor.copy`).
- SQLite: the ids are the ones after the largest the table has had, read under the write lock
  that the transaction holds from its BEGIN (transaction_mode IMMEDIATE, settings.py), so no
  other writer can take them; then `executemany`. Were the lock not held, a second writer's
  commit would make this one's INSERT fail (a stale snapshot, or the primary key), never give
  two rows one id.
- One row: one INSERT ... RETURNING, which costs least (one statement, one round trip, no
  transaction of its own).

Each value reaches the database as the ORM would have sent it: through its field's
`get_db_prep_save`, except for the fields whose Python value the driver takes as it is (numbers,
booleans, text, foreign keys), which the caller gives as that type. So a row written here reads
back, and is sealed (services.sealing), exactly as if the ORM had written it; test_audit_writes
compares them column by column on both databases. Columns a call does not name get their
field's default, as the ORM gives them.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import islice

from django.db import connection, models, transaction

# Rows per COPY or executemany, and per id reservation: what a call keeps in memory at once,
# whatever the size of its input.
WRITE_CHUNK = 10_000

# Fields whose values go to the driver as the caller gives them, already of the field's type:
# their get_db_prep_save would only make them that type (int(), float(), bool(), str()).
_AS_GIVEN = frozenset(
    {
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "FloatField",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def write_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    shared: Mapping[str, object] | None = None,
) -> list[int]:
    """Insert `rows` (tuples of `columns`' values, in that order) into `model`'s table, each with
    `shared`'s values; returns their ids, in the rows' order.

    Columns are field names (or attnames: `model_version_id`). Every row is written or none
    is: the rows go in one transaction, the caller's if it has one. Memory stays flat in the
    number of rows: they are read and written WRITE_CHUNK at a time.
    """
    # The connection itself, once: `django.db.connection` looks it up at every use.
    db = transaction.get_connection()
    table = _table_for(db.vendor, model, tuple(columns), tuple(shared or ()))
    tail = table.prepare_shared(shared or {}, db)
    rows = iter(rows)
    chunk = list(islice(rows, WRITE_CHUNK))
    if not chunk:
        return []
    if len(chunk) == 1 and WRITE_CHUNK > 1:  # a chunk short of WRITE_CHUNK is the whole input
        with db.cursor() as cursor:
            cursor.execute(table.insert_one, (*table.prepare(chunk[0], db), *tail))
            return [cursor.fetchone()[0]]
    ids: list[int] = []
    # savepoint=False: inside the caller's transaction a failure undoes the whole of it anyway.
    with transaction.atomic(savepoint=False), db.cursor() as cursor:
        while chunk:
            first = len(ids)
            ids += _reserve_ids(db, cursor, table, len(chunk))
            prepared = (
                (row_id, *table.prepare(row, db), *tail)
                for row_id, row in zip(islice(ids, first, None), chunk, strict=True)
            )
            if db.vendor == "postgresql":
                # COPY goes to psycopg's own cursor, around Django's wrapper: its errors are made
                # Django's (IntegrityError, ...), as every other statement's are.
                with db.wrap_database_errors, cursor.copy(table.copy) as copy:
                    copy.set_types(table.types)
                    for row in prepared:
                        copy.write_row(row)
            else:
                # Streamed, as COPY is: a chunk's prepared rows are never all held at once.
                cursor.executemany(table.insert_many, prepared)
            chunk = list(islice(rows, WRITE_CHUNK))
    return ids


def _reserve_ids(db, cursor, table: "_Table", count: int) -> list[int]:
    if db.vendor == "postgresql":
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
            [_sequence(cursor, table.name, table.pk), count],
        )
        # nextval hands them out increasing, each once; another writer's may fall between.
        return sorted(row_id for (row_id,) in cursor.fetchall())
    # The largest id the table has had: its sqlite_sequence entry (AUTOINCREMENT keeps ids of
    # deleted rows from coming back) or its largest row, whichever is greater.
    cursor.execute(table.next_id, [table.name])
    (after,) = cursor.fetchone()
    return list(range(after + 1, after + 1 + count))


_sequences: dict[tuple[str, str], str] = {}


def _sequence(cursor, table: str, column: str) -> str:
    """The sequence of a table's identity column, asked once per process."""
    if (table, column) not in _sequences:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        _sequences[table, column] = cursor.fetchone()[0]
    return _sequences[table, column]


@dataclass(frozen=True)
class _Table:
    """A model's table prepared for one set of columns: its statements and value conversions."""

    name: str
    pk: str
    copy: str
    insert_one: str
    insert_many: str
    next_id: str
    types: tuple[str, ...]  # PostgreSQL's name of each COPY column's type, for the binary format
    row_fields: tuple[models.Field, ...]
    shared_fields: tuple[models.Field, ...]
    defaults: tuple[models.Field, ...]  # fields neither given per row nor shared
    converted: tuple[tuple[int, models.Field], ...]  # (index in a row, its field)

    def prepare(self, row: Sequence, db) -> Sequence:
        if not self.converted:
            return row
        row = list(row)
        for index, field in self.converted:
            row[index] = _db_value(field, row[index], db)
        return row

    def prepare_shared(self, shared: Mapping[str, object], db) -> tuple:
        values = [
            field.get_db_prep_save(value, db)
            for field, value in zip(self.shared_fields, shared.values(), strict=True)
        ]
        values += [field.get_db_prep_save(field.get_default(), db) for field in self.defaults]
        return tuple(values)


def _db_value(field: models.Field, value, db):
    """`value` as the field's get_db_prep_save gives it to the driver. A JSON value (a row's raw
    input and errors, a million times for a file) goes straight to where that method ends for
    anything but None and expressions, which rows never hold: the backend's adapt_json_value,
    with the field's encoder. It costs half as much, and is the same value."""
    if isinstance(field, models.JSONField) and value is not None:
        return db.ops.adapt_json_value(value, field.encoder)
    return field.get_db_prep_save(value, db)


def _type_name(field: models.Field, db) -> str:
    """ "integer" for integer, "varchar" for varchar(8): the name psycopg knows the type by."""
    name = field.rel_db_type(db) if field.is_relation else field.db_type(db)
    return name.split("(")[0]


def _as_given(field: models.Field) -> bool:
    return field.get_internal_type() in _AS_GIVEN or field.is_relation


@cache
def _table_for(vendor: str, model, columns: tuple[str, ...], shared: tuple[str, ...]) -> _Table:
    """The statements and conversions for one model, columns and vendor, made once."""
    meta = model._meta
    fields = {}
    for field in meta.concrete_fields:
        fields[field.name] = fields[field.attname] = field
    row_fields = tuple(fields[name] for name in columns)
    shared_fields = tuple(fields[name] for name in shared)
    named = {*row_fields, *shared_fields}
    if meta.pk in named:
        raise ValueError("The writer gives each row its id; do not pass one.")
    defaults = tuple(field for field in meta.concrete_fields if field not in named | {meta.pk})
    quote = connection.ops.quote_name
    written = (*row_fields, *shared_fields, *defaults)
    names = ", ".join(quote(field.column) for field in written)
    table = quote(meta.db_table)
    pk = quote(meta.pk.column)
    values = ", ".join(["%s"] * len(written))
    return _Table(
        name=meta.db_table,
        pk=meta.pk.column,
        copy=f"COPY {table} ({pk}, {names}) FROM STDIN (FORMAT BINARY)",
        types=tuple(_type_name(field, connection) for field in (meta.pk, *written)),
        insert_one=f"INSERT INTO {table} ({names}) VALUES ({values}) RETURNING {pk}",
        insert_many=f"INSERT INTO {table} ({pk}, {names}) VALUES (%s, {values})",
        next_id=(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"COALESCE((SELECT MAX({pk}) FROM {table}), 0))"
        ),
        row_fields=row_fields,
        shared_fields=shared_fields,
        defaults=defaults,
        converted=tuple(
            (index, field) for index, field in enumerate(row_fields) if not _as_given(field)
        ),
    )
