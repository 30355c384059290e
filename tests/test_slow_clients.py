"""The web server keeps answering while idle and slow clients hold connections (explorer/asgi.py,
explorer/web_worker.py): a real `manage.py start`, 300 connections that send nothing and 50 that
send their request head a byte at a time."""

import socket
import threading
import time

import pytest

from tests.pharos_server import Server, request

PASSWORD = "slow-clients-password"
IDLE, SLOW = 300, 50
# A request head that never ends: one byte a second, far longer than the test lasts.
SLOW_HEAD = b"GET /system HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = Server(tmp_path_factory.mktemp("slow") / "data", PASSWORD)
    yield started
    started.stop()


class SlowClients:
    """`count` connections, each sending SLOW_HEAD one byte per `interval` seconds from one thread."""

    def __init__(self, port, count, interval=1.0):
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
        self.interval = interval
        self.sent = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self):
        while not self.stopped.wait(self.interval) and self.sent < len(SLOW_HEAD):
            for connection in self.sockets:
                try:
                    connection.send(SLOW_HEAD[self.sent : self.sent + 1])
                except OSError:
                    pass  # closed by the server: it may
            self.sent += 1

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=10)
        for connection in self.sockets:
            connection.close()


def answered(port, path, deadline):
    """Ask `path` until it answers 200 or the deadline passes; each try waits 10 s at most."""
    while time.monotonic() < deadline:
        try:
            status, _, _ = request(port, path, PASSWORD)
            if status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def test_the_api_and_the_explorer_answer_while_idle_and_slow_clients_hold_connections(server):
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(IDLE)]
    slow = SlowClients(server.port, SLOW)
    try:
        # The slow clients have started their heads: each is held by the server, unfinished.
        deadline = time.monotonic() + 60
        while slow.sent < 3:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for _ in range(5):
            assert answered(server.port, "/system", time.monotonic() + 60)
            assert answered(server.port, "/ui/studies", time.monotonic() + 60)
    finally:
        slow.close()
        for connection in idle:
            connection.close()


def test_an_upload_is_served_while_they_hold_connections(server):
    from tests.conftest import CT_SMALL, dicom_bytes

    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(IDLE)]
    slow = SlowClients(server.port, SLOW)
    try:
        status, _, body = request(
            server.port, "/instances", PASSWORD, "POST", dicom_bytes(CT_SMALL), "application/dicom"
        )
        assert status == 200 and b'"Success"' in body
    finally:
        slow.close()
        for connection in idle:
            connection.close()
