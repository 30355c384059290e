"""REST for other modalities, end to end: echo, store jobs through Redis and a worker, query and
retrieve against DCMTK's dcmqrscp, C-GET, and a worker killed in the middle of a job."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
from django.db import connection
from pynetdicom import AE, AllStoragePresentationContexts, evt

from dicomnet.models import Job
from explorer import storage
from explorer.ingest import Origin, store_instance
from explorer.models import Instance
from tests.conftest import make_image, run_queued_jobs
from tests.dicom_peers import child_processes, free_port, modality, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


def post(api, url, body=None):
    return api.post(url, data=json.dumps(body if body is not None else {}), content_type="application/json")


def a_study(count, study="1.2.826.0.1.3680043.8.498.77", series="1.2.826.0.1.3680043.8.498.78"):
    ids = []
    for number in range(1, count + 1):
        data = make_image(8, os.urandom(128), StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number)
        ids.append(store_instance(data, Origin()).ids)
    return ids[0][1]  # the study's public id


class SlowCollector:
    """A storage SCP that takes its time with each instance, so a job can be caught running."""

    def __init__(self, delay=0.0):
        self.delay, self.received = delay, {}
        self.port = free_port()
        ae = AE(ae_title="SLOW")
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
        self.server = ae.start_server(
            ("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self.on_store)]
        )

    def on_store(self, event):
        time.sleep(self.delay)  # the slowness is what the tests need: a job still running when they act
        self.received[event.dataset.SOPInstanceUID] = event.dataset.PixelData
        return 0x0000


@pytest.fixture
def slow_peer():
    peer = SlowCollector()
    yield peer
    peer.server.shutdown()


def test_echo_ok_and_to_a_closed_port(api, dicom_server):
    from tests.dicom_peers import port_of

    modality("PHAROS", port_of(dicom_server))
    assert post(api, "/modalities/pharos/echo").json() == {}
    modality("NOPE", free_port())
    response = post(api, "/modalities/nope/echo")
    assert response.status_code == 500
    assert response.json()["OrthancStatus"] == 9
    assert 'connecting to AET "NOPE"' in response.json()["Details"]


def test_sending_a_study_of_fifty_instances_as_a_job(api, queue, slow_peer):
    modality("SLOW", slow_peer.port)
    study = a_study(50)
    answer = post(api, "/modalities/slow/store", {"Resources": [study], "Asynchronous": True}).json()
    assert api.get(answer["Path"]).json()["State"] == "Pending"
    run_queued_jobs()
    job = api.get(answer["Path"]).json()
    assert (job["State"], job["Progress"], job["Type"]) == ("Success", 100, "DicomModalityStore")
    assert job["Content"]["InstancesCount"] == 50 and job["Content"]["FailedInstancesCount"] == 0
    assert job["Content"]["ParentResources"] == [study]
    assert len(slow_peer.received) == 50
    for instance in Instance.objects.all():
        assert (
            slow_peer.received[instance.sop_instance_uid]
            == pydicom.dcmread(storage.path_for(instance.file_uuid)).PixelData
        )


def test_a_synchronous_store_answers_the_content(api, slow_peer):
    modality("SLOW", slow_peer.port)
    study = a_study(2)
    body = api.post("/modalities/slow/store", data=study, content_type="text/plain").json()
    assert body["InstancesCount"] == 2 and body["RemoteAet"] == "SLOW"


def test_query_and_retrieve_from_a_remote_pacs(api, dcmqrscp, dicom_server):
    from tests.dicom_peers import port_of

    modality("PHAROS", port_of(dicom_server))  # dcmqrscp sends to us as a known modality
    answer = post(
        api,
        f"/modalities/{dcmqrscp.name}/query",
        {"Level": "Study", "Query": {"PatientName": "Compressed*", "SeriesDescription": "x", "StudyDate": ""}},
    ).json()
    query = answer["Path"]
    assert api.get(f"{query}/dropped-keys").json() == ["SeriesDescription"]
    answers = api.get(f"{query}/answers?expand&simplify").json()
    assert sorted(a["PatientName"] for a in answers) == ["CompressedSamples^CT1", "CompressedSamples^MR1"]
    # Orthanc 1.10.1: the level and the modality are plain text, the query is shown as sent,
    # keys by tag in its full format (?short and ?simplify as for tags).
    level = api.get(f"{query}/level")
    assert (level["Content-Type"], level.content) == ("text/plain", b"Study")
    assert api.get(f"{query}/modality").content == dcmqrscp.name.encode()
    assert api.get(f"{query}/query").json() == {
        "0008,0020": {"Name": "StudyDate", "Type": "String", "Value": ""},
        "0008,103e": {"Name": "SeriesDescription", "Type": "String", "Value": "x"},
        "0010,0010": {"Name": "PatientName", "Type": "String", "Value": "Compressed*"},
    }
    assert api.get(f"{query}/query?short").json() == {"0008,0020": "", "0008,103e": "x", "0010,0010": "Compressed*"}
    assert api.get(f"{query}/query?simplify").json() == {
        "PatientName": "Compressed*", "SeriesDescription": "x", "StudyDate": ""
    }
    ct = next(i for i, a in enumerate(answers) if a["PatientName"].endswith("CT1"))
    content = api.get(f"{query}/answers/{ct}/content?simplify").json()
    assert content["QueryRetrieveLevel"] == "STUDY"
    retrieved = post(api, f"{query}/answers/{ct}/retrieve", {"TargetAet": "PHAROS", "Synchronous": True})
    assert retrieved.status_code == 200, retrieved.content
    assert Instance.objects.filter(sop_instance_uid="1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322").exists()

    series = post(api, f"/modalities/{dcmqrscp.name}/query", {"Level": "Series", "Query": {"Modality": "M?"}}).json()
    assert [a["Modality"] for a in api.get(f"{series['Path']}/answers?expand&simplify").json()] == ["MR"]


def test_get_from_a_remote_pacs(api, dcmqrscp):
    body = {"Level": "Study", "Resources": [{"StudyInstanceUID": "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"}]}
    response = post(api, f"/modalities/{dcmqrscp.name}/get", body)
    assert response.status_code == 200, response.content
    assert Instance.objects.filter(sop_instance_uid__startswith="1.3.6.1.4.1.5962.1.1.4").exists()


def kill_with_children(pid):
    """SIGKILL a worker and the work horse it forked for the job (RQ gives it its own session)."""
    for victim in [pid, *child_processes(pid)]:
        os.kill(victim, signal.SIGKILL)


def worker_environment():
    """The environment a worker process needs to reach this test's database and Redis."""
    from django.conf import settings

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return dict(
        os.environ,
        DATABASE_URL=url,
        REDIS_URL=settings.REDIS_URL,
        PHAROS_DATA_DIR=str(settings.STORAGE_DIR.parent),  # the test's storage area
        PHAROS_JOB_HEARTBEAT_SECONDS="1",
    )


