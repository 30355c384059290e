"""Django's PostgreSQL backend, with a health check that costs no round trip.

A kept connection is checked before its first use in each request or DICOM handler
(CONN_HEALTH_CHECKS, explorer/settings.py), so that the first request after a database
restart succeeds. Django's check sends `SELECT 1` and waits for the answer: a round trip to
PostgreSQL in every request, a tenth of what storing an instance waits for. Here the
connection's socket is looked at first: an idle connection has nothing to read, while a
server that shut down or restarted has sent its last message (terminating the connection) or
closed the socket, and then there is something to read. Only then is `SELECT 1` asked, and its
failure closes the connection as Django's check does. A connection cut without a word (a
network gone) is not seen by either check until a query waits on it.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        if self.connection is None:
            return False
        if self.connection.info.transaction_status == pq.TransactionStatus.IDLE and not _has_input(self.connection):
            return True
        return super().is_usable()


def _has_input(connection):
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):  # the socket is closed already
        return True
    return bool(readable)
