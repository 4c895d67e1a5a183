"""Django's SQLite backend, with writers queueing on a lock file instead of sleeping.

SQLite lets one writer at a time into a database. A writer that finds the write lock taken is
put to sleep by SQLite's busy handler for 1 ms, then 2, 5, 10 ms and more, however soon the lock
is freed, and a one-row audit INSERT holds it for well under 0.1 ms. With two gunicorn workers
under load, each spent about a fifth of its time asleep there (bench/README.md).

Here each write first takes an exclusive lock on a file beside the database
(`<database>-writers.lock`), and a writer that finds it taken polls it from 20 µs on. A write is
a transaction (BEGIN IMMEDIATE until COMMIT or ROLLBACK), or, outside one, a single INSERT,
UPDATE, DELETE or REPLACE statement until it has finished: SQLite commits a statement with a
RETURNING clause once its rows are read, so they are read before the lock is let go.

SQLite's own locking still decides who writes: the file lock only orders the writers that use
it, and a writer that does not (the sqlite3 shell, a migration's DDL) is waited for by SQLite as
before. The kernel drops the file lock of a process that dies. Waiting for the file lock is
bounded by the connection's busy timeout, after which the write fails with "database is locked",
as SQLite's own wait would.
"""

import fcntl
import re
import time

from django.db.backends.sqlite3 import base

Database = base.Database

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_FIRST_POLL = 20e-6
_LONGEST_POLL = 1e-3


class WriterQueue:
    """An exclusive, polled lock on one file, held by at most one writer of the database."""

    def __init__(self, path: str, timeout: float):
        self.path = path
        self.timeout = timeout
        self._file = None

    def acquire(self) -> None:
        if self._file is None:
            self._file = open(self.path, "a")  # noqa: SIM115 - held for the connection's life
        if self._try():
            return
        deadline = time.monotonic() + self.timeout
        delay = _FIRST_POLL
        while True:
            time.sleep(delay)
            if self._try():
                return
            if time.monotonic() > deadline:
                raise Database.OperationalError(
                    f"database is locked: no turn to write within {self.timeout:g} s ({self.path})"
                )
            delay = min(delay * 2, _LONGEST_POLL)

    def _try(self) -> bool:
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # the kernel releases the lock with the file
            self._file = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()


class QueuedWriteCursor(base.SQLiteCursorWrapper):
    """Runs a write outside a transaction in the writer queue, reading any RETURNING rows there."""

    writer_queue: WriterQueue | None = None
    _returned: list | None = None

    def _queues(self, query: str) -> bool:
        # Inside a transaction the turn is already held (from BEGIN IMMEDIATE on).
        return (
            self.writer_queue is not None
            and not self.connection.in_transaction
            and _WRITE.match(query) is not None
        )

    def execute(self, query, params=None):
        self._returned = None
        if not self._queues(query):
            return super().execute(query, params)
        with self.writer_queue:
            super().execute(query, params)
            if self.description is not None:
                self._returned = super().fetchall()
        return self

    def executemany(self, query, param_list):
        self._returned = None
        if not self._queues(query):
            return super().executemany(query, param_list)
        with self.writer_queue:
            return super().executemany(query, param_list)

    def fetchone(self):
        if self._returned is None:
            return super().fetchone()
        return self._returned.pop(0) if self._returned else None

    def fetchmany(self, size=None):
        if self._returned is None:
            return super().fetchmany(size) if size is not None else super().fetchmany()
        size = self.arraysize if size is None else size
        rows, self._returned[:size] = self._returned[:size], []
        return rows

    def fetchall(self):
        if self._returned is None:
            return super().fetchall()
        rows, self._returned = self._returned, []
        return rows

    def __iter__(self):
        return self

    def __next__(self):
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row


class DatabaseWrapper(base.DatabaseWrapper):
    writer_queue: WriterQueue | None = None

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # Per connection: the test runner renames the database between connections.
        self.writer_queue = None
        if not self.is_in_memory_db():
            self.writer_queue = WriterQueue(
                f"{self.settings_dict['NAME']}-writers.lock", conn_params.get("timeout", 5.0)
            )
        return connection

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=QueuedWriteCursor)
        cursor.writer_queue = self.writer_queue
        return cursor

    def _start_transaction_under_autocommit(self):
        if self.writer_queue is None:
            return super()._start_transaction_under_autocommit()
        with self.wrap_database_errors:
            self.writer_queue.acquire()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self.writer_queue.release()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._end_of_write()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._end_of_write()

    def _close(self):
        try:
            return super()._close()
        finally:
            if self.writer_queue is not None:
                self.writer_queue.close()

    def _end_of_write(self):
        # A transaction still open (a failed COMMIT) keeps its turn until it ends.
        if self.writer_queue is not None and not (
            self.connection is not None and self.connection.in_transaction
        ):
            self.writer_queue.release()
