"""dicomnet/peers/jobs.py: POST /peers/{name}/store as a job (Orthanc's OrthancPeerStore), run
within the request or by a worker, with Orthanc's content and errors. The peer here is a live
Pharos (Django's live server, logged in as a user of its own): Pharos receiving from itself
answers AlreadyStored, which is a success; tests/test_peers_orthanc.py sends to a real Orthanc."""

import base64
import json

import pytest

from dicomnet import job_pages, jobs
from dicomnet.models import Export, Job, OrthancPeer
from explorer import rights
from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, upload
from tests.dicom_peers import free_port

pytestmark = pytest.mark.django_db(transaction=True)
CT_SMALL_SIZE = len(dicom_bytes(CT_SMALL))


@pytest.fixture
def peer_url(live_server):
    return live_server.url.replace("localhost", "127.0.0.1")


@pytest.fixture
def peer(api, peer_url, django_user_model):
    """The live server as the peer "self", logged in as bob (an operator: he may upload)."""
    bob = django_user_model.objects.create_user("bob", password="builder")
    bob.groups.add(rights.group_named(rights.OPERATOR))
    assert upload(api, dicom_bytes(CT_SMALL)).status_code == 200
    put(api, "self", [peer_url, "bob", "builder"])
    return OrthancPeer.objects.get(name="self")


