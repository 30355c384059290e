"""The web server's worker: gunicorn's threaded worker, accepting connections evenly with
its siblings (explorer/accepting.py)."""

from gunicorn.workers.gthread import ThreadWorker

from explorer import accepting


class BalancedThreadWorker(ThreadWorker):
    def accept(self, listener):
        # The listener is non-blocking: when a sibling took the connection meanwhile,
        # gunicorn's accept() meets EAGAIN and returns.
        accepting.hold_back(self.nr_conns)
        super().accept(listener)
