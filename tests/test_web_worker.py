"""The web server's workers (explorer/web_worker.py): connections arriving together taken in turn,
kept-alive connections served back to back."""

import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from explorer.management.commands.start import web_server_command
from tests.dicom_peers import child_processes, free_port, wait_for_port

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


def start_web_server(tmp_path, settings, workers, threads, options=()):
    """The web server of `manage.py start`, on a free port."""
    settings.PHAROS_HTTP_HOST, settings.PHAROS_HTTP_PORT = "127.0.0.1", free_port()
    settings.PHAROS_HTTP_WORKERS, settings.PHAROS_HTTP_THREADS = workers, threads
    env = dict(os.environ, PHAROS_DATA_DIR=str(tmp_path / "data"))
    server = subprocess.Popen(web_server_command() + list(options), cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(settings.PHAROS_HTTP_PORT, server, timeout=60)
    return server


def test_connections_arriving_together_spread_over_the_workers(tmp_path, settings):
    # Longer than the default, so that a loaded machine cannot decide the race.
    config = tmp_path / "gunicorn_config.py"
    config.write_text("import explorer.accepting as a\na.DELAY_PER_CONNECTION = 0.25\na.DELAY_MAX = 1\n")
    server = start_web_server(tmp_path, settings, workers=2, threads=4, options=["--config", str(config)])
    connections = []
    try:
        deadline = time.monotonic() + 60
        while len(child_processes(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # both workers have loaded the application and wait for connections
        address = ("127.0.0.1", settings.PHAROS_HTTP_PORT)
        with ThreadPoolExecutor(4) as pool:  # as four upload threads do
            connections = list(pool.map(lambda _: socket.create_connection(address), range(4)))
        time.sleep(2)  # each accepted
        workers = list(child_processes(server.pid))
        owners = [owner(workers, server_side_inode(settings.PHAROS_HTTP_PORT, c.getsockname()[1])) for c in connections]
        assert None not in owners
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


def test_a_kept_alive_connection_is_served_back_to_back_and_after_a_pause(tmp_path, settings):
    import http.client

    from explorer import web_worker

    server = start_web_server(tmp_path, settings, workers=1, threads=1)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", settings.PHAROS_HTTP_PORT, timeout=30)
        answers = [get(connection) for _ in range(20)]  # in the thread that served the first
        assert {status for status, _ in answers} == {200}
        time.sleep(web_worker.NEXT_REQUEST_WAIT * 40)  # the connection went back to the main loop
        assert get(connection)[0] == 200
        # The only thread does not stay with an idle connection: another client is served.
        other = http.client.HTTPConnection("127.0.0.1", settings.PHAROS_HTTP_PORT, timeout=30)
        assert get(other)[0] == 200
        assert get(connection)[0] == 200
        connection.close()
        other.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
