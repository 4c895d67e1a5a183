"""Writing audit rows: one INSERT for a request, as few as the database allows for a batch.

Every row of one request shares most of its columns (when, which door, who asked, how long it
took, which version answered); only the input, the answer and the position in a batch differ.
So each shared value is prepared once through its model field and sent once, and each row sends
only what differs. Django's `bulk_create` instead prepares all 15 values of every row through
their fields and compiles its SQL on every call: for a batch of 10,000 that was 150,000 calls
and 70% of the request.

A row that names the model version that answered is written only if that version is still the
active one when the statement runs: the check is part of the INSERT itself (`WHERE EXISTS`),
so a worker can keep the active version in memory, pay nothing per request to ask for it, and
still never record an answer from a version that had been replaced. `VersionChanged` tells the
caller to look again and answer anew.
"""

import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from ..models import ModelVersion, PredictionRequest

_FIELDS = {field.name: field for field in PredictionRequest._meta.concrete_fields}
_ACTIVE_CHECK = (
    f"EXISTS (SELECT 1 FROM {ModelVersion._meta.db_table}"
    " WHERE id = %s AND artifact_sha256 = %s AND is_active = %s)"
)


class VersionChanged(Exception):
    """The version that answered was no longer active when its rows were to be written."""


def insert(
    *,
    shared: Mapping[str, object],
    varying: Sequence[str],
    rows: Sequence[Sequence],
    served_by: ModelVersion | None = None,
) -> list[int]:
    """Write len(rows) audit rows and return their ids, in the order of `rows`.

    `shared` maps field names to the value every row has; each item of `rows` holds the values
    of the `varying` fields, in that order, and must include `batch_index` when there are
    several rows. With `served_by`, nothing is written unless that version is active.
    """
    if not rows:
        return []
    # The connection itself, not the `connection` proxy, which looks it up on every attribute.
    db = connections[DEFAULT_DB_ALIAS]
    shared_fields, varying = tuple(shared), tuple(varying)
    shared_params = [_FIELDS[name].get_db_prep_save(value, db) for name, value in shared.items()]
    check_params = [served_by.pk, served_by.artifact_sha256, True] if served_by is not None else []
    json_positions = [
        position
        for position, name in enumerate(varying)
        if _FIELDS[name].get_internal_type() == "JSONField"
    ]
    ids = [0] * len(rows)
    if db.vendor == "postgresql" and len(rows) > 1:
        # One array per column: five parameters, not five per row (psycopg spent 0.4 s
        # splitting a 50,000-placeholder statement, and the server as long parsing it).
        columns = [list(column) for column in zip(*rows, strict=True)]
        for json_position in json_positions:
            columns[json_position] = [_json_text(value) for value in columns[json_position]]
        sql = _unnest_sql(shared_fields, varying, bool(check_params))
        returned = _fetch(db, sql, [*shared_params, *columns, *check_params], len(rows))
        for row_id, batch_index in returned:
            ids[batch_index] = row_id
        return ids

    prepared = [list(row) for row in rows]
    for row in prepared:
        for json_position in json_positions:
            row[json_position] = _adapt_json(db, row[json_position])
    if len(rows) == 1:
        returned = _insert_rows(db, shared_fields, shared_params, varying, prepared, check_params)
        return [returned[0][0]]
    per_statement = max(1, (_max_params() - len(shared_params) - 3) // len(varying))
    with transaction.atomic() if len(rows) > per_statement else nullcontext():
        for start in range(0, len(rows), per_statement):
            chunk = prepared[start : start + per_statement]
            # RETURNING's order is not guaranteed (SQLite says so): rows are matched by their
            # batch index, not by position.
            for row_id, batch_index in _insert_rows(
                db, shared_fields, shared_params, varying, chunk, check_params
            ):
                ids[batch_index] = row_id
    return ids


def _insert_rows(db, shared_fields, shared_params, varying, rows, check_params) -> list[tuple]:
    """One INSERT of `rows` (values already adapted)."""
    sql = _insert_sql(db.vendor, shared_fields, varying, len(rows), bool(check_params))
    params = [*shared_params, *(value for row in rows for value in row), *check_params]
    return _fetch(db, sql, params, len(rows))


def _fetch(db, sql: str, params: list, expected: int) -> list[tuple]:
    """Run one INSERT ... RETURNING; raises VersionChanged if it wrote fewer rows than expected."""
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    if len(returned) != expected:
        # Only the active-version check can leave rows out; the transaction, if there is one,
        # undoes the statements already run.
        raise VersionChanged
    return returned


def _insert_into(shared_fields, varying_fields) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_FIELDS[name].column) for name in (*shared_fields, *varying_fields))
    return f"INSERT INTO {quote(PredictionRequest._meta.db_table)} ({columns})"


def _where(checked: bool) -> str:
    return f" WHERE {_ACTIVE_CHECK}" if checked else ""


@lru_cache(maxsize=64)
def _insert_sql(vendor, shared_fields, varying_fields, row_count, checked) -> str:
    # Both databases name a VALUES list's columns column1, column2, ... PostgreSQL types them
    # from their values, so a column of NULLs would be text: each is cast to its field's type.
    selected = ", ".join(
        ["%s"] * len(shared_fields)
        + [
            f"CAST(v.column{number} AS {_FIELDS[name].db_type(connection)})"
            if vendor == "postgresql"
            else f"v.column{number}"
            for number, name in enumerate(varying_fields, start=1)
        ]
    )
    one_row = "(" + ", ".join(["%s"] * len(varying_fields)) + ")"
    values = ", ".join([one_row] * row_count)
    returning = "id, batch_index" if row_count > 1 or "batch_index" in varying_fields else "id"
    return (
        f"{_insert_into(shared_fields, varying_fields)} "
        f"SELECT {selected} FROM (VALUES {values}) AS v{_where(checked)} RETURNING {returning}"
    )


@lru_cache(maxsize=16)
def _unnest_sql(shared_fields, varying_fields, checked) -> str:
    names = [f"c{number}" for number in range(1, len(varying_fields) + 1)]
    arrays = ", ".join(f"%s::{_FIELDS[name].db_type(connection)}[]" for name in varying_fields)
    selected = ", ".join(["%s"] * len(shared_fields) + [f"u.{name}" for name in names])
    return (
        f"{_insert_into(shared_fields, varying_fields)} SELECT {selected} "
        f"FROM unnest({arrays}) AS u({', '.join(names)}){_where(checked)} RETURNING id, batch_index"
    )


# The varying JSON values (the raw input, the errors) as the backend takes them; the other
# varying values are numbers, sent as they are. None is SQL NULL, as Django stores it, not the
# JSON text "null". The audit model's JSON fields use the default encoder.
def _adapt_json(db, value):
    return None if value is None else db.ops.adapt_json_value(value, None)


def _json_text(value) -> str | None:
    return None if value is None else json.dumps(value)


def _max_params() -> int:
    # Only SQLite sends a batch's rows as VALUES (PostgreSQL sends arrays), so only its limit,
    # as this build of SQLite was compiled with, matters here.
    connection.ensure_connection()
    return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
