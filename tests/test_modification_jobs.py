"""The jobs that change stored data (dicomnet/modification_jobs.py) and their REST routes
(dicomnet/api/modifications.py): synchronous and asynchronous modify and anonymize, in a real
worker process; progress in /jobs; cancel and failure leave nothing; merge, split and the bulk
operations. The expected answers were read from Orthanc 1.10.1 on the same files."""

import subprocess
import sys

import pydicom
import pytest

from dicomnet import job_pages, modification_jobs
from dicomnet.models import Job
from explorer import ingest, levels, storage
from explorer.models import Instance, Series, Study
from tests.conftest import CT_SMALL_IDS, dicom_bytes, make_image, run_queued_jobs, upload
from tests.dicom_peers import wait_until
from tests.pharos_server import ROOT
from tests.test_api_remote import worker_environment

pytestmark = pytest.mark.django_db(transaction=True)

CT = CT_SMALL_IDS
MR_STUDY = "7b5f82d7-011e7118-ffac48a8-9204a296-775e6f54"  # MR_small's study
PIXELS = bytes(range(256)) * 32  # a 64×64 16-bit image


def post(api, path, body=None):
    return api.post(path, data=body if body is not None else {}, content_type="application/json")


def a_study(count, series=3):
    """A study of `count` 64×64 slices over `series` series, stored: its public id."""
    study_uid = pydicom.uid.generate_uid()
    series_uids = [pydicom.uid.generate_uid() for _ in range(series)]
    for i in range(count):
        data = make_image(
            64,
            PIXELS,
            PatientID="SLICES",
            StudyInstanceUID=study_uid,
            SeriesInstanceUID=series_uids[i % series],
            InstanceNumber=i + 1,
            SOPClassUID="1.2.840.10008.5.1.4.1.1.2",
        )
        result = ingest.store_instance(data, ingest.Origin("RestApi"))
    return result.ids[1]


