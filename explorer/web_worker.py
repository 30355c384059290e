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

One reach is not a speed-up and holds with either worker: gunicorn answers `417 Expectation
Failed` to any Expect header but `100-continue`, before the application sees the request,
and clients built on httplib2 send an empty one with every POST and PUT. Orthanc serves
them. serve_unknown_expectations() wraps the method of gunicorn's HTTP/1 messages that
refuses them, HeaderPolicy._apply_header_policy, so that such a header is kept and ignored;
`100-continue` is still answered by gunicorn. With another gunicorn lacking that method,
nothing is changed.
"""

from gunicorn.http import message
from gunicorn.workers.gthread import ThreadWorker

from explorer import accepting

READ_FROM = ("gunicorn", "27.0.1")
PRIVATE_NAMES = (
    "nr_conns",
    "is_http2",
    "data_ready",
    "wait_for_data",
    "unreader",
    "HeaderPolicy",
    "_apply_header_policy",
)

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


def serve_unknown_expectations():
    """Requests whose Expect header is empty or unknown are served (see the docstring)."""
    policy = getattr(message, "HeaderPolicy", None)
    refusing = getattr(policy, "_apply_header_policy", None)
    if refusing is None or getattr(refusing, "serves_unknown_expectations", False):
        return

    def apply_header_policy(self, name, value, *args, **kwargs):
        if name == "EXPECT" and value.strip().lower() != "100-continue":
            return (name, value)  # RFC 9110 lets a server ignore an expectation it does not know
        return refusing(self, name, value, *args, **kwargs)

    apply_header_policy.serves_unknown_expectations = True
    policy._apply_header_policy = apply_header_policy
