"""Pharos's DICOMweb client against a real Orthanc 1.10.1 with its DICOMweb plugin: studies sent
with STOW-RS, searched with QIDO-RS (wildcards as typed), pulled back with WADO-RS through the
ingest funnel, the credentials and extra headers reaching the server, and a server out of
reach failing the job with its reason."""

import json
import os

import pytest
from django.test import Client

from dicomnet.dicomweb import client, servers
from dicomnet.dicomweb import jobs as dicomweb_jobs
from dicomnet.models import Job
from explorer.ingest import Origin, store_instance
from explorer.models import Instance, Study
from tests.conftest import dicom_bytes, make_image, run_queued_jobs, upload
from tests.dicom_peers import free_port
from tests.reference_orthanc import ReferenceOrthanc

pytestmark = pytest.mark.django_db(transaction=True)

USER, PASSWORD = "pharos", "dicomweb-secret"
TENANT = {"X-Tenant": "radiology"}
CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
# Orthanc refuses any DICOMweb request that lacks the tenant header: the header reaching it is
# what lets a request through.
HEADER_FILTER = """
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  if string.sub(uri, 1, 10) == '/dicom-web' then
    return httpHeaders['x-tenant'] == 'radiology'
  end
  return true
end
"""


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("orthanc")
    (folder / "filter.lua").write_text(HEADER_FILTER)
    configuration = {
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "LuaScripts": [str(folder / "filter.lua")],
    }
    with ReferenceOrthanc(folder, configuration) as server:
        yield server


@pytest.fixture
def remote(orthanc, api):
    """Orthanc registered in Pharos as "remote", with its user and the tenant header; Orthanc
    emptied of what an earlier test left."""
    for study in orthanc.get("/studies"):
        orthanc.request(f"/studies/{study}", "DELETE")
    body = {"Url": f"{orthanc.url}/dicom-web/", "Username": USER, "Password": PASSWORD, "HttpHeaders": TENANT}
    assert put(api, "remote", body).status_code == 200
    return servers.get("remote")


def put(api, name, body):
    return api.put(f"/dicom-web/servers/{name}", data=json.dumps(body), content_type="application/json")


def post(api, url, body):
    return api.post(url, data=json.dumps(body), content_type="application/json")


def test_a_study_is_sent_as_a_job_and_found_on_orthanc(api, remote, orthanc, queue):
    study = upload(api, dicom_bytes("CT_small.dcm")).json()["ParentStudy"]
    answer = post(api, "/dicom-web/servers/remote/stow", {"Resources": [study], "Synchronous": False}).json()
    assert set(answer) == {"ID", "Path"}
    assert api.get(answer["Path"]).json()["State"] == "Pending"
    run_queued_jobs()
    job = api.get(answer["Path"]).json()
    assert (job["State"], job["Type"], job["Progress"]) == ("Success", "DicomWebStowClient", 100)
    assert job["Content"] == {"InstancesCount": "1", "NetworkSizeMB": "0"}
    assert [orthanc.get(f"/studies/{s}")["MainDicomTags"]["StudyInstanceUID"] for s in orthanc.get("/studies")] == [
        CT_STUDY
    ]


def test_a_synchronous_send_answers_the_content_and_many_files_go_in_batches(api, remote, orthanc):
    # Twelve instances: more than one STOW-RS request holds (client.STOW_MAX_INSTANCES).
    series = {"StudyInstanceUID": "1.2.826.0.1.3680043.8.498.91", "SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.92"}
    for number in range(1, 13):
        store_instance(make_image(8, os.urandom(128), InstanceNumber=number, **series), Origin())
    study = Study.objects.get().public_id
    answer = post(api, "/dicom-web/servers/remote/stow", {"Resources": [study]})
    assert answer.json() == {"InstancesCount": "12", "NetworkSizeMB": "0"}
    assert len(orthanc.get("/instances")) == 12


