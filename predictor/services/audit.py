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

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from functools import lru_cache

from django.db import connection, transaction

from ..models import ModelVersion, PredictionRequest

_FIELDS = {field.name: field for field in PredictionRequest._meta.concrete_fields}
_ACTIVE_CHECK = (
    f"EXISTS (SELECT 1 FROM {ModelVersion._meta.db_table}"
    " WHERE id = %s AND artifact_sha256 = %s AND is_active = %s)"
)
# PostgreSQL's protocol allows 65,535 parameters in one statement.
_POSTGRESQL_MAX_PARAMS = 65_535


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
    shared_fields = tuple(shared)
    shared_params = [
        _FIELDS[name].get_db_prep_save(value, connection) for name, value in shared.items()
    ]
    check_params = [served_by.pk, served_by.artifact_sha256, True] if served_by is not None else []
    json_adapters = [
        (position, _json_adapter(_FIELDS[name]))
        for position, name in enumerate(varying)
        if _FIELDS[name].get_internal_type() == "JSONField"
    ]
    row_params = [list(row) for row in rows]
    for row in row_params:
        for position, adapt in json_adapters:
            row[position] = adapt(row[position])
    per_statement = max(1, (_max_params() - len(shared_params) - 3) // max(1, len(varying)))
    position = varying.index("batch_index") if len(rows) > 1 else None

    ids = [0] * len(rows)
    with transaction.atomic() if len(rows) > per_statement else nullcontext():
        for start in range(0, len(rows), per_statement):
            chunk = row_params[start : start + per_statement]
            sql = _insert_sql(
                connection.vendor, shared_fields, tuple(varying), len(chunk), bool(check_params)
            )
            params = [*shared_params, *(value for row in chunk for value in row), *check_params]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                returned = cursor.fetchall()
            if len(returned) != len(chunk):
                # Only the active-version check can leave rows out; the transaction, if there is
                # one, undoes the chunks already written.
                raise VersionChanged
            if position is None:
                ids[start] = returned[0][0]
            else:
                # RETURNING's order is not guaranteed (SQLite says so), so rows are matched by
                # their batch index, not by position.
                offset = rows[start][position]
                for row_id, batch_index in returned:
                    ids[start + batch_index - offset] = row_id
    return ids


@lru_cache(maxsize=64)
def _insert_sql(vendor, shared_fields, varying_fields, row_count, checked) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_FIELDS[name].column) for name in (*shared_fields, *varying_fields))
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
    where = f" WHERE {_ACTIVE_CHECK}" if checked else ""
    returning = "id, batch_index" if row_count > 1 or "batch_index" in varying_fields else "id"
    return (
        f"INSERT INTO {quote(PredictionRequest._meta.db_table)} ({columns}) "
        f"SELECT {selected} FROM (VALUES {values}) AS v{where} RETURNING {returning}"
    )


def _json_adapter(field):
    """JSON is adapted for the backend; the other varying values are numbers, sent as they are."""

    def adapt_json(value):
        # None is SQL NULL here, as Django stores it, not the JSON text "null".
        return None if value is None else connection.ops.adapt_json_value(value, field.encoder)

    return adapt_json


def _max_params() -> int:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return _POSTGRESQL_MAX_PARAMS
