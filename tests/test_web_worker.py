"""The web server's workers (explorer/web_worker.py): connections arriving together taken in turn,
a connection that sends no request closed, at most PHAROS_HTTP_MAX_CONNECTIONS held; gunicorn's
own ASGI worker when the fast paths are off; with either, requests with an empty or unknown
Expect header served."""

import http.client
import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from explorer.management.commands.start import web_server_command
from tests.dicom_peers import child_processes, free_port, wait_for_port
from tests.test_wire_reactors import fast_paths_only, wait_until

ROOT = Path(__file__).resolve().parent.parent


def server_side_inode(server_port, client_port):
    """The inode of the server's end of a loopback TCP connection, from /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            return fields[9]
    return None


def owner(pids, inode):
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def start_web_server(tmp_path, settings, workers, threads, options=(), stdout=subprocess.DEVNULL):
    """The web server of `manage.py start`, on a free port."""
    settings.PHAROS_HTTP_HOST, settings.PHAROS_HTTP_PORT = "127.0.0.1", free_port()
    settings.PHAROS_HTTP_WORKERS, settings.PHAROS_HTTP_THREADS = workers, threads
    env = dict(os.environ, PHAROS_DATA_DIR=str(tmp_path / "data"))
    server = subprocess.Popen(
        web_server_command() + list(options), cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.DEVNULL
    )
    wait_for_port(settings.PHAROS_HTTP_PORT, server, timeout=60)
    return server


# A gunicorn configuration that notes, in `notes`, each worker ready ("ready <pid> <class>").
NOTING_CONFIG = """
import os

def post_worker_init(worker):
    with open({notes!r}, "a") as notes:
        notes.write(f"ready {{os.getpid()}} {{type(worker).__name__}}\\n")
"""


def noting_config(tmp_path, extra=""):
    notes = tmp_path / "notes"
    config = tmp_path / "gunicorn_config.py"
    config.write_text(NOTING_CONFIG.format(notes=str(notes)) + extra)
    return config, notes


def notes_of(notes):
    return notes.read_text().splitlines() if notes.exists() else []


@fast_paths_only
def test_connections_arriving_together_spread_over_the_workers(tmp_path, settings):
    # Longer than the defaults, so that a loaded machine cannot decide the race.
    slower = (
        "import explorer.accepting as a\na.DELAY_PER_CONNECTION = 0.25\na.DELAY_MAX = 1\n"
        "import explorer.web_worker as w\nw.RECENT = 5\n"
    )
    config, notes = noting_config(tmp_path, slower)
    server = start_web_server(tmp_path, settings, workers=2, threads=4, options=["--config", str(config)])
    connections = []
    try:
        # Both workers have loaded the application and wait for connections.
        wait_until(lambda: len([n for n in notes_of(notes) if n.startswith("ready")]) == 2, seconds=60)
        address = ("127.0.0.1", settings.PHAROS_HTTP_PORT)
        with ThreadPoolExecutor(4) as pool:  # as four upload threads do
            connections = list(pool.map(lambda _: socket.create_connection(address), range(4)))
        workers = list(child_processes(server.pid))

        def owners_now():
            port = settings.PHAROS_HTTP_PORT
            return [owner(workers, server_side_inode(port, c.getsockname()[1])) for c in connections]

        wait_until(lambda: None not in owners_now(), seconds=30)  # each accepted
        owners = owners_now()
        assert sorted(owners.count(pid) for pid in set(owners)) == [2, 2]
    finally:
        for connection in connections:
            connection.close()
        server.terminate()
        server.wait(timeout=30)


def get(connection, path="/static/explorer/pharos.css"):
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
def test_our_worker_runs_only_with_the_fast_paths(tmp_path, settings, fast):
    settings.PHAROS_FAST_PATHS = fast
    config, notes = noting_config(tmp_path)
    server = start_web_server(tmp_path, settings, workers=1, threads=2, options=["--config", str(config)])
    try:
        connection = http.client.HTTPConnection("127.0.0.1", settings.PHAROS_HTTP_PORT, timeout=30)
        assert {get(connection)[0] for _ in range(20)} == {200}  # one kept-alive connection
        connection.close()
        wait_until(lambda: any(n.startswith("ready") for n in notes_of(notes)))
        (ready,) = [n for n in notes_of(notes) if n.startswith("ready")]
        assert ready.endswith(" BalancedAsyncWorker" if fast else " ASGIWorker")
    finally:
        server.terminate()
        server.wait(timeout=30)


@fast_paths_only
def test_a_connection_without_a_request_is_closed_after_the_idle_timeout(tmp_path, settings):
    settings.PHAROS_HTTP_IDLE_TIMEOUT = 1
    server = start_web_server(tmp_path, settings, workers=1, threads=1)
    try:
        address = ("127.0.0.1", settings.PHAROS_HTTP_PORT)
        idle, slow = (socket.create_connection(address, timeout=30) for _ in range(2))
        with idle, slow:
            slow.sendall(b"GET /system HTTP/1.1\r\nHo")  # and nothing more
            assert idle.recv(100) == b""  # closed by the server, well before the 30 s
            assert slow.recv(100) == b""
            # The only thread serves others.
            other = http.client.HTTPConnection(*address, timeout=30)
            assert get(other)[0] == 200
            other.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- Expect headers: gunicorn's threaded workers answered 417 to any but 100-continue -------------


def send_raw(port, method, path, headers, body=b""):
    """The status line of the answer to one request written byte for byte."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head.encode() + body)
        return connection.makefile("rb").readline().decode()


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
def test_an_empty_or_unknown_expect_header_reaches_the_application(tmp_path, settings, fast):
    settings.PHAROS_FAST_PATHS = fast
    server = start_web_server(tmp_path, settings, workers=1, threads=2)
    try:
        for expect in ("", "foo"):
            # No credentials: the application's 401, not gunicorn's 417.
            status = send_raw(settings.PHAROS_HTTP_PORT, "PUT", "/tools/log-level", [("Expect", expect)], b"trace")
            assert status.startswith("HTTP/1.1 401 "), (expect, status)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_orthanc_clients_expect_headers_on_the_real_server(tmp_path):
    """POST /instances and PUT with `Expect:` empty (httplib2's clients), unknown, and
    100-continue (curl's, for large bodies): all served, as Orthanc serves them."""
    import base64

    from tests.conftest import dicom_bytes
    from tests.pharos_server import Server

    password = "expect-password"
    server = Server(tmp_path / "data", password)
    authorization = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
    try:
        for expect in ("", "foo"):
            headers = [("Authorization", authorization), ("Expect", expect), ("Content-Type", "application/dicom")]
            status = send_raw(server.port, "POST", "/instances", headers, dicom_bytes("CT_small.dcm"))
            assert status.startswith("HTTP/1.1 200 "), (expect, status)
            headers = [("Authorization", authorization), ("Expect", expect)]
            status = send_raw(server.port, "PUT", "/tools/default-encoding", headers, b"Utf8")
            assert status.startswith("HTTP/1.1 200 "), (expect, status)
        # 100-continue is still gunicorn's to answer.
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request(
            "PUT",
            "/tools/default-encoding",
            body=b"Latin1",
            headers={"Authorization": authorization, "Expect": "100-continue"},
        )
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"Latin1")
        connection.close()
    finally:
        server.stop()


