"""What one audit row costs the database to take, by the audit table's layout: the figures behind
narrowing the table (issue 21, decision 3), measured rather than argued.

`predict --csv` and the API's batch write every row through predictor.services.audit_writes:
COPY on PostgreSQL, executemany on SQLite, 10,000 rows at a time. Whatever Python does above it,
a file cannot be scored faster than the database takes its rows. This loads `--rows` rows shaped
as a CSV file's (its raw cells as JSON, the counts, the answer and its interval, and the request's
time, door, client, version and batch), with the drivers alone, into:

- the audit table as migrated: its indexes, and on PostgreSQL its two foreign keys, which are
  checked row by row when the transaction commits;
- the same columns with no index but the primary key (then, on PostgreSQL, no foreign key either);
- a narrowed layout: the request's columns in a row of their own, once per chunk, and per input
  only its own columns and the request's id, indexed.

It prints microseconds per row (wall time, the database's work and the commit included) and the
rows per second that leaves, at most, for everything else. Then the other side of the trade: one
request's audit write, today's one INSERT against the narrowed layout's request row and input
row (one statement on PostgreSQL, one transaction on SQLite), wall time and this process's CPU.

    .venv/bin/python bench/audit_layout.py [--rows 200000] [--requests 5000] [--skip-postgres]
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/run.py: the throwaway PostgreSQL database, as `make bench` makes it.
import run as bench

CHUNK = 10_000  # audit_writes.WRITE_CHUNK
TABLE = "predictor_predictionrequest"
# The writer's columns for an answered CSV row, then the request's (shared) ones.
ROW_COLUMNS = [
    "raw_input",
    "likes",
    "shares",
    "views",
    "views_lower",
    "views_upper",
    "extrapolated",
    "batch_index",
    "errors",
]
REQUEST_COLUMNS = [
    "created_at",
    "channel",
    "accepted",
    "latency_ms",
    "client_ip",
    "user_agent",
    "user_id",
    "batch_id",
    "model_version_id",
]
PG_TYPES = {
    "id": "bigint",
    "request_id": "bigint",
    "raw_input": "jsonb",
    "likes": "integer",
    "shares": "integer",
    "views": "double precision",
    "views_lower": "double precision",
    "views_upper": "double precision",
    "extrapolated": "boolean",
    "batch_index": "integer",
    "errors": "jsonb",
    "created_at": "timestamptz",
    "channel": "varchar",
    "accepted": "boolean",
    "latency_ms": "double precision",
    "client_ip": "inet",
    "user_agent": "varchar",
    "user_id": "integer",
    "batch_id": "uuid",
    "model_version_id": "bigint",
}


def row_values(count: int) -> list[tuple]:
    """A CSV file's rows as the writer has them: raw cells, counts, answer, interval."""
    rows = []
    for index in range(count):
        likes, shares = 560 + index % 3000, 375 + index % 1700
        views = round(100.0 * likes + 40.0 * shares, 2)
        raw = {"file": "inputs.csv", "line": index + 2, "点赞数": str(likes), "转发数": str(shares)}
        rows.append((raw, likes, shares, views, views * 0.55, views * 1.45, False, index % CHUNK))
    return rows


def request_values(version_id: int) -> dict:
    return {
        "created_at": datetime.now(UTC),
        "channel": "cli",
        "accepted": True,
        "latency_ms": 1.5,
        "client_ip": None,
        "user_agent": "manage.py predict",
        "user_id": None,
        "batch_id": uuid.uuid4(),
        "model_version_id": version_id,
    }


def migrate(env: dict) -> None:
    """The schema as deployed, with one trained version for the rows to name."""
    for command in (["migrate", "--noinput", "-v0"], ["retrain"]):
        subprocess.run(
            [bench.PYTHON, "manage.py", *command],
            cwd=bench.ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )


def django_env(database_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "viewsite.settings",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url,
    }


# SQLite ----------------------------------------------------------------------------------------


