"""CEILING, not viewsite: the least a gunicorn worker can do for one audited prediction here.

A bare WSGI app with no framework, run by `bench/run.py --floor` under gunicorn with the same
workers as viewsite (count, class, threads), beside the others:

- `FLOOR_MODE=hello` answers every request with the same small JSON: what gunicorn, the kernel
  and the load generator cost on their own;
- `FLOOR_MODE=audit` reads the JSON body, computes a linear model's arithmetic and writes one
  row into viewsite's own audit table (its real columns and indexes, migrated by viewsite),
  committed before the answer: SQLite in WAL mode with synchronous=NORMAL and writers taking
  turns on a lock file (polled from 20 µs, where SQLite's busy handler sleeps a millisecond
  and more), or PostgreSQL through one kept connection in autocommit. One connection per thread,
  as Django keeps them, so gthread workers run it too.

No validation, no rate limit, no security headers, no error handling, no version check:
whatever viewsite does for a request, on this machine it cannot serve more requests per second
than this does with the same database. `FLOOR_DATABASE` is the SQLite file or PostgreSQL URL.
"""

import datetime
import fcntl
import json
import os
import sqlite3
import threading
import time
from contextlib import nullcontext

MODE = os.environ.get("FLOOR_MODE", "hello")
DATABASE = os.environ.get("FLOOR_DATABASE", "")
COLUMNS = (
    "created_at, channel, accepted, raw_input, likes, shares, views, errors, model_version_id,"
    " latency_ms, client_ip, user_agent, user_id, batch_id, batch_index"
)
HELLO = b'{"views":1.0}'

_per_thread = threading.local()


class _Database:
    def __init__(self):
        if DATABASE.startswith(("postgres://", "postgresql://")):
            import psycopg

            self.connection = psycopg.connect(DATABASE, autocommit=True)
            self.placeholder, self.queue = "%s", nullcontext()
        else:
            self.connection = sqlite3.connect(DATABASE, isolation_level=None, timeout=20)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.placeholder, self.queue = "?", _WriterTurn(f"{DATABASE}-writers.lock")
        self.version = self.connection.execute(
            "SELECT id FROM predictor_modelversion WHERE is_active"
        ).fetchone()[0]
        values = ", ".join([self.placeholder] * 15)
        self.sql = f"INSERT INTO predictor_predictionrequest ({COLUMNS}) VALUES ({values})"

    def insert(self, raw: str, likes: int, shares: int, views: float) -> None:
        now = datetime.datetime.now(datetime.UTC)
        created_at = now if self.placeholder == "%s" else now.isoformat(" ")
        row = (created_at, "api", True, raw, likes, shares, views, None, self.version, 0.1)
        with self.queue:
            self.connection.execute(self.sql, (*row, "127.0.0.1", "wrk", None, None, None))


class _WriterTurn:
    """An exclusive lock on one file, polled, held for one write."""

    def __init__(self, path: str):
        self.lock_file = open(path, "a")  # noqa: SIM115 - held for the process's life

    def __enter__(self):
        delay = 20e-6
        while True:
            try:
                fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                time.sleep(delay)
                delay = min(delay * 2, 1e-3)

    def __exit__(self, *exc_info):
        fcntl.flock(self.lock_file, fcntl.LOCK_UN)


def app(environ, start_response):
    body = HELLO
    if MODE == "audit" and environ["REQUEST_METHOD"] == "POST":
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        data = json.loads(raw)
        likes, shares = int(data["likes"]), int(data["shares"])
        views = 82.8 * likes + 62.8 * shares + 1.0
        database = getattr(_per_thread, "database", None)
        if database is None:
            database = _per_thread.database = _Database()
        database.insert(raw, likes, shares, views)
        body = json.dumps({"views": views}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]
