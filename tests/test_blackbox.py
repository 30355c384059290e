"""The server from outside, as a user meets it: `manage.py start` (what `make run` calls) on free
ports with a fresh data folder, spoken to only over HTTP with Basic credentials and with DCMTK's
tools, the way Orthanc's integration suite drives a running Orthanc.

One server for the module. With DATABASE_URL set it runs on a PostgreSQL database of its own,
created and dropped here; otherwise on SQLite in its data folder. Redis is always the embedded one.
Nothing here touches the test database: the checks go through the server's answers alone.
"""

import io
import json
import subprocess
from pathlib import Path

import pydicom
import pytest

from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, make_dicom, sample_path
from tests.dicom_peers import DCMTK_ENV, child_processes, dcmtk, free_port, wait_for_port, wait_until
from tests.pharos_server import Server, own_database, request
from tests.tools import needs_tool, require_tool

PASSWORD = "black-box-password"
AET = "BLACKBOX"  # our DCMTK tools' calling AE title, and the storescp that C-MOVE sends to
MR_SMALL = "MR_small.dcm"


@pytest.fixture(scope="module")
def database_url():
    """A PostgreSQL database of the server's own when the suite runs on PostgreSQL, else None."""
    with own_database("pharos_blackbox") as url:
        yield url


def descendants(pid):
    """Every process below `pid` (servers, their workers, their helpers)."""
    found = []
    for child in child_processes(pid):
        found += [child, *descendants(child)]
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url):
    server = Server(tmp_path_factory.mktemp("blackbox") / "data", PASSWORD, database_url)
    processes = descendants(server.process.pid)
    assert len(processes) >= 4, "expected the web, DICOM, worker and Redis processes"
    yield server
    assert server.stop() == 0
    wait_until(
        lambda: not [pid for pid in processes if Path(f"/proc/{pid}").exists()],
        20,
        "a process of the server outlived it",
    )


def api(server, path, method="GET", body=None, content_type=None):
    """(status, body) of an authenticated request; JSON bodies are sent and read as JSON."""
    if body is not None and not isinstance(body, bytes):
        body, content_type = json.dumps(body).encode(), "application/json"
    status, headers, data = request(server.port, path, PASSWORD, method, body, content_type)
    if headers.get("Content-Type", "").startswith("application/json"):
        return status, json.loads(data)
    return status, data


@pytest.fixture(scope="module")
def ct_small(server):
    status, answer = api(server, "/instances", "POST", dicom_bytes(CT_SMALL), "application/dicom")
    assert status == 200 and answer["Status"] == "Success", answer
    return answer


@pytest.fixture(scope="module")
def configured_modality(server, tmp_path_factory):
    """DCMTK's storescp as the configured modality BLACKBOX (PUT /modalities, as the README
    shows): our tools call as BLACKBOX, and C-MOVE sends to it."""
    folder = tmp_path_factory.mktemp("storescp")
    port = free_port()
    require_tool("storescp")
    process = subprocess.Popen(
        ["storescp", "-aet", AET, "-od", str(folder), str(port)],
        env=DCMTK_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, process)
        status, _ = api(server, "/modalities/blackbox", "PUT", [AET, "127.0.0.1", port])
        assert status == 200
        yield folder
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_a_request_without_credentials_or_with_wrong_ones_gets_401(server):
    assert request(server.port, "/patients", None)[0] == 401
    assert request(server.port, "/patients", "wrong")[0] == 401


def test_an_uploaded_file_is_listed_found_and_given_back_byte_for_byte(server, ct_small):
    assert ct_small["ID"] == CT_SMALL_IDS["instance"]
    assert ct_small["ParentStudy"] == CT_SMALL_IDS["study"]

    status, patients = api(server, "/patients")
    assert status == 200 and CT_SMALL_IDS["patient"] in patients

    status, study = api(server, f"/studies/{CT_SMALL_IDS['study']}")
    assert status == 200
    assert study["ParentPatient"] == CT_SMALL_IDS["patient"]
    assert study["Series"] == [CT_SMALL_IDS["series"]]
    assert study["PatientMainDicomTags"]["PatientName"] == "CompressedSamples^CT1"

    status, found = api(server, "/tools/find", "POST", {"Level": "Study", "Query": {"PatientName": "*CT1"}})
    assert status == 200 and found == [CT_SMALL_IDS["study"]]

    status, data = api(server, f"/instances/{CT_SMALL_IDS['instance']}/file")
    assert status == 200 and data == dicom_bytes(CT_SMALL)


