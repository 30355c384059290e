"""The web server's worker: gunicorn's threaded worker, accepting connections evenly with
its siblings (explorer/accepting.py), and serving a kept-alive connection's next request
in the same thread when it follows at once.

This is the one room where Pharos reaches into gunicorn's internals (gunicorn 27.0.1), all
of the gthread worker's: ThreadWorker.accept and handle (overridden: not a documented
extension point), ThreadWorker.nr_conns (the connections a worker serves), and of its
connection objects TConn.is_http2, data_ready, wait_for_data and parser.unreader (what is
already read of the next request). PRIVATE_NAMES lists the names peculiar to gunicorn. When
PHAROS_FAST_PATHS is off, or another gunicorn is installed (explorer/fast_paths.py),
`manage.py start` runs gunicorn's own gthread worker instead (web_server_command).
"""

from gunicorn.workers.gthread import ThreadWorker

from explorer import accepting

READ_FROM = ("gunicorn", "27.0.1")
PRIVATE_NAMES = ("nr_conns", "is_http2", "data_ready", "wait_for_data", "unreader")

# How long a worker thread waits for the next request on a kept-alive connection before
# handing the connection back to the main loop.
NEXT_REQUEST_WAIT = 0.005


class BalancedThreadWorker(ThreadWorker):
    def accept(self, listener):
        # The listener is non-blocking: when a sibling took the connection meanwhile,
        # gunicorn's accept() meets EAGAIN and returns.
        accepting.hold_back(self.nr_conns)
        super().accept(listener)

    def handle(self, conn):
        """gunicorn's handle(), then the connection's next requests while they follow at once.

        gunicorn hands a kept-alive connection back to its main loop after each request, and
        the main loop hands it to a thread again when the next one arrives: three thread
        wake-ups per request, each waiting for the GIL. A client sending requests back to
        back (an uploader, a DICOMweb client) is served here without them."""
        keepalive = super().handle(conn)
        while keepalive is True and self.alive and self.next_request_follows(conn):
            keepalive = super().handle(conn)
        return keepalive

    @staticmethod
    def next_request_follows(conn):
        if conn.is_http2:
            return False  # its streams have a loop of their own
        if conn.parser.unreader.buf.getvalue():
            return True  # read ahead with the last body
        conn.data_ready = False  # set by the last wait; the socket is asked again
        return conn.wait_for_data(NEXT_REQUEST_WAIT)
