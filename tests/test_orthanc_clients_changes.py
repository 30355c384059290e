"""Orthanc's Python clients, pyorthanc and orthanc-api-client, modifying and anonymizing through a
running Pharos (`manage.py start`: the web server and its job worker, Basic credentials), as their
users do with Orthanc 1.10.1, on which every call here works the same (tests/test_orthanc_clients.py
covers the other calls)."""

import pydicom
import pyorthanc

from tests.conftest import make_dicom
from tests.orthanc_client_fixtures import clients_of_a_server

PASSWORD = "changes-password"


server, api_client, orthanc = clients_of_a_server("changes", PASSWORD)


def a_study(api_client, patient_id, count=3):
    """A fresh study of `count` instances in one series: its Orthanc id."""
    study_uid, series_uid = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    for number in range(1, count + 1):
        data = make_dicom(
            PatientID=patient_id,
            PatientName="Changes^Test",
            StudyInstanceUID=study_uid,
            SeriesInstanceUID=series_uid,
            InstanceNumber=number,
            StudyDescription="BEFORE",
        )
        ids = api_client.upload(data)
    return api_client.instances.get_parent_study_id(ids[0])


# --- pyorthanc ---------------------------------------------------------------------------------


def test_pyorthanc_anonymizes_and_modifies_a_study(orthanc, api_client):
    study = pyorthanc.Study(a_study(api_client, "PYO-1"), orthanc)
    anonymized = study.anonymize()
    assert anonymized.id_ != study.id_
    assert anonymized.patient_information["PatientName"].startswith("Anonymized")
    assert anonymized.get_main_information()["AnonymizedFrom"] == study.id_
    modified = study.modify(replace={"StudyDescription": "AFTER"}, keep_source=False)
    assert modified.description == "AFTER"
    assert study.id_ not in orthanc.get_studies()


def test_pyorthanc_runs_changes_as_jobs(orthanc, api_client):
    study = pyorthanc.Study(a_study(api_client, "PYO-2"), orthanc)
    job = study.anonymize_as_job(keep_source=True)
    job.wait_until_completion(time_interval=0.2)
    assert job.state == pyorthanc.jobs.State.success
    assert pyorthanc.Study(job.content["ID"], orthanc).get_main_information()["AnonymizedFrom"] == study.id_
    series = study.series[0]
    job = series.modify_as_job(replace={"SeriesDescription": "JOB"})
    job.wait_until_completion(time_interval=0.2)
    assert pyorthanc.Series(job.content["ID"], orthanc).description == "JOB"


def test_pyorthanc_modifies_a_patient(orthanc, api_client):
    patient = pyorthanc.Study(a_study(api_client, "PYO-3"), orthanc).parent_patient
    modified = patient.modify(replace={"PatientID": "PYO-3-NEW"}, force=True)
    assert modified.patient_id == "PYO-3-NEW"


# --- orthanc-api-client ------------------------------------------------------------------------


def test_api_client_anonymizes_and_modifies(api_client):
    study = a_study(api_client, "OAC-1")
    anonymized = api_client.studies.anonymize(study, delete_original=False)
    assert anonymized and anonymized != study
    assert api_client.studies.get(anonymized).main_dicom_tags["StudyDescription"] is None  # removed by the profile
    modified = api_client.studies.modify(study, replace_tags={"StudyDescription": "AFTER"}, delete_original=True)
    assert api_client.studies.get(modified).main_dicom_tags["StudyDescription"] == "AFTER"
    assert study not in api_client.studies.get_all_ids()
    series = api_client.studies.get_series_ids(modified)[0]
    assert api_client.series.anonymize(series, delete_original=False)


def test_api_client_modifies_in_bulk_and_merges(api_client):
    study = a_study(api_client, "OAC-2")
    instances, series, studies, patients = api_client.studies.modify_bulk(
        [study], replace_tags={"StudyDescription": "BULK"}, delete_original=False
    )
    # Level "Study" (the client sends its level): a new study, as in Orthanc.
    assert len(instances) == 3 and len(studies) == 1 and studies != [study]
    assert api_client.studies.get(studies[0]).main_dicom_tags["StudyDescription"] == "BULK"
    other = a_study(api_client, "OAC-2")
    answer = api_client.studies.merge(study, other, keep_source=False)
    assert answer.json()["TargetStudy"] == study
    assert other not in api_client.studies.get_all_ids()