@fast_paths_only
def test_a_worker_holds_at_most_its_connections_and_takes_the_next_when_one_closes(tmp_path, settings):
    settings.PHAROS_HTTP_MAX_CONNECTIONS = 2
    server = start_web_server(tmp_path, settings, workers=1, threads=1)
    address = ("127.0.0.1", settings.PHAROS_HTTP_PORT)
    idle = [socket.create_connection(address, timeout=30) for _ in range(2)]
    try:
        (worker,) = child_processes(server.pid)

        def owned(connection):
            return owner([worker], server_side_inode(address[1], connection.getsockname()[1])) == worker

        wait_until(lambda: all(owned(connection) for connection in idle), seconds=30)
        waiting = http.client.HTTPConnection(*address, timeout=30)
        waiting.connect()
        waiting.sock.sendall(b"GET /static/explorer/pharos.css HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(20):  # while two are held, the third waits in the kernel
            assert not owned(waiting.sock)
            time.sleep(0.05)
        idle.pop().close()
        response = http.client.HTTPResponse(waiting.sock)
        response.begin()
        assert response.status == 200
        waiting.close()
    finally:
        for connection in idle:
            connection.close()
        server.terminate()
        server.wait(timeout=30)


# Notes the module of the request parser of each connection the worker holds, at each request.
PARSER_NOTING_CONFIG = """

def pre_request(worker, req):
    with open({notes!r}, "a") as notes:
        for connection in worker.connections:
            notes.write(f"parser {{type(connection._callback_parser).__module__}}\\n")
"""


@fast_paths_only
def test_our_worker_parses_requests_with_gunicorns_c_parser(tmp_path, settings):
    config, notes = noting_config(tmp_path)
    config.write_text(config.read_text() + PARSER_NOTING_CONFIG.format(notes=str(notes)))
    server = start_web_server(tmp_path, settings, workers=1, threads=2, options=["--config", str(config)])
    try:
        connection = http.client.HTTPConnection("127.0.0.1", settings.PHAROS_HTTP_PORT, timeout=30)
        assert get(connection)[0] == 200
        connection.close()
        parsers = {n for n in notes_of(notes) if n.startswith("parser")}
        assert parsers == {"parser gunicorn_h1c._protocol"}  # not gunicorn.asgi.parser, in Python
    finally:
        server.terminate()
        server.wait(timeout=30)