def start_worker():
    """A real worker process (`manage.py rqworker default --burst`): runs what is queued, then exits."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default", "--burst"],
        cwd=ROOT,
        env=worker_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def job_json(api, path):
    return api.get(path).json()


def stored_files():
    return sorted(p.name for p in storage.root().rglob("*.dcm"))


# --- synchronous and asynchronous -----------------------------------------------------------


def test_a_synchronous_change_answers_the_job_content_and_is_listed_in_jobs(ct, queue):
    content = post(ct, f"/studies/{CT['study']}/anonymize", {"Synchronous": True}).json()
    assert content["IsAnonymization"] is True and content["Type"] == "Study"
    jobs = ct.get("/jobs?expand").json()
    assert [(j["Type"], j["State"], j["Progress"]) for j in jobs] == [("ResourceModification", "Success", 100)]
    assert jobs[0]["Content"] == content


def test_an_asynchronous_change_runs_in_a_real_worker(ct, queue):
    answer = post(ct, f"/series/{CT['series']}/modify", {"Asynchronous": True, "Replace": {"SeriesNumber": "7"}})
    assert sorted(answer.json()) == ["ID", "Path"]
    path = answer.json()["Path"]
    assert path == f"/jobs/{answer.json()['ID']}"
    assert job_json(ct, path)["State"] == "Pending"
    assert start_worker().wait(timeout=120) == 0
    job = job_json(ct, path)
    assert (job["State"], job["Progress"], job["Type"]) == ("Success", 100, "ResourceModification")
    content = job["Content"]
    assert content["Type"] == "Series" and content["PatientID"] == CT["patient"]
    assert ct.get(content["Path"]).json()["MainDicomTags"]["SeriesNumber"] == "7"
    assert ct.get(content["Path"]).json()["ModifiedFrom"] == CT["series"]


def test_submit_change_queues_a_job_the_jobs_pages_show(ct, queue, user):
    job = modification_jobs.submit_change(levels.STUDY, CT["study"], {"KeepSource": False}, True, username="alice")
    assert (job.type, job.state, job.parameters["Username"]) == ("ResourceModification", Job.PENDING, "alice")
    assert job_pages.job_row(job).type_label == "Anonymize"
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == Job.SUCCESS
    assert not Study.objects.filter(public_id=CT["study"]).exists()
    page = job_pages.job_page(job)
    assert page.resources_title == "Source and result"
    result = page.resources[-1]
    assert result.label.startswith("Result (study)") and result.url == f"/ui/studies/{job.content['ID']}"
    assert Instance.objects.get().http_username == "alice"


def test_a_bad_body_is_refused_before_any_job(ct, queue):
    answer = post(ct, f"/studies/{CT['study']}/modify", {"Replace": {"StudyInstanceUID": "1.2.3"}})
    assert answer.status_code == 400
    assert answer.json()["Details"] == (
        'Marking tag "StudyInstanceUID" as to be replaced requires the "Force" option to be set to true'
    )
    assert post(ct, f"/studies/{CT['study']}/modify", {"Priority": "high"}).status_code == 400
    assert not Job.objects.exists()


def test_the_modify_right_is_needed(ct, client, django_user_model):
    from tests.conftest import basic_header

    django_user_model.objects.create_user("bob", password="builder")
    bob = type(ct)(HTTP_AUTHORIZATION=basic_header("bob", "builder"))
    assert post(bob, f"/studies/{CT['study']}/modify").status_code == 403
    assert post(bob, "/tools/bulk-delete", {"Resources": [CT["study"]]}).status_code == 403


# --- 600 slices in a worker: progress, cancel, nothing left ----------------------------------


def test_600_slices_anonymized_in_a_worker_with_progress_and_a_cancelled_modify_leaves_nothing(api, queue, settings):
    settings.PHAROS_JOB_HEARTBEAT_SECONDS = 1
    study = a_study(600)
    files = stored_files()

    # Cancelled while it runs: nothing of it remains.
    path = post(api, f"/studies/{study}/modify", {"Asynchronous": True, "Replace": {"StudyID": "X"}}).json()["Path"]
    worker = start_worker()
    wait_until(lambda: 0 < job_json(api, path)["Progress"] < 100, 120, "no progress shown in /jobs")
    assert job_json(api, path)["State"] == "Running"
    assert post(api, f"{path}/cancel").json() == {}
    assert worker.wait(timeout=120) == 0
    job = job_json(api, path)
    assert (job["State"], job["ErrorCode"], job["ErrorDescription"]) == ("Failure", 37, "This job was canceled")
    assert Instance.objects.count() == 600 and Study.objects.count() == 1 and Series.objects.count() == 3
    assert stored_files() == files

    # Anonymized to the end.
    path = post(api, f"/studies/{study}/anonymize", {"Asynchronous": True}).json()["Path"]
    assert start_worker().wait(timeout=300) == 0
    job = job_json(api, path)
    assert (job["State"], job["Progress"]) == ("Success", 100), job
    assert (job["Content"]["InstancesCount"], job["Content"]["FailedInstancesCount"]) == (600, 0)
    new = Study.objects.get(public_id=job["Content"]["ID"])
    assert (new.anonymized_from, new.series.count()) == (study, 3)
    assert Instance.objects.filter(series__study=new).count() == 600


def test_a_job_that_fails_in_a_worker_leaves_nothing(api, queue):
    study = a_study(40, series=1)
    files = stored_files()
    broken = Instance.objects.order_by("id")[25]
    storage.delete(broken.file_uuid)
    path = post(api, f"/studies/{study}/modify", {"Asynchronous": True, "Replace": {"StudyID": "X"}}).json()["Path"]
    assert start_worker().wait(timeout=120) == 0
    job = job_json(api, path)
    assert (job["State"], job["ErrorCode"], job["ErrorDescription"]) == ("Failure", 2018, "Cannot store an instance")
    assert job["Content"] == {
        "Description": "REST API",
        "FailedInstancesCount": 0,
        "InstancesCount": 40,
        "IsAnonymization": False,
    }
    assert Instance.objects.count() == 40 and Study.objects.count() == 1
    assert len(stored_files()) == len(files) - 1


# --- merge and split ------------------------------------------------------------------------


def test_merge_a_study_into_another_as_orthanc(ct, queue):
    upload(ct, dicom_bytes("MR_small.dcm"))
    answer = post(ct, f"/studies/{CT['study']}/merge", {"Resources": [MR_STUDY], "KeepSource": True})
    # Orthanc 1.10.1's answer.
    assert answer.json() == {
        "Description": "REST API",
        "FailedInstancesCount": 0,
        "InstancesCount": 1,
        "TargetStudy": CT["study"],
    }
    target = Study.objects.get(public_id=CT["study"])
    assert target.series.count() == 2
    merged = Instance.objects.filter(series__study=target, series__modality="MR").get()
    assert merged.dataset["00100010"]["Value"][0]["Alphabetic"] == "CompressedSamples^CT1"
    assert Study.objects.filter(public_id=MR_STUDY).exists()  # KeepSource
    # Without KeepSource, the source goes (Orthanc's default for merge).
    post(ct, f"/studies/{CT['study']}/merge", {"Resources": [MR_STUDY]})
    assert not Study.objects.filter(public_id=MR_STUDY).exists()


@pytest.mark.parametrize(
    ("body", "status", "details"),
    [
        ({}, 400, "List of strings expected in field: Resources"),
        ({"Resources": ["nope"]}, 404, "Cannot find this resource: nope"),
        ({"Resources": [CT["study"]]}, 404, f"Cannot merge a study into the same study: {CT['study']}"),
        ({"Resources": [CT["series"]]}, 404, f"Cannot merge series {CT['series']} into its parent study {CT['study']}"),
    ],
)
def test_merge_refusals_as_orthanc(ct, body, status, details):
    answer = post(ct, f"/studies/{CT['study']}/merge", body)
    assert (answer.status_code, answer.json()["Details"]) == (status, details)


def test_split_a_series_out_as_orthanc(ct, queue):
    answer = post(ct, f"/studies/{CT['study']}/split", {"Series": [CT["series"]], "Replace": {"PatientName": "SPLIT"}})
    content = answer.json()
    assert sorted(content) == [
        "Description", "FailedInstancesCount", "InstancesCount", "TargetStudy", "TargetStudyUID",
    ]  # fmt: skip
    assert (content["Description"], content["InstancesCount"]) == ("REST API", 1)
    new = Study.objects.get(public_id=content["TargetStudy"])
    assert new.study_instance_uid == content["TargetStudyUID"]
    assert new.patient_name == "SPLIT"
    # Orthanc deletes the source by default: the emptied study goes.
    assert not Study.objects.filter(public_id=CT["study"]).exists()


@pytest.mark.parametrize(
    ("body", "status", "details"),
    [
        ({}, 400, 'Both the "Series" and the "Instances" fields are missing'),
        ({"Series": ["nope"]}, 404, "This series does not belong to the study to be split: nope"),
        (
            {"Series": [CT["series"]], "Replace": {"Modality": "X"}},
            400,
            "Cannot modify the following tag while splitting a study (not in the patient/study modules): "
            "Modality (0008,0060)",
        ),
    ],
)
def test_split_refusals_as_orthanc(ct, body, status, details):
    answer = post(ct, f"/studies/{CT['study']}/split", body)
    assert (answer.status_code, answer.json()["Details"]) == (status, details)
    assert post(ct, "/studies/nope/split", {"Series": []}).json()["Details"] == "Cannot split unknown study nope"


# --- bulk -----------------------------------------------------------------------------------


def test_bulk_modify_at_instance_level_as_orthanc(ct, queue):
    content = post(ct, "/tools/bulk-modify", {"Resources": [CT["series"]], "Replace": {"SeriesDescription": "B"}})
    content = content.json()
    # Orthanc 1.10.1: the level is Instance (no identifier replaced); the new instance stays in
    # its series, study and patient, listed instance first.
    assert [(r["Type"], r["ID"]) for r in content["Resources"][1:]] == [
        ("Series", CT["series"]),
        ("Study", CT["study"]),
        ("Patient", CT["patient"]),
    ]
    assert content["Resources"][0]["Type"] == "Instance"
    assert content["Resources"][0]["Path"] == f"/instances/{content['Resources'][0]['ID']}"
    assert (content["InstancesCount"], content["IsAnonymization"]) == (1, False)
    assert Series.objects.get(public_id=CT["series"]).instances.count() == 2


def test_bulk_anonymize(ct, queue):
    upload(ct, dicom_bytes("MR_small.dcm"))
    content = post(ct, "/tools/bulk-anonymize", {"Resources": [CT["study"], MR_STUDY]}).json()
    assert (content["InstancesCount"], content["IsAnonymization"]) == (2, True)
    assert [r["Type"] for r in content["Resources"]].count("Patient") == 2


def test_bulk_content_and_delete(ct):
    upload(ct, dicom_bytes("MR_small.dcm"))
    answer = post(ct, "/tools/bulk-content", {"Resources": [CT["study"], "nope"], "Level": "Series"}).json()
    assert [(a["ID"], a["Type"]) for a in answer] == [(CT["series"], "Series")]
    assert set(answer[0]["Metadata"]) == {"LastUpdate", "RemoteAET"}
    plain = post(ct, "/tools/bulk-content", {"Resources": [CT["instance"], CT["patient"]], "Metadata": False}).json()
    assert [a["Type"] for a in plain] == ["Instance", "Patient"] and "Metadata" not in plain[0]
    up = post(ct, "/tools/bulk-content", {"Resources": [CT["instance"]], "Level": "Patient"}).json()
    assert [a["ID"] for a in up] == [CT["patient"]]
    # Orthanc 1.10.1's refusal of a body without Resources.
    refused = post(ct, "/tools/bulk-delete", {})
    assert (refused.status_code, refused.json()["Details"]) == (400, "List of strings expected in field: Resources")
    deleted = post(ct, "/tools/bulk-delete", {"Resources": [CT["study"], MR_STUDY, "nope"]})
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert not Study.objects.exists()


def test_the_job_page_links_to_the_new_study(ct, queue, browser):
    content = post(ct, f"/studies/{CT['study']}/modify", {"Replace": {"StudyDescription": "PAGE"}}).json()
    job = Job.objects.get()
    html = browser.get(f"/ui/jobs/{job.id}").content.decode()
    assert '<h1 id="job-title">Modify</h1>' in html
    assert f'href="/ui/studies/{content["ID"]}"' in html
    assert f'href="/ui/studies/{CT["study"]}"' in html
    listing = browser.get("/ui/jobs").content.decode()
    assert f"Study {CT['study'][:8]}…" in listing


def test_a_paused_change_leaves_nothing_and_starts_again_when_resumed(api, queue, monkeypatch):
    import threading

    from dicomnet import jobs
    from tests.test_jobs import run_in_thread

    monkeypatch.setattr(jobs.Reporter, "INTERVAL", 0)
    study = a_study(60)
    job = modification_jobs.submit_change(levels.STUDY, study, {"Replace": {"StudyID": "P"}}, False)
    queue.empty()
    # The 20th store waits until the job has been asked to pause.
    real_store, stored, reached, paused = ingest.store_instance, [], threading.Event(), threading.Event()

    def store(*args, **kwargs):
        stored.append(1)
        if len(stored) == 20:
            reached.set()
            paused.wait(60)
        return real_store(*args, **kwargs)

    monkeypatch.setattr(ingest, "store_instance", store)
    worker = run_in_thread(job)
    assert reached.wait(60), "the job never reached its 20th instance"
    jobs.pause(job)
    paused.set()
    worker.join(timeout=60)
    job.refresh_from_db()
    assert job.state == Job.PAUSED
    assert Instance.objects.count() == 60 and Study.objects.count() == 1
    monkeypatch.setattr(ingest, "store_instance", real_store)
    jobs.resume(job)
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.content["InstancesCount"]) == (Job.SUCCESS, 60)
    assert Instance.objects.count() == 120 and Study.objects.count() == 2
