"""`manage.py start` (what `make run` calls) serves the API from a real WSGI server, end to end."""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, sample_path
from tests.dicom_peers import dcmtk

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, path, password, method="GET", data=None, content_type=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Server:
    def __init__(self, data_dir, password):
        self.port = free_port()
        self.dicom_port = free_port()
        env = dict(os.environ, PHAROS_DATA_DIR=str(data_dir), PHAROS_HTTP_PORT=str(self.port))
        env["PHAROS_DICOM_PORT"] = str(self.dicom_port)
        env["PHAROS_ADMIN_PASSWORD"] = password
        env.pop("DATABASE_URL", None)  # the embedded default, as on a fresh machine
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "start"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for port in (self.port, self.dicom_port):
            self.wait_for(port)

    def wait_for(self, port):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.process.stdout.read().decode())
                time.sleep(0.2)
        raise RuntimeError(f"nothing listens on port {port}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def test_start_serves_the_api_and_stops_cleanly(data_dir):
    server = Server(data_dir, "first-password")
    try:
        status, headers, _ = request(server.port, "/system", "first-password")
        assert status == 200
        assert headers["Server"].startswith("gunicorn")
        status, _, body = request(
            server.port, "/instances", "first-password", "POST", dicom_bytes(CT_SMALL), "application/dicom"
        )
        assert status == 200 and b'"Success"' in body
        status, _, body = request(server.port, f"/instances/{CT_SMALL_IDS['instance']}/file", "first-password")
        assert body == dicom_bytes(CT_SMALL)
        assert request(server.port, "/patients", "wrong")[0] == 401
        status, headers, _ = request(server.port, "/static/explorer/pharos.css", "")
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        echo = dcmtk("echoscu", "-aec", "PHAROS", "127.0.0.1", server.dicom_port)
        assert echo.returncode == 0, echo.stderr
        stored = dcmtk("storescu", "-aec", "PHAROS", "127.0.0.1", server.dicom_port, sample_path("MR_small.dcm"))
        assert stored.returncode == 0, stored.stderr
        assert len(json.loads(request(server.port, "/instances", "first-password")[2])) == 2
    finally:
        assert server.stop() == 0
    assert (data_dir / "pharos.sqlite3").exists()
    assert list((data_dir / "storage").rglob("*.dcm"))


def test_a_later_start_with_a_new_password_updates_the_admin(data_dir):
    Server(data_dir, "first-password").stop()
    server = Server(data_dir, "second-password")
    try:
        assert request(server.port, "/system", "first-password")[0] == 401
        assert request(server.port, "/system", "second-password")[0] == 200
    finally:
        server.stop()


def test_the_servers_stop_when_start_is_killed_outright(data_dir):
    server = Server(data_dir, "first-password")
    server.process.kill()
    server.process.wait()
    for name, port in (("web", server.port), ("DICOM", server.dicom_port)):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the {name} server outlived manage.py start")
