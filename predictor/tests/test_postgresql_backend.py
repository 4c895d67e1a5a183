"""viewsite.postgresql: a kept connection is health-checked only after it sat idle.

Django calls close_if_unusable_or_obsolete at every request's start and end; the tests call it
the same way, on the real PostgreSQL.
"""

import psycopg
import pytest
from django.db import OperationalError, connection, connections

from viewsite.postgresql import base

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the PostgreSQL backend, run by the PostgreSQL CI run"
)


@pytest.fixture
def checks(transactional_db, monkeypatch):
    """How many health checks (`SELECT 1`) the connection has sent."""
    sent = []
    real = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: sent.append(1) or real())
    return sent


def request(sql="SELECT 1"):
    """One request's worth of database use, between the calls Django makes around a request."""
    connection.close_if_unusable_or_obsolete()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    finally:
        connection.close_if_unusable_or_obsolete()


def test_the_settings_choose_this_backend_for_postgresql():
    assert isinstance(connections["default"], base.DatabaseWrapper)


def test_a_connection_busy_with_requests_is_not_checked_each_time(checks):
    request()  # opens the connection
    checks.clear()
    for _ in range(5):
        assert request() == (1,)
    assert checks == []


def test_a_connection_idle_for_a_while_is_checked_and_replaced_if_dead(checks):
    request()
    pid = connection.connection.info.backend_pid
    _terminate(pid)
    # The connection sat unused for longer than the window since its last request ended.
    connection.request_boundary_at -= base.IDLE_BEFORE_CHECK + 1

    assert request("SELECT pg_backend_pid()")[0] != pid
    assert checks == [1]


def test_a_connection_that_died_within_the_window_fails_one_request_then_is_replaced(checks):
    request()
    pid = connection.connection.info.backend_pid
    _terminate(pid)

    with pytest.raises(OperationalError):
        request()
    # Django closed it at the failed request's end; the next one connects afresh.
    assert request("SELECT pg_backend_pid()")[0] != pid


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