def sqlite_layouts(path: Path, rows: list[tuple]) -> list[tuple[str, float]]:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    (version_id,) = connection.execute("SELECT MAX(id) FROM predictor_modelversion").fetchone()
    (table_sql,) = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [TABLE]
    ).fetchone()
    connection.execute(table_sql.replace(f'"{TABLE}"', '"bare"', 1))
    connection.execute(
        "CREATE TABLE request (id integer PRIMARY KEY AUTOINCREMENT, created_at datetime NOT NULL,"
        " channel varchar(8) NOT NULL, accepted bool NOT NULL, latency_ms real NOT NULL,"
        " client_ip char(39) NULL, user_agent varchar(512) NOT NULL, user_id integer NULL"
        " REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED, batch_id char(32) NULL,"
        " model_version_id bigint NULL REFERENCES predictor_modelversion (id)"
        " DEFERRABLE INITIALLY DEFERRED)"
    )
    connection.execute("CREATE INDEX request_created_at ON request (created_at)")
    connection.execute(
        "CREATE TABLE narrow (id integer PRIMARY KEY AUTOINCREMENT, request_id integer NOT NULL"
        " REFERENCES request (id) DEFERRABLE INITIALLY DEFERRED,"
        ' raw_input text NULL CHECK ((JSON_VALID("raw_input") OR "raw_input" IS NULL)),'
        " likes integer unsigned NULL, shares integer unsigned NULL, views real NULL,"
        " views_lower real NULL, views_upper real NULL, extrapolated bool NULL,"
        " batch_index integer unsigned NULL,"
        ' errors text NULL CHECK ((JSON_VALID("errors") OR "errors" IS NULL)))'
    )
    connection.execute("CREATE INDEX narrow_request ON narrow (request_id)")

    def wide(table: str) -> float:
        columns = ROW_COLUMNS + REQUEST_COLUMNS
        insert = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        )
        return timed(lambda chunk, shared: connection.executemany(insert, wide_rows(chunk, shared)))

    def wide_rows(chunk, shared):
        tail = sqlite_shared(shared)
        return [(json.dumps(row[0]), *row[1:], None, *tail) for row in chunk]

    def narrowed() -> float:
        request_insert = (
            f"INSERT INTO request ({', '.join(REQUEST_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})"
        )
        insert = (
            f"INSERT INTO narrow (request_id, {', '.join(ROW_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(ROW_COLUMNS))})"
        )

        def write(chunk, shared):
            request_id = connection.execute(request_insert, sqlite_shared(shared)).lastrowid
            connection.executemany(
                insert, [(request_id, json.dumps(row[0]), *row[1:], None) for row in chunk]
            )

        return timed(write)

    def timed(write) -> float:
        started = time.perf_counter()
        for first in range(0, len(rows), CHUNK):
            connection.execute("BEGIN IMMEDIATE")
            write(rows[first : first + CHUNK], request_values(version_id))
            connection.execute("COMMIT")
        return (time.perf_counter() - started) / len(rows) * 1e6

    figures = [
        ("as migrated (7 indexes)", wide(TABLE)),
        ("no index but the key", wide("bare")),
        ("narrowed (request row once)", narrowed()),
    ]
    connection.close()
    return figures


def sqlite_single(path: Path, requests: int) -> list[tuple[str, float, float]]:
    """One request's audit write, as the API writes it: today one INSERT ... RETURNING with no
    transaction of its own; narrowed, the request row and the input row in one transaction."""
    connection = sqlite3.connect(path, isolation_level=None)
    (version_id,) = connection.execute("SELECT MAX(id) FROM predictor_modelversion").fetchone()
    row = row_values(1)[0]
    wide_columns = ROW_COLUMNS + REQUEST_COLUMNS
    wide_insert = (
        f"INSERT INTO {TABLE} ({', '.join(wide_columns)}) "
        f"VALUES ({', '.join('?' * len(wide_columns))}) RETURNING id"
    )
    request_insert = (
        f"INSERT INTO request ({', '.join(REQUEST_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})"
    )
    input_insert = (
        f"INSERT INTO narrow (request_id, {', '.join(ROW_COLUMNS)}) "
        f"VALUES (?, {', '.join('?' * len(ROW_COLUMNS))}) RETURNING id"
    )

    def wide():
        shared = sqlite_shared(request_values(version_id))
        connection.execute(wide_insert, (json.dumps(row[0]), *row[1:], None, *shared)).fetchone()

    def narrowed():
        connection.execute("BEGIN IMMEDIATE")
        request_id = connection.execute(
            request_insert, sqlite_shared(request_values(version_id))
        ).lastrowid
        connection.execute(input_insert, (request_id, json.dumps(row[0]), *row[1:], None))
        connection.execute("COMMIT")

    figures = [
        ("as migrated: one INSERT, autocommit", *per_request(wide, requests)),
        ("narrowed: BEGIN, two INSERTs, COMMIT", *per_request(narrowed, requests)),
    ]
    connection.close()
    return figures