def test_qido_answers_as_orthanc_and_wildcards_are_sent_as_typed(api, remote, orthanc):
    orthanc.upload(dicom_bytes("CT_small.dcm"))
    orthanc.upload(dicom_bytes("MR_small.dcm"))

    def qido(arguments, uri="/studies"):
        answer = post(api, "/dicom-web/servers/remote/qido", {"Uri": uri, "Arguments": arguments})
        assert answer.status_code == 200, answer.content
        return answer.json()

    found = qido({"PatientName": "CompressedSamples^CT*"})
    assert [study["0020000D"]["Value"] for study in found] == [CT_STUDY]
    assert found[0]["00100010"] == {
        "Element": 16,
        "Group": 16,
        "Name": "PatientName",
        "Value": "CompressedSamples^CT1",
        "vr": "PN",
    }
    assert found[0]["00080050"] == {"Element": 80, "Group": 8, "Name": "AccessionNumber", "vr": "SH"}
    assert len(qido({"PatientName": "Compressed*"})) == 2
    assert len(qido({"PatientID": "?CT1"})) == 1
    assert len(qido({"StudyInstanceUID": f"{CT_STUDY},{MR_STUDY}"})) == 2
    assert qido({"PatientName": "Nobody*"}) == []
    assert len(qido({}, f"/studies/{CT_STUDY}/series")) == 1
    # The plain function the explorer's search uses.
    studies = client.search(remote, "Study", {"PatientName": "*MR*"}, includefield=["StudyDescription"])
    assert [s["0020000D"]["Value"] for s in studies] == [[MR_STUDY]]
    assert [s["0020000E"]["Value"] for s in client.search(remote, "Series", {"Modality": "C?"})] == [[CT_SERIES]]


def test_get_answers_the_remote_answer_as_it_is(api, remote, orthanc):
    orthanc.upload(dicom_bytes("CT_small.dcm"))
    metadata = post(api, "/dicom-web/servers/remote/get", {"Uri": f"/studies/{CT_STUDY}/metadata"})
    assert metadata["Content-Type"] == "application/dicom+json"
    assert metadata.json()[0]["0020000D"]["Value"] == [CT_STUDY]
    missing = post(api, "/dicom-web/servers/remote/get", {"Uri": "/studies/1.2.3/metadata"})
    assert missing.status_code == 404


def test_a_study_and_a_series_are_retrieved_into_pharos(api, user, remote, orthanc, queue):
    orthanc.upload(dicom_bytes("CT_small.dcm"))
    orthanc.upload(dicom_bytes("MR_small.dcm"))
    answer = post(api, "/dicom-web/servers/remote/retrieve", {"Resources": [{"Study": MR_STUDY}]})
    assert answer.json() == {"NetworkUsageMB": "0", "ReceivedInstancesCount": "1"}
    assert list(Study.objects.values_list("study_instance_uid", flat=True)) == [MR_STUDY]
    instance = Instance.objects.get()
    assert api.get(f"/instances/{instance.public_id}/metadata/Origin").content == b"Plugins"

    body = {"Resources": [{"Study": CT_STUDY, "Series": [CT_SERIES]}], "Asynchronous": True}
    queued = post(api, "/dicom-web/servers/remote/retrieve", body).json()
    run_queued_jobs()
    job = api.get(queued["Path"]).json()
    assert (job["State"], job["Type"]) == ("Success", "DicomWebWadoRetrieveClient")
    assert Instance.objects.filter(series__series_instance_uid=CT_SERIES).count() == 1
    # The explorer's job page says what it was and links to what came.
    browser = Client()
    browser.force_login(user)
    page = browser.get(f"/ui/jobs/{queued['ID']}").content.decode()
    assert "Retrieve (WADO-RS)" in page and "remote" in page
    assert f"/ui/studies/{Study.objects.get(study_instance_uid=CT_STUDY).public_id}" in page


def test_wado_stores_what_a_uri_answers(api, remote, orthanc, queue):
    orthanc.upload(dicom_bytes("CT_small.dcm"))
    queued = post(api, "/dicom-web/servers/remote/wado", {"Uri": f"/studies/{CT_STUDY}/series/{CT_SERIES}"}).json()
    run_queued_jobs()
    assert api.get(queued["Path"]).json()["Content"]["ReceivedInstancesCount"] == "1"
    assert Study.objects.get().study_instance_uid == CT_STUDY