def test_a_worker_killed_mid_job_leaves_it_failed_and_resubmitting_completes(api, queue, settings):
    settings.PHAROS_JOB_DEAD_AFTER_SECONDS = 3
    peer = SlowCollector(delay=0.3)
    try:
        modality("SLOW", peer.port)
        study = a_study(20)
        answer = post(api, "/modalities/slow/store", {"Resources": [study], "Asynchronous": True}).json()
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default", "--burst"],
            cwd=ROOT,
            env=worker_environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: peer.received or worker.poll() is not None, 60, "the job never started")
        assert worker.poll() is None, "the worker stopped before its job sent anything"
        kill_with_children(worker.pid)
        worker.wait()
        assert api.get(answer["Path"]).json()["State"] == "Running"
        wait_until(
            lambda: api.get(answer["Path"]).json()["State"] != "Running", 30, "the dead worker's job kept running"
        )
        job = api.get(answer["Path"]).json()
        assert job["State"] == "Failure"
        assert "worker running this job stopped" in job["ErrorDetails"]

        peer.delay = 0
        assert post(api, f"{answer['Path']}/resubmit").json() == {}
        run_queued_jobs()
        job = api.get(answer["Path"]).json()
        assert (job["State"], job["Progress"]) == ("Success", 100)
        assert len(peer.received) == 20
    finally:
        peer.server.shutdown()


def test_cancel_a_running_store_job(api, queue):
    import threading

    from dicomnet import jobs

    peer = SlowCollector(delay=0.2)
    try:
        modality("SLOW", peer.port)
        study = a_study(30)
        answer = post(api, "/modalities/slow/store", {"Resources": [study], "Asynchronous": True}).json()
        queue.empty()
        job_id = answer["ID"]

        def work():
            jobs.run(job_id)
            connection.close()

        thread = threading.Thread(target=work)
        thread.start()
        wait_until(lambda: peer.received, 30, "the job never sent anything")
        assert post(api, f"/jobs/{job_id}/cancel").json() == {}
        thread.join(timeout=30)
        job = Job.objects.get(pk=job_id)
        assert (job.state, job.error_code) == (Job.FAILURE, 37)
        assert len(peer.received) < 30
    finally:
        peer.server.shutdown()