def per_request(write, requests: int) -> tuple[float, float]:
    """Wall and this process's CPU per call, in µs, after a warm-up."""
    for _ in range(200):
        write()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        write()
    return (
        (time.perf_counter() - started) / requests * 1e6,
        (time.process_time() - cpu) / requests * 1e6,
    )


def sqlite_shared(shared: dict) -> tuple:
    """The request's values as Django gives them to sqlite3."""
    values = dict(shared)
    values["created_at"] = shared["created_at"].replace(tzinfo=None).isoformat(" ")
    values["batch_id"] = shared["batch_id"].hex
    return tuple(values[name] for name in REQUEST_COLUMNS)


# PostgreSQL ------------------------------------------------------------------------------------


def postgres_layouts(url: str, rows: list[tuple]) -> list[tuple[str, float]]:
    import psycopg
    from psycopg.types.json import Jsonb

    connection = psycopg.connect(url)
    cursor = connection.cursor()
    cursor.execute("SELECT MAX(id) FROM predictor_modelversion")
    (version_id,) = cursor.fetchone()
    cursor.execute(
        f"CREATE TABLE bare_keys (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
        "ALTER TABLE bare_keys ADD PRIMARY KEY (id);"
        "ALTER TABLE bare_keys ADD FOREIGN KEY (model_version_id)"
        " REFERENCES predictor_modelversion (id) DEFERRABLE INITIALLY DEFERRED;"
        "ALTER TABLE bare_keys ADD FOREIGN KEY (user_id)"
        " REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED;"
        f"CREATE TABLE bare (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
        "ALTER TABLE bare ADD PRIMARY KEY (id);"
        "CREATE TABLE request (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL,"
        " channel varchar(8) NOT NULL, accepted boolean NOT NULL,"
        " latency_ms double precision NOT NULL, client_ip inet NULL,"
        " user_agent varchar(512) NOT NULL,"
        " user_id integer NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,"
        " batch_id uuid NULL, model_version_id bigint NULL"
        " REFERENCES predictor_modelversion (id) DEFERRABLE INITIALLY DEFERRED);"
        "CREATE INDEX ON request (created_at);"
        "CREATE INDEX ON request (model_version_id, created_at, id);"
        "CREATE TABLE narrow (id bigserial PRIMARY KEY, request_id bigint NOT NULL"
        " REFERENCES request (id) DEFERRABLE INITIALLY DEFERRED, raw_input jsonb NULL,"
        " likes integer NULL CHECK (likes >= 0), shares integer NULL CHECK (shares >= 0),"
        " views double precision NULL, views_lower double precision NULL,"
        " views_upper double precision NULL, extrapolated boolean NULL,"
        " batch_index integer NULL CHECK (batch_index >= 0), errors jsonb NULL);"
        "CREATE INDEX ON narrow (request_id);"
    )
    connection.commit()

    def copy(table: str, columns: list[str], values) -> None:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as out:
            out.set_types([PG_TYPES[name] for name in columns])
            for row in values:
                out.write_row(row)

    def wide(table: str) -> float:
        columns = ["id", *ROW_COLUMNS, *REQUEST_COLUMNS]

        def write(chunk, shared):
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [TABLE, len(chunk)],
            )
            ids = [row_id for (row_id,) in cursor.fetchall()]
            tail = tuple(shared[name] for name in REQUEST_COLUMNS)
            copy(
                table,
                columns,
                (
                    (row_id, Jsonb(row[0]), *row[1:], None, *tail)
                    for row_id, row in zip(ids, chunk, strict=True)
                ),
            )

        return timed(write)

    def narrowed() -> float:
        columns = ["request_id", *ROW_COLUMNS]

        def write(chunk, shared):
            cursor.execute(
                f"INSERT INTO request ({', '.join(REQUEST_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(REQUEST_COLUMNS))}) RETURNING id",
                [shared[name] for name in REQUEST_COLUMNS],
            )
            (request_id,) = cursor.fetchone()
            copy("narrow", columns, ((request_id, Jsonb(row[0]), *row[1:], None) for row in chunk))

        return timed(write)

    def timed(write) -> float:
        started = time.perf_counter()
        for first in range(0, len(rows), CHUNK):
            write(rows[first : first + CHUNK], request_values(version_id))
            connection.commit()  # where the deferred foreign keys are checked
        return (time.perf_counter() - started) / len(rows) * 1e6

    figures = [
        ("as migrated (8 indexes, 2 foreign keys)", wide(TABLE)),
        ("no index but the key, 2 foreign keys", wide("bare_keys")),
        ("no index but the key, no foreign key", wide("bare")),
        ("narrowed (request row once)", narrowed()),
    ]
    connection.close()
    return figures