def test_the_credentials_and_the_headers_reach_the_server(api, remote, orthanc):
    orthanc.upload(dicom_bytes("CT_small.dcm"))
    query = {"Uri": "/studies", "Arguments": {"PatientID": "1CT1"}}
    assert len(post(api, "/dicom-web/servers/remote/qido", query).json()) == 1
    # The header given with one request counts as the server's.
    put(api, "remote", {"Url": f"{orthanc.url}/dicom-web/", "Username": USER, "Password": PASSWORD})
    without = post(api, "/dicom-web/servers/remote/qido", query)
    assert without.status_code == 500 and "answered HTTP 403" in without.json()["Details"]
    assert len(post(api, "/dicom-web/servers/remote/qido", query | {"HttpHeaders": TENANT}).json()) == 1

    wrong = {"Url": f"{orthanc.url}/dicom-web/", "Username": USER, "Password": "wrong", "HttpHeaders": TENANT}
    put(api, "remote", wrong)
    refused = post(api, "/dicom-web/servers/remote/retrieve", {"Resources": [{"Study": CT_STUDY}]})
    assert refused.status_code == 500
    assert "answered HTTP 401 Unauthorized" in refused.json()["Details"]
    job = Job.objects.get(type="DicomWebWadoRetrieveClient")
    assert (job.state, job.error_code, job.content["FunctionErrorCode"]) == ("Failure", 9, 9)


def test_a_server_out_of_reach_fails_the_job_with_the_reason(api, remote, orthanc, queue):
    port = free_port()
    put(api, "gone", {"Url": f"http://127.0.0.1:{port}/dicom-web/"})
    study = upload(api, dicom_bytes("CT_small.dcm")).json()["ParentStudy"]
    job = dicomweb_jobs.start_stow(servers.get("gone"), [study])
    run_queued_jobs()
    shown = api.get(f"/jobs/{job.id}").json()
    assert (shown["State"], shown["ErrorCode"], shown["ErrorDescription"]) == (
        "Failure",
        9,
        "Error in the network protocol",
    )
    assert shown["ErrorDetails"] == f"Cannot reach http://127.0.0.1:{port}/dicom-web/studies: connection refused"
    assert shown["Content"]["FunctionErrorCode"] == 9 and shown["Content"]["InstancesCount"] == "1"
    searched = post(api, "/dicom-web/servers/gone/qido", {"Uri": "/studies"})
    assert searched.status_code == 500 and "connection refused" in searched.json()["Details"]
    # The server back (here: its address corrected), the failed job is resubmitted and succeeds.
    put(
        api, "gone", {"Url": f"{orthanc.url}/dicom-web/", "Username": USER, "Password": PASSWORD, "HttpHeaders": TENANT}
    )
    assert post(api, f"/jobs/{job.id}/resubmit", {}).status_code == 200
    run_queued_jobs()
    assert api.get(f"/jobs/{job.id}").json()["State"] == "Success"
    assert len(orthanc.get("/instances")) == 1


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    """OpenSSL's own web server (`s_server -WWW`, files of its folder over HTTPS) with a
    self-signed certificate for 127.0.0.1. (Orthanc 1.10.1's HTTPS, Debian's build, ends on a
    segmentation fault at its first TLS handshake here; a whole Pharos takes half a minute.)"""
    import subprocess

    from tests.dicom_peers import wait_for_port
    from tests.tools import require_tool

    require_tool("openssl")
    folder = tmp_path_factory.mktemp("https")
    key, certificate = folder / "key.pem", folder / "certificate.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    (folder / "studies.json").write_text(json.dumps([{"0020000D": {"vr": "UI", "Value": [CT_STUDY]}}]))
    port = free_port()
    process = subprocess.Popen(
        ["openssl", "s_server", "-quiet", "-WWW", "-accept", str(port), "-cert", str(certificate), "-key", str(key)],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, process)
        yield port, certificate
    finally:
        process.terminate()
        process.wait()


def test_https_checks_the_server_certificate(api, https_server, settings):
    port, certificate = https_server
    put(api, "secure", {"Url": f"https://127.0.0.1:{port}/"})
    untrusted = post(api, "/dicom-web/servers/secure/get", {"Uri": "/studies.json"})
    assert untrusted.status_code == 500
    assert "its certificate is not trusted" in untrusted.json()["Details"]
    settings.PHAROS_HTTPS_CA_CERTIFICATES = str(certificate)
    answer = post(api, "/dicom-web/servers/secure/get", {"Uri": "/studies.json"})
    assert answer.status_code == 200 and json.loads(answer.content)[0]["0020000D"]["Value"] == [CT_STUDY]
    settings.PHAROS_HTTPS_CA_CERTIFICATES, settings.PHAROS_HTTPS_VERIFY_PEERS = "", False
    assert post(api, "/dicom-web/servers/secure/get", {"Uri": "/studies.json"}).status_code == 200
