"""The PostgreSQL backend's health check (explorer/postgresql/base.py) on real connections."""

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend"),
]


def last_query_of(backend_pid):
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [backend_pid])
        return cursor.fetchone()[0]


@pytest.fixture
def checked():
    """A second connection of the server's kind, as a request's thread keeps one."""
    other = connections.create_connection("default")
    other.ensure_connection()
    yield other
    other.close()


def test_the_server_is_the_pharos_backend():
    assert type(connections["default"]).__module__ == "explorer.postgresql.base"


def test_an_idle_connection_is_usable_without_a_round_trip(checked):
    with checked.cursor() as cursor:
        cursor.execute("SELECT 'marker'")
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    assert checked.is_usable()
    assert last_query_of(pid) == "SELECT pg_backend_pid()"  # no SELECT 1 was sent


def test_a_connection_the_server_ended_is_found_unusable(checked):
    with checked.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])  # waits for its end
    assert not checked.is_usable()
    checked.close_if_unusable_or_obsolete()  # a request starts: its first query checks first
    checked.close_if_health_check_failed()
    assert checked.connection is None  # closed: the next query opens a new one
    with checked.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
