"""Modify and anonymize a patient, study or series (explorer/resource_changes.py, through REST):
Orthanc 1.10.1's answers, the ModifiedFrom and AnonymizedFrom links, KeepSource, and nothing left
behind by a failure or a stop. The expected answers were read from Orthanc 1.10.1 on the same
files."""

import os

import pydicom
import pytest

from explorer import ingest, levels, resource_changes, storage
from explorer.errors import StorageFailure
from explorer.models import Instance, Patient, Series, Study
from explorer.modification import Modification
from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, make_dicom, upload
from tests.outages import small_tmpfs

pytestmark = pytest.mark.django_db(transaction=True)

CT = CT_SMALL_IDS
# Orthanc 1.10.1's answer to POST /studies/{id}/modify on CT_small, its keys and fixed values.
STUDY_ANSWER_KEYS = ["Description", "FailedInstancesCount", "ID", "InstancesCount", "IsAnonymization", "Path",
                     "PatientID", "Type"]  # fmt: skip


def post(api, path, body=None):
    return api.post(path, data=body if body is not None else {}, content_type="application/json")


def a_study(api, count, **tags):
    """A study of `count` small instances in two series, stored; its public id."""
    study_uid = pydicom.uid.generate_uid()
    series = [pydicom.uid.generate_uid(), pydicom.uid.generate_uid()]
    for i in range(count):
        data = make_dicom(StudyInstanceUID=study_uid, SeriesInstanceUID=series[i % 2], InstanceNumber=i + 1, **tags)
        result = ingest.store_instance(data, ingest.Origin("RestApi"))
    return result.ids[1]


def never_stop():
    return False


def no_progress(done, total):
    pass


def test_modify_a_study_answers_as_orthanc_and_keeps_the_source(ct):
    answer = post(ct, f"/studies/{CT['study']}/modify", {"Replace": {"StudyDescription": "CHANGED"}})
    assert answer.status_code == 200
    content = answer.json()
    assert sorted(content) == STUDY_ANSWER_KEYS
    assert content["Description"] == "REST API"
    assert (content["InstancesCount"], content["FailedInstancesCount"], content["IsAnonymization"]) == (1, 0, False)
    assert content["Type"] == "Study" and content["Path"] == f"/studies/{content['ID']}"
    # The patient is unchanged (same PatientID): the answer names the Orthanc patient id.
    assert content["PatientID"] == CT["patient"]
    assert content["ID"] != CT["study"]
    # Orthanc keeps the source by default.
    assert Study.objects.filter(public_id=CT["study"]).exists()
    new = ct.get(content["Path"]).json()
    assert new["MainDicomTags"]["StudyDescription"] == "CHANGED"
    assert new["ModifiedFrom"] == CT["study"]
    assert "AnonymizedFrom" not in new
    assert ct.get(f"/studies/{content['ID']}/metadata").json() == ["ModifiedFrom", "LastUpdate"]
    # The patient is the same resource: it gets no link.
    assert "ModifiedFrom" not in ct.get(f"/patients/{CT['patient']}").json()
    series = ct.get(f"/studies/{content['ID']}/series").json()[0]
    assert series["ModifiedFrom"] == CT["series"]
    instance = ct.get(f"/series/{series['ID']}/instances").json()[0]
    assert instance["ModifiedFrom"] == CT["instance"]
    assert ct.get(f"/instances/{instance['ID']}/metadata/ModifiedFrom").content.decode() == CT["instance"]
    names = ct.get(f"/instances/{instance['ID']}/metadata").json()
    assert names[names.index("RemoteAET") + 1] == "ModifiedFrom"  # Orthanc's order: metadata 3, 5, 8
    assert ct.get(f"/instances/{instance['ID']}/metadata/Origin").content == b"RestApi"


def test_anonymize_a_study_links_every_level(ct):
    content = post(ct, f"/studies/{CT['study']}/anonymize").json()
    assert content["IsAnonymization"] is True
    assert content["PatientID"] != CT["patient"]
    study = ct.get(content["Path"]).json()
    assert study["AnonymizedFrom"] == CT["study"]
    assert study["PatientMainDicomTags"]["PatientName"].startswith("Anonymized")
    patient = ct.get(f"/patients/{content['PatientID']}").json()
    assert patient["AnonymizedFrom"] == CT["patient"]
    assert ct.get(f"/patients/{content['PatientID']}/metadata?expand").json()["AnonymizedFrom"] == CT["patient"]


