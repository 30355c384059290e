"""`manage.py start` (what `make run` calls) serves the API from a real WSGI server, end to end."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, sample_path
from tests.dicom_peers import dcmtk, listening, wait_until
from tests.pharos_server import ROOT, Server, request


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
        wait_until(lambda port=port: not listening(port), 20, f"the {name} server outlived manage.py start")


def test_start_stops_at_a_bad_modality_of_the_orthanc_configuration(tmp_path, data_dir):
    path = tmp_path / "orthanc.json"
    path.write_text('{"DicomModalities": {"scanner": ["SCANNER", "10.0.0.7"]}}')
    env = dict(os.environ, PHAROS_DATA_DIR=str(data_dir), PHAROS_ORTHANC_CONFIG=str(path), PHAROS_ADMIN_PASSWORD="pw")
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "start"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert f"The Orthanc option DicomModalities in {path}: 'scanner': A modality as an array is" in result.stderr
