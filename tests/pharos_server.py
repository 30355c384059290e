"""Pharos started as the README starts it (`manage.py start`) in its own processes, on free ports
with its own data folder, and driven from outside: HTTP with Basic credentials."""

import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.dicom_peers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


def request(port, path, password, method="GET", data=None, content_type=None, user="admin"):
    """(status, headers, body) of one request; `password=None` sends no credentials."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if password is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@contextlib.contextmanager
def own_database(prefix):
    """A PostgreSQL database for one server when the suite runs on PostgreSQL (DATABASE_URL),
    created here and dropped after; None (the server's SQLite) otherwise."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield None
        return
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    parts = urlsplit(url)
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Server:
    """`manage.py start` as on a fresh machine: SQLite and the embedded Redis in `data_dir`,
    unless `database_url` names a PostgreSQL database of its own. `port` and `dicom_port` are
    where it is awaited (free ones unless given, as when a configuration file sets them)."""

    def __init__(self, data_dir, password, database_url=None, port=None, dicom_port=None, **environment):
        self.port = port or free_port()
        self.dicom_port = dicom_port or free_port()
        env = dict(os.environ, PHAROS_DATA_DIR=str(data_dir), PHAROS_HTTP_PORT=str(self.port))
        env["PHAROS_DICOM_PORT"] = str(self.dicom_port)
        env["PHAROS_ADMIN_PASSWORD"] = password
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        env.update(environment)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "start"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            for port in (self.port, self.dicom_port):
                wait_for_port(port, self.process, timeout=60)
        except BaseException:
            self.stop()
            raise
        # Read the servers' log as it comes (its last lines kept in `output`): a full pipe
        # would block every process that writes to it, after a few hundred requests.
        self.output = deque(maxlen=5000)
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()

    def _read_output(self):
        with self.process.stdout:
            for line in self.process.stdout:
                self.output.append(line)

    def log(self):
        """The servers' log (its last lines), once they have stopped."""
        self._reader.join(timeout=30)
        return b"".join(self.output).decode(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if getattr(self, "_reader", None) is None:
                self.process.stdout.close()
            # else the reader closes it at the end of the log, when the last server process ends