def test_keep_source_false_deletes_the_source(ct):
    content = post(ct, f"/series/{CT['series']}/modify", {"Replace": {"SeriesDescription": "X"}, "KeepSource": False})
    assert content.status_code == 200, content.content
    assert not Series.objects.filter(public_id=CT["series"]).exists()
    assert not Instance.objects.filter(public_id=CT["instance"]).exists()
    # The new series is in the same study, which stays.
    assert Study.objects.filter(public_id=CT["study"]).exists()
    assert content.json()["Type"] == "Series"
    assert Series.objects.get(public_id=content.json()["ID"]).study.public_id == CT["study"]


def test_a_patient_modified_without_a_new_patient_id_is_refused_as_orthanc_does(ct):
    answer = post(ct, f"/patients/{CT['patient']}/modify", {"Replace": {"PatientName": "X"}})
    assert answer.status_code == 400
    assert answer.json()["Details"] == "When modifying a patient, her PatientID is required to be modified"


def test_an_unknown_resource_or_a_body_not_an_object_as_orthanc(ct):
    answer = post(ct, "/series/nope/anonymize")
    assert answer.status_code == 404
    assert (answer.json()["OrthancStatus"], "Details" in answer.json()) == (17, False)
    answer = post(ct, f"/studies/{CT['study']}/modify", [1])
    assert (answer.status_code, answer.json()["OrthancError"], "Details" in answer.json()) == (
        400,
        "Bad file format",
        False,
    )


def test_modify_a_patient(ct):
    refused = post(ct, f"/patients/{CT['patient']}/modify", {"Replace": {"PatientID": "NEW-ID"}})
    assert refused.status_code == 400
    assert refused.json()["Details"] == (
        'Marking tag "PatientID" as to be replaced requires the "Force" option to be set to true'
    )
    content = post(ct, f"/patients/{CT['patient']}/modify", {"Replace": {"PatientID": "NEW-ID"}, "Force": True}).json()
    assert content["Type"] == "Patient" and content["ID"] == content["PatientID"]
    patient = Patient.objects.get(public_id=content["ID"])
    assert (patient.patient_id, patient.modified_from) == ("NEW-ID", CT["patient"])


def run_change(level, public_id, body, should_stop=never_stop, anonymize=False):
    build = Modification.from_anonymize_body if anonymize else Modification.from_modify_body
    return resource_changes.change_resource(level, public_id, build(level, body), no_progress, should_stop)


class Stop(Exception):
    pass


@pytest.mark.parametrize("threads", [True, False])
def test_a_stop_midway_leaves_nothing(api, settings, monkeypatch, threads):
    study = a_study(api, 40)
    before = set(Instance.objects.values_list("public_id", flat=True))
    files_before = sorted(p.name for p in storage.root().rglob("*.dcm"))
    if not threads:
        monkeypatch.setattr(resource_changes, "THREADS", 100)
    calls = []

    def stop_after_some():
        calls.append(1)
        if Instance.objects.count() >= len(before) + 10:
            raise Stop()
        return False

    with pytest.raises(Stop):
        run_change(levels.STUDY, study, {"Replace": {"StudyDescription": "X"}}, stop_after_some)
    assert set(Instance.objects.values_list("public_id", flat=True)) == before
    assert Study.objects.count() == 1 and Series.objects.count() == 2
    assert sorted(p.name for p in storage.root().rglob("*.dcm")) == files_before


