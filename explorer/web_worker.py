"""The web server's worker: gunicorn's threaded worker, accepting connections evenly with
its siblings (explorer/accepting.py), and serving a kept-alive connection's next request
in the same thread when it follows at once."""

from gunicorn.workers.gthread import ThreadWorker

from explorer import accepting

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
        while keepalive is True and self.alive and self._next_request_follows(conn):
            keepalive = super().handle(conn)
        return keepalive

    @staticmethod
    def _next_request_follows(conn):
        if conn.is_http2:
            return False  # its streams have a loop of their own
        if conn.parser.unreader.buf.getvalue():
            return True  # read ahead with the last body
        conn.data_ready = False  # set by the last wait; the socket is asked again
        return conn.wait_for_data(NEXT_REQUEST_WAIT)
