"""viewsite.sqlite3: writers take turns on a lock file beside the database.

Each test holds the lock file the way another worker would (its own open file, so its own lock)
and watches what a write through Django does meanwhile, on the real SQLite test database.
"""

import fcntl
import threading
import time
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection, connections, transaction

from viewsite.sqlite3 import base

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the SQLite backend, run by the SQLite test run"
)

TABLE = "writer_queue_probe"


@pytest.fixture
def probe_table(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, note TEXT)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")


def lock_path() -> str:
    return f"{connection.settings_dict['NAME']}-writers.lock"


@contextmanager
def another_writers_turn():
    """Hold the writers' lock as another process would."""
    with open(lock_path(), "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        yield


def turn_is_free() -> bool:
    with open(lock_path(), "a") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True


def rows() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT note FROM {TABLE} ORDER BY id")
        return [note for (note,) in cursor.fetchall()]


def in_thread(work):
    """Run `work` on its own connection, as another request would; returns (thread, outcome)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = work()
        except Exception as error:  # handed to the test to assert on
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def insert(note: str):
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (note) VALUES (%s) RETURNING id, note", [note])
        return cursor.fetchall()


def test_the_settings_choose_this_backend_for_sqlite():
    assert isinstance(connections["default"], base.DatabaseWrapper)


def test_a_write_outside_a_transaction_waits_for_its_turn(probe_table):
    with another_writers_turn():
        thread, outcome = in_thread(lambda: insert("queued"))
        thread.join(0.3)
        # SQLite's own lock is free: only the queue holds the write back.
        assert thread.is_alive()
        assert rows() == []
    thread.join(5)
    assert outcome == {"result": [(1, "queued")]}
    assert rows() == ["queued"]


def test_returned_rows_are_read_before_the_turn_passes_on(probe_table):
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (note) VALUES ('a'), ('b') RETURNING note")
        # The statement has finished and committed: another connection sees both rows, and
        # another writer may go, while this cursor still hands out the rows it returned.
        assert turn_is_free()
        thread, seen = in_thread(rows)
        thread.join(5)
        assert sorted(seen["result"]) == ["a", "b"]
        assert cursor.fetchone() in {("a",), ("b",)}
        assert len(cursor.fetchall()) == 1
        assert cursor.fetchone() is None
    assert sorted(rows()) == ["a", "b"]


def test_a_transaction_keeps_its_turn_until_it_commits(probe_table):
    with transaction.atomic():
        assert not turn_is_free()
        insert("in a transaction")
        assert not turn_is_free()
    assert turn_is_free()
    assert rows() == ["in a transaction"]


def test_a_transaction_that_fails_gives_its_turn_back(probe_table):
    def write_then_fail():
        with transaction.atomic():
            insert("undone")
            raise RuntimeError("the request failed after its write")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert turn_is_free()
    assert rows() == []


def test_waiting_for_a_turn_is_bounded_by_the_busy_timeout(probe_table, monkeypatch):
    connection.ensure_connection()
    monkeypatch.setattr(connection.writer_queue, "timeout", 0.2)
    with another_writers_turn():
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            insert("too late")
        assert 0.2 <= time.monotonic() - started < 2
        with pytest.raises(OperationalError, match="database is locked"), transaction.atomic():
            insert("too late either")
    assert rows() == []
    insert("on time")
    assert rows() == ["on time"]


def test_reads_do_not_wait_for_a_turn(probe_table):
    insert("readable")
    with another_writers_turn():
        thread, outcome = in_thread(rows)
        thread.join(5)
    assert outcome == {"result": ["readable"]}
