"""The audit trail as a CSV file, streamed from the database: the admin's export."""

import csv
import io
import itertools

from django.db import models, transaction
from django.db.models.functions import Cast, Concat

from ..models import PredictionRequest


class UtcTimestamp(models.Func):
    """A timestamp as ISO 8601 text in UTC ("2026-03-01T08:00:00.123456Z"), written by the
    database: parsing and converting ten million datetimes in Python was most of the export."""

    output_field = models.CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="to_char(%(expressions)s AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')',
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps SQLite's datetimes as UTC text, "2026-03-01 08:00:00.123456".
        return self.as_sql(
            compiler, connection, template="replace(%(expressions)s, ' ', 'T') || 'Z'", **extra
        )


# How each column of the staff API's audit records is read for the export, when not as is:
# everything arrives as the text the CSV holds, so that the rows go from the database cursor to
# csv.writer.writerows without a line of Python per row (bench/README.md). The JSON fields are
# the database's own text of them; a refused request has no version.
EXPORT_COLUMNS = {
    "created_at": UtcTimestamp("created_at"),
    "model_version": models.Case(
        models.When(model_version__isnull=True, then=None),
        default=Concat(models.Value("v"), "model_version__number"),
        output_field=models.CharField(),
    ),
    "user": models.F("user__username"),
    "errors": Cast("errors", models.TextField()),
    "raw_input": Cast("raw_input", models.TextField()),
}
# Rows per database round trip and per chunk sent.
EXPORT_CHUNK = 10_000


def audit_csv_chunks(queryset):
    """The audit records of `queryset` as CSV text in chunks of EXPORT_CHUNK rows, headed by the
    API's field names, with a byte order mark so that Excel reads the Chinese as UTF-8. Times
    are in UTC."""
    columns = PredictionRequest.AUDIT_FIELDS
    exported = {
        f"export_{name}": EXPORT_COLUMNS[name] for name in columns if name in EXPORT_COLUMNS
    }
    names = [f"export_{name}" if name in EXPORT_COLUMNS else name for name in columns]
    # Oldest first, read forwards along the created_at index (whole or one day's range of it);
    # in primary key order a day's export scanned the whole table for its rows.
    records = queryset.annotate(**exported).values_list(*names).order_by("created_at", "pk")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    yield "\ufeff" + buffer.getvalue()
    # In a transaction, PostgreSQL's server-side cursor sends rows as they are read; outside one
    # (autocommit) Django declares it WITH HOLD, and the whole result is written out on the
    # server before the first row comes back.
    with transaction.atomic(using=records.db):
        rows = records.iterator(chunk_size=EXPORT_CHUNK)
        while chunk := list(itertools.islice(rows, EXPORT_CHUNK)):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(chunk)
            yield buffer.getvalue()