@needs_tool("echoscu")
def test_c_echo(server):
    result = dcmtk("echoscu", "-aec", "PHAROS", "-aet", AET, "127.0.0.1", server.dicom_port)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def mr_small(server):
    """MR_small sent with storescu; its UIDs read from the file."""
    result = dcmtk("storescu", "-aec", "PHAROS", "-aet", AET, "127.0.0.1", server.dicom_port, sample_path(MR_SMALL))
    assert result.returncode == 0, result.stdout + result.stderr
    return pydicom.dcmread(sample_path(MR_SMALL))


@needs_tool("storescu")
def test_a_file_sent_with_storescu_is_stored(server, mr_small):
    query = {"Level": "Instance", "Query": {"SOPInstanceUID": mr_small.SOPInstanceUID}, "Expand": True}
    status, (instance,) = api(server, "/tools/find", "POST", query)
    assert status == 200
    status, data = api(server, f"/instances/{instance['ID']}/file")
    assert status == 200
    stored = pydicom.dcmread(io.BytesIO(data))  # our meta header, the data set as sent
    assert stored.SOPInstanceUID == mr_small.SOPInstanceUID
    assert stored.PixelData == mr_small.PixelData


@needs_tool("storescu", "findscu")
def test_findscu_finds_it(server, mr_small, configured_modality, tmp_path):
    result = dcmtk(
        "findscu", "-S", "-aec", "PHAROS", "-aet", AET, "-X", "-od", tmp_path,
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"PatientID={mr_small.PatientID}", "-k", "StudyInstanceUID",
        "-k", "PatientName",
        "127.0.0.1", server.dicom_port,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (answer,) = [pydicom.dcmread(path) for path in sorted(tmp_path.glob("rsp*.dcm"))]
    assert answer.StudyInstanceUID == mr_small.StudyInstanceUID
    assert answer.PatientName == mr_small.PatientName


@needs_tool("storescu", "movescu", "storescp")
def test_movescu_moves_it_to_a_configured_modality(server, mr_small, configured_modality):
    result = dcmtk(
        "movescu", "-S", "-aec", "PHAROS", "-aet", AET, "-aem", AET,
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={mr_small.StudyInstanceUID}",
        "127.0.0.1", server.dicom_port,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (received,) = [pydicom.dcmread(path) for path in configured_modality.iterdir()]
    assert received.SOPInstanceUID == mr_small.SOPInstanceUID
    assert received.PixelData == mr_small.PixelData


@needs_tool("storescu", "getscu")
def test_getscu_gets_it(server, mr_small, configured_modality, tmp_path):
    folder = tmp_path / "getscu"
    folder.mkdir()
    result = dcmtk(
        "getscu", "-S", "-aec", "PHAROS", "-aet", AET, "-od", folder,
        "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={mr_small.StudyInstanceUID}",
        "-k", f"SeriesInstanceUID={mr_small.SeriesInstanceUID}",
        "127.0.0.1", server.dicom_port,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (received,) = [pydicom.dcmread(path) for path in folder.iterdir()]
    assert received.SOPInstanceUID == mr_small.SOPInstanceUID
    assert received.PixelData == mr_small.PixelData


def test_delete_removes_the_patient_and_what_it_held(server):
    data = make_dicom(PatientID="BLACKBOX-DELETE", PatientName="Delete^Me")
    status, answer = api(server, "/instances", "POST", data, "application/dicom")
    assert status == 200 and answer["Status"] == "Success"
    assert api(server, f"/patients/{answer['ParentPatient']}", "DELETE")[0] == 200
    assert api(server, f"/instances/{answer['ID']}")[0] == 404
    assert answer["ParentPatient"] not in api(server, "/patients")[1]
    status, found = api(server, "/tools/find", "POST", {"Level": "Patient", "Query": {"PatientID": "BLACKBOX-DELETE"}})
    assert status == 200 and found == []