def postgres_single(url: str, requests: int) -> list[tuple[str, float, float]]:
    """One request's audit write, as the API writes it: one statement in autocommit. Narrowed,
    the request row and the input row in one statement (a data-modifying WITH)."""
    import psycopg
    from psycopg.types.json import Jsonb

    connection = psycopg.connect(url, autocommit=True)
    cursor = connection.cursor()
    cursor.execute("SELECT MAX(id) FROM predictor_modelversion")
    (version_id,) = cursor.fetchone()
    row = row_values(1)[0]
    wide_columns = ROW_COLUMNS + REQUEST_COLUMNS
    wide_insert = (
        f"INSERT INTO {TABLE} ({', '.join(wide_columns)}) "
        f"VALUES ({', '.join(['%s'] * len(wide_columns))}) RETURNING id"
    )
    narrowed_insert = (
        f"WITH r AS (INSERT INTO request ({', '.join(REQUEST_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(REQUEST_COLUMNS))}) RETURNING id) "
        f"INSERT INTO narrow (request_id, {', '.join(ROW_COLUMNS)}) "
        f"SELECT r.id, {', '.join(['%s'] * len(ROW_COLUMNS))} FROM r RETURNING id"
    )

    def shared() -> list:
        values = request_values(version_id)
        return [values[name] for name in REQUEST_COLUMNS]

    def wide():
        cursor.execute(wide_insert, [Jsonb(row[0]), *row[1:], None, *shared()])
        cursor.fetchone()

    def narrowed():
        cursor.execute(narrowed_insert, [*shared(), Jsonb(row[0]), *row[1:], None])
        cursor.fetchone()

    figures = [
        ("as migrated: one INSERT", *per_request(wide, requests)),
        ("narrowed: one WITH ... INSERT", *per_request(narrowed, requests)),
    ]
    connection.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--requests", type=int, default=5_000, help="single requests timed")
    options = parser.parse_args()
    rows = row_values(options.rows)
    results, singles = [], []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="viewsite-layout-")))
        path = work / "audit.sqlite3"
        migrate(django_env(f"sqlite:///{path}"))
        results += [("SQLite", *figure) for figure in sqlite_layouts(path, rows)]
        singles += [("SQLite", *figure) for figure in sqlite_single(path, options.requests)]
        if not options.skip_postgres:
            url = stack.enter_context(bench.postgres_database(options.postgres_url))
            migrate(django_env(url))
            results += [("PostgreSQL", *figure) for figure in postgres_layouts(url, rows)]
            singles += [("PostgreSQL", *f) for f in postgres_single(url, options.requests)]
    print(f"{options.rows:,} rows in chunks of {CHUNK:,}, by the drivers alone")
    print(f"{'database':12}{'layout':42}{'us/row':>8}{'rows/s':>12}")
    for database, layout, micros in results:
        print(f"{database:12}{layout:42}{micros:8.2f}{1e6 / micros:12,.0f}")
    print(f"\nOne request's audit write, {options.requests:,} in a row, µs per request")
    print(f"{'database':12}{'layout':42}{'wall':>8}{'our CPU':>10}")
    for database, layout, wall, cpu in singles:
        print(f"{database:12}{layout:42}{wall:8.1f}{cpu:10.1f}")


if __name__ == "__main__":
    main()
