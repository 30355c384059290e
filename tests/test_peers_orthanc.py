"""Orthanc peers both ways, against a real Orthanc 1.10.1 that asks for credentials: a started
Pharos sends to Orthanc as its peer (plain, transcoded, gzipped, as a worker's job), and Orthanc
sends to Pharos as its peer (plain and with "Compress": true, which Pharos's upload decodes).
Each side knows the other from its configuration file (OrthancPeers), logged in as a user the
other side's file registers."""

import json
import time

import pytest
from pydicom import dcmread

from tests.conftest import dicom_bytes, sample_path
from tests.dicom_peers import free_port
from tests.pharos_server import Server, own_database, request
from tests.reference_orthanc import ReferenceOrthanc

PASSWORD = "peers-admin"
ORTHANC_USER = ("pharos-sender", "orthanc-secret")
PHAROS_USER = ("orthanc-sender", "pharos-secret")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(Pharos, Orthanc), each the other's peer."""
    folder = tmp_path_factory.mktemp("peers")
    pharos_port = free_port()
    orthanc_options = {
        "AuthenticationEnabled": True,
        "RegisteredUsers": dict([ORTHANC_USER]),
        "OrthancPeers": {"pharos": [f"http://127.0.0.1:{pharos_port}/", *PHAROS_USER]},
    }
    with ReferenceOrthanc(folder / "orthanc", orthanc_options) as orthanc:
        configuration = folder / "pharos.json"
        pharos_options = {
            "RegisteredUsers": dict([PHAROS_USER]),
            "OrthancPeers": {"orthanc": {"Url": orthanc.url, "Username": ORTHANC_USER[0], "Password": ORTHANC_USER[1]}},
        }
        configuration.write_text(json.dumps(pharos_options))
        with own_database("pharos_peers") as database_url:
            server = Server(
                folder / "data", PASSWORD, database_url, port=pharos_port, PHAROS_ORTHANC_CONFIG=str(configuration)
            )
            try:
                yield server, orthanc
            finally:
                assert server.stop() == 0


def pharos(server, path, method="GET", body=None, content_type="application/json"):
    """(status, JSON or bytes) of a request to Pharos as its administrator."""
    data = json.dumps(body).encode() if isinstance(body, dict | list) else body
    status, _, answer = request(server.port, path, PASSWORD, method, data, content_type if data is not None else None)
    try:
        return status, json.loads(answer)
    except ValueError:
        return status, answer


def upload_to_pharos(server, name):
    status, answer = pharos(server, "/instances", "POST", dicom_bytes(name), "application/dicom")
    assert status == 200, answer
    return answer


def orthanc_file(orthanc, instance_id):
    status, _, body = orthanc.request(f"/instances/{instance_id}/file")
    assert status == 200, body
    return body


def test_each_side_lists_the_other_from_its_configuration(both):
    server, orthanc = both
    assert pharos(server, "/peers")[1] == ["orthanc"]
    status, shown = pharos(server, "/peers?expand")
    assert shown["orthanc"]["Password"] is None and ORTHANC_USER[1].encode() not in json.dumps(shown).encode()
    assert orthanc.get("/peers") == ["pharos"]


def test_each_side_reads_the_others_system(both):
    server, orthanc = both
    status, system = pharos(server, "/peers/orthanc/system")
    assert status == 200 and system["Version"] == "1.10.1" and system["Name"] == "reference"
    system = orthanc.get("/peers/pharos/system")
    assert system["Name"] == "Pharos" and system["HttpPort"] == server.port


def test_pharos_sends_to_orthanc_plain_and_compressed(both):
    server, orthanc = both
    plain, compressed = upload_to_pharos(server, "CT_small.dcm"), upload_to_pharos(server, "MR_small.dcm")
    status, content = pharos(server, "/peers/orthanc/store", "POST", [plain["ParentStudy"]])
    assert status == 200, content
    assert content["InstancesCount"] == 1 and content["Size"] == str(len(dicom_bytes("CT_small.dcm")))
    assert orthanc_file(orthanc, plain["ID"]) == dicom_bytes("CT_small.dcm")
    status, content = pharos(
        server, "/peers/orthanc/store", "POST", {"Resources": [compressed["ID"]], "Compress": True}
    )
    assert status == 200 and content["Compress"] is True, content
    assert int(content["Size"]) < len(dicom_bytes("MR_small.dcm"))
    # Orthanc decoded the gzip body: it stores the file itself.
    assert orthanc_file(orthanc, compressed["ID"]) == dicom_bytes("MR_small.dcm")


def test_pharos_sends_to_orthanc_transcoded_as_a_workers_job(both):
    server, orthanc = both
    stored = upload_to_pharos(server, "JPEG2000.dcm")
    body = {"Resources": [stored["ID"]], "Transcode": "1.2.840.10008.1.2.1", "Synchronous": False}
    status, started = pharos(server, "/peers/orthanc/store", "POST", body)
    assert status == 200 and started["Path"] == f"/jobs/{started['ID']}", started
    job = await_job(server, started["ID"])
    assert (job["State"], job["Type"], job["Content"]["Transcode"]) == (
        "Success",
        "OrthancPeerStore",
        "1.2.840.10008.1.2.1",
    )
    metadata = orthanc.get(f"/instances/{stored['ID']}/metadata?expand")
    assert metadata["TransferSyntax"] == "1.2.840.10008.1.2.1"
    assert metadata["HttpUsername"] == ORTHANC_USER[0]


def await_job(server, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = pharos(server, f"/jobs/{job_id}")[1]
        if job["State"] in ("Success", "Failure"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end in {timeout} s: {job}")


def test_orthanc_refuses_wrong_credentials(both):
    server, orthanc = both
    wrong = {"Url": orthanc.url, "Username": ORTHANC_USER[0], "Password": "not-the-password"}
    assert pharos(server, "/peers/wrong", "PUT", wrong)[0] == 200
    status, error = pharos(server, "/peers/wrong/system")
    assert status == 500 and "answered 401" in error["Details"]
    stored = upload_to_pharos(server, "CT_small.dcm")
    status, error = pharos(server, "/peers/wrong/store", "POST", [stored["ID"]])
    assert status == 500 and error["OrthancError"] == "Error in the network protocol"


def test_orthanc_sends_to_pharos_plain_and_compressed(both):
    server, orthanc = both
    plain, compressed = orthanc.upload(dicom_bytes("rtplan.dcm")), orthanc.upload(dicom_bytes("SC_rgb_rle.dcm"))
    status, content = orthanc.post("/peers/pharos/store", [plain["ID"]])
    assert status == 200 and content["InstancesCount"] == 1, content
    status, content = orthanc.post("/peers/pharos/store", {"Resources": [compressed["ID"]], "Compress": True})
    assert status == 200 and content["Compress"] is True, content
    for answer, name in ((plain, "rtplan.dcm"), (compressed, "SC_rgb_rle.dcm")):
        status, body = pharos(server, f"/instances/{answer['ID']}/file")
        assert status == 200 and body == dicom_bytes(name)
        # Stored as an upload by the user Orthanc logs in as.
        metadata = pharos(server, f"/instances/{answer['ID']}/metadata?expand")[1]
        assert (metadata["Origin"], metadata["HttpUsername"]) == ("RestApi", PHAROS_USER[0])
    assert dcmread(sample_path("SC_rgb_rle.dcm")).SOPInstanceUID in body.decode("latin-1")