def put(api, name, body):
    response = api.put(f"/peers/{name}", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content


def store(api, body, name="self"):
    return api.post(f"/peers/{name}/store", data=json.dumps(body), content_type="application/json")


def test_a_synchronous_send_answers_orthancs_content(api, peer, peer_url):
    response = store(api, [CT_SMALL_IDS["study"]])
    assert response.status_code == 200, response.content
    assert response.json() == {
        "Compress": False,
        "Description": "REST API",
        "FailedInstancesCount": 0,
        "InstancesCount": 1,
        "ParentResources": [CT_SMALL_IDS["study"]],
        "Peer": [peer_url + "/", "bob", ""],
        "Size": str(CT_SMALL_SIZE),
        "SizeMB": 0,
    }
    job = Job.objects.get(type="OrthancPeerStore")
    assert job.parameters == {"Peer": "self", "Resources": [CT_SMALL_IDS["study"]], "Compress": False}
    assert "builder" not in json.dumps(job.parameters) + json.dumps(job.content)


def test_compressed_and_transcoded(api, peer):
    # The peer decodes the gzip body (explorer/content_encoding.py): else it would refuse it.
    compressed = store(api, {"Resources": [CT_SMALL_IDS["instance"]], "Compress": True}).json()
    assert compressed["Compress"] is True and 0 < int(compressed["Size"]) < CT_SMALL_SIZE
    syntax = "1.2.840.10008.1.2.4.80"  # JPEG-LS lossless
    transcoded = store(api, {"Resources": [CT_SMALL_IDS["instance"]], "Transcode": syntax}).json()
    assert transcoded["Transcode"] == syntax and int(transcoded["Size"]) < CT_SMALL_SIZE


def test_an_asynchronous_send_is_a_job(api, peer, queue):
    response = store(api, {"Resources": [CT_SMALL_IDS["patient"]], "Synchronous": False, "Priority": 3})
    job_id = response.json()["ID"]
    assert response.json() == {"ID": job_id, "Path": f"/jobs/{job_id}"}
    jobs.execute(job_id)  # what a worker runs (tests/test_peers_orthanc.py: a started server's)
    job = api.get(f"/jobs/{job_id}").json()
    assert (job["Type"], job["State"], job["Priority"], job["Progress"]) == ("OrthancPeerStore", "Success", 3, 100)
    assert job["Content"]["InstancesCount"] == 1
    row = job_pages.job_row(Job.objects.get(pk=job_id))
    assert (row.type_label, row.summary) == ("Send to a peer", "1 resource to self")


def test_the_extra_headers_are_sent(api, peer, peer_url):
    # The live server lets in whoever its Authorization header names: here, a header of the peer's.
    token = base64.b64encode(b"bob:builder").decode()
    put(api, "by-header", {"Url": peer_url, "HttpHeaders": {"Authorization": f"Basic {token}"}})
    response = store(api, [CT_SMALL_IDS["instance"]], "by-header")
    assert response.status_code == 200, response.content
    assert response.json()["Peer"] == {
        "HttpHeaders": {"Authorization": None},
        "Pkcs11": False,
        "Timeout": 0,
        "Url": peer_url + "/",
    }


def test_a_peer_that_refuses_the_credentials(api, peer, peer_url):
    put(api, "wrong", [peer_url, "bob", "not-his-password"])
    response = store(api, [CT_SMALL_IDS["instance"]], "wrong")
    assert response.status_code == 500
    assert response.json()["OrthancError"] == "Error in the network protocol"
    assert "answered 401" in response.json()["Details"]


def test_an_unreachable_peer_fails_the_job_with_what_it_was_to_send(api, peer, queue):
    put(api, "down", [f"http://127.0.0.1:{free_port()}/"])
    job_id = store(api, {"Resources": [CT_SMALL_IDS["series"]], "Synchronous": False}, "down").json()["ID"]
    jobs.execute(job_id)
    job = api.get(f"/jobs/{job_id}").json()
    assert (job["State"], job["ErrorCode"], job["ErrorDescription"]) == ("Failure", 9, "Error in the network protocol")
    assert "Cannot reach the peer down" in job["ErrorDetails"]
    assert job["Content"]["InstancesCount"] == 1 and job["Content"]["ParentResources"] == [CT_SMALL_IDS["series"]]
    # Resubmitted once the peer is there, it succeeds.
    put(api, "down", [peer.url, "bob", "builder"])
    assert api.post(f"/jobs/{job_id}/resubmit").status_code == 200
    jobs.execute(job_id)
    assert api.get(f"/jobs/{job_id}").json()["State"] == "Success"


def test_a_peer_deleted_before_the_job_runs(api, peer, queue):
    job_id = store(api, {"Resources": [CT_SMALL_IDS["instance"]], "Synchronous": False}).json()["ID"]
    assert api.delete("/peers/self").status_code == 200
    jobs.execute(job_id)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["State"] == "Failure" and job["ErrorDetails"] == "No peer with symbolic name: self"


def test_an_instance_deleted_meanwhile_is_a_failed_instance(api, peer, queue):
    from dicomnet.peers import jobs as peer_jobs
    from explorer import storage
    from explorer.models import Instance

    job = peer_jobs.start_store(peer, [CT_SMALL_IDS["study"]], synchronous=False)
    storage.delete(Instance.objects.get().file_uuid)
    finished = jobs.execute(job.id)
    assert finished.state == Job.FAILURE and finished.content["FailedInstancesCount"] == 1
    assert "1 of 1 instances could not be sent to self" in finished.error_details


def test_permissive_and_the_export_log(api, peer, settings):
    from explorer import storage
    from explorer.models import Instance

    settings.PHAROS_LOG_EXPORTED_RESOURCES = True
    storage.delete(Instance.objects.get().file_uuid)
    response = store(api, {"Resources": [CT_SMALL_IDS["instance"]], "Permissive": True})
    assert response.status_code == 200 and response.json()["FailedInstancesCount"] == 1
    assert list(Export.objects.values_list("remote_modality", "public_id")) == [("self", CT_SMALL_IDS["instance"])]


def test_the_audit_trail_names_the_peer(api, peer):
    from explorer.models import AuditEvent

    store(api, [CT_SMALL_IDS["instance"]])
    event = AuditEvent.objects.filter(action="send").get()
    assert event.username == "alice" and "to the peer self" in event.detail


def test_store_straight_passes_the_file_on_as_it_is(api, peer):
    response = api.post("/peers/self/store-straight", data=dicom_bytes(CT_SMALL), content_type="application/dicom")
    assert response.status_code == 200, response.content
    assert response.json()["ID"] == CT_SMALL_IDS["instance"] and response.json()["Status"] == "AlreadyStored"
    # Not a DICOM file: the peer refuses it, and the answer says so.
    response = api.post("/peers/self/store-straight", data=b"not DICOM", content_type="application/dicom")
    assert response.status_code == 500
    assert response.json()["Details"].startswith("Cannot send DICOM to remote peer: self (")


def test_the_jobs_page_names_the_peer(api, peer, queue):
    job_id = store(api, {"Resources": [CT_SMALL_IDS["study"]], "Synchronous": False}).json()["ID"]
    page = job_pages.job_page(Job.objects.get(pk=job_id))
    assert ("Peer", "self") in page.parameters and page.resources_title == "What is sent"
    assert page.resources[0].url.endswith(CT_SMALL_IDS["study"])