def test_a_full_disk_midway_leaves_nothing_and_the_job_content_tells(api, settings):
    with small_tmpfs("4m") as disk:
        settings.STORAGE_DIR = disk / "storage"
        settings.STORAGE_DIR.mkdir()
        study = a_study(api, 30)
        before = set(Instance.objects.values_list("public_id", flat=True))
        files_before = sorted(p.name for p in storage.root().rglob("*.dcm"))
        # Room for about a dozen copies: the disk fills while the study is being copied.
        pages = max(-(-p.stat().st_size // 4096) for p in storage.root().rglob("*.dcm"))
        free = os.statvfs(disk)
        (disk / "ballast").write_bytes(bytes(max(0, free.f_bavail * free.f_frsize - 12 * pages * 4096)))
        with pytest.raises(StorageFailure) as failure:
            run_change(levels.STUDY, study, {}, anonymize=True)
        assert failure.value.job_content["InstancesCount"] == 30
        assert set(Instance.objects.values_list("public_id", flat=True)) == before
        assert Patient.objects.count() == 1
        assert sorted(p.name for p in storage.root().rglob("*.dcm")) == files_before
        assert not [p for p in storage.root().rglob("*") if p.is_file() and p.suffix != ".dcm"]


def test_permissive_counts_the_failed_instances(api, monkeypatch):
    study = a_study(api, 4)
    instance = Instance.objects.filter(series__study__public_id=study).order_by("id").first()
    storage.delete(instance.file_uuid)  # deleted under the job's feet
    content = run_change(levels.STUDY, study, {"Permissive": True, "Replace": {"StudyID": "9"}})
    assert (content["InstancesCount"], content["FailedInstancesCount"]) == (4, 1)
    with pytest.raises(resource_changes.CannotStoreInstance):
        run_change(levels.STUDY, study, {"Replace": {"StudyID": "9"}})


def test_instances_of_one_study_stay_one_study(api):
    study = a_study(api, 30)
    content = run_change(levels.STUDY, study, {}, anonymize=True)
    new = Study.objects.get(public_id=content["ID"])
    assert new.series.count() == 2
    assert Instance.objects.filter(series__study=new).count() == 30
    assert new.anonymized_from == study


def test_a_study_uploaded_over_rest_is_modified(ct):
    # A second, unrelated study stays untouched.
    upload(ct, dicom_bytes("MR_small.dcm"))
    content = post(ct, f"/studies/{CT['study']}/modify", {"Replace": {"InstitutionName": "Z"}}).json()
    assert Study.objects.count() == 3
    assert content["InstancesCount"] == 1
    assert Instance.objects.count() == 3
    _ = CT_SMALL


def test_transcode_while_modifying(ct):
    jpeg_ls = "1.2.840.10008.1.2.4.80"
    content = post(ct, f"/studies/{CT['study']}/modify", {"Transcode": jpeg_ls, "Replace": {"StudyID": "T"}}).json()
    assert content["Transcode"] == jpeg_ls  # as Orthanc's job content says
    new = Instance.objects.get(series__study__public_id=content["ID"])
    assert new.transfer_syntax_uid == jpeg_ls
    source = pydicom.dcmread(storage.path_for(Instance.objects.get(public_id=CT["instance"]).file_uuid))
    changed = pydicom.dcmread(storage.path_for(new.file_uuid))
    assert (changed.pixel_array == source.pixel_array).all()


def test_the_audit_trail_records_the_change(ct):
    from explorer.models import AuditEvent

    post(ct, f"/studies/{CT['study']}/anonymize")
    event = AuditEvent.objects.get(action="modify")
    assert (event.username, event.study_public_id) == ("alice", CT["study"])
    assert "anonymize" in event.detail


def test_a_syntax_that_cannot_be_written_keeps_the_instances_as_orthanc(ct):
    refused = post(ct, f"/studies/{CT['study']}/modify", {"Transcode": "1.2.3"})
    assert (refused.status_code, refused.json()["Details"]) == (400, "Unknown transfer syntax UID: 1.2.3")
    mpeg2 = "1.2.840.10008.1.2.4.100"  # known, but no encoder writes it: Orthanc keeps the syntax
    content = post(ct, f"/studies/{CT['study']}/modify", {"Transcode": mpeg2, "Replace": {"StudyID": "1"}}).json()
    assert (content["Transcode"], content["InstancesCount"], content["FailedInstancesCount"]) == (mpeg2, 1, 0)
    new = Instance.objects.get(series__study__public_id=content["ID"])
    assert new.transfer_syntax_uid == Instance.objects.get(public_id=CT["instance"]).transfer_syntax_uid
    assert new.dataset["00200010"]["Value"] == ["1"]
