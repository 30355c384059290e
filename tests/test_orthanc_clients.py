"""Orthanc's own Python clients, orthanc-api-client and pyorthanc, driven against a running Pharos
(`manage.py start`, the real processes, Basic credentials) as their users drive Orthanc: upload,
list, find, tags, modalities (echo, store, query, retrieve) and jobs.

Every call here works on Orthanc 1.10.1, and the expected answers were read from it on the same
files: this module, pointed at a fresh Orthanc 1.10.1, passes but for the plugin it loads
(DICOMweb) and the two features marked as not there yet. Calls that fail on Orthanc 1.10.1 too
are left out: labels, C-GET (`/modalities/{id}/get`, Orthanc 1.12), orthanc-api-client's
`Studies.get_instances` (`/tools/find` with ResponseContent, 1.12.5) and `move_study_async`
(1.10.1 moves synchronously and answers no job id), and pyorthanc's `get_tools_generate_uid` and
`get_content_by_tag` on a path, whose URLs the client misspells.

One server for the module (with DATABASE_URL, on a PostgreSQL database of its own), a pynetdicom
storage peer and DCMTK's dcmqrscp as a remote PACS that knows Pharos for moves.
"""

import asyncio
import io
import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from types import SimpleNamespace

import orthanc_api_client as oac
import pydicom
import pyorthanc
import pytest
from pyorthanc._orthanc_sdk_enums import ErrorCode

from tests.conftest import CT_SMALL, CT_SMALL_IDS, make_dicom, sample_path
from tests.dicom_peers import DCMTK_ENV, QR_CONFIG, Collector, dcmtk, free_port, wait_for_port, wait_until
from tests.orthanc_client_fixtures import clients_of_a_server
from tests.tools import needs_tool, require_tool

pytestmark = [
    needs_tool("dcmqrscp", "storescu"),
    # pyorthanc posts raw bodies with httpx's old spelling (data=)
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

PASSWORD = "clients-password"
AET = "PHAROS"  # the server's own AE title, where the remote PACS moves studies
MR_SMALL = "MR_small.dcm"
MR_INSTANCE = "2f859814-2cf8fe4f-c7963e7d-d32c018d-66fc8cfa"
CT = SimpleNamespace(**CT_SMALL_IDS)
CT_DATASET = pydicom.dcmread(sample_path(CT_SMALL))
REMOTE_FILE = "SC_rgb.dcm"  # what the remote PACS holds


# --- The server, the clients, the peers ----------------------------------------------------


server, api_client, orthanc = clients_of_a_server("clients", PASSWORD)


@pytest.fixture(scope="module")
def stored(api_client):
    """CT_small and MR_small in the server, uploaded once for the module."""
    for name in (CT_SMALL, MR_SMALL):
        api_client.upload_file(sample_path(name))


@pytest.fixture(scope="module")
def store_peer():
    """A pynetdicom storage SCP, AE title COLLECTOR."""
    peer = Collector()
    yield peer
    peer.server.shutdown()


@pytest.fixture(scope="module")
def remote_pacs(tmp_path_factory, server):
    """DCMTK's dcmqrscp (AE title QRSCP) holding SC_rgb.dcm; it knows our server as PHAROS."""
    require_tool("dcmqrscp")
    folder = tmp_path_factory.mktemp("qrscp")
    port = free_port()
    config = folder / "dcmqrscp.cfg"
    config.write_text(QR_CONFIG.format(port=port, pharos_port=server.dicom_port, folder=folder))
    process = subprocess.Popen(
        ["dcmqrscp", "-c", str(config), str(port)], env=DCMTK_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    wait_for_port(port, process)
    loaded = dcmtk("storescu", "-aec", "QRSCP", "127.0.0.1", port, sample_path(REMOTE_FILE))
    assert loaded.returncode == 0, loaded.stdout
    yield SimpleNamespace(port=port, dataset=pydicom.dcmread(sample_path(REMOTE_FILE)))
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def modalities(api_client, store_peer, remote_pacs):
    """The storage peer as `collector` and the remote PACS as `pacs`, declared through REST."""
    api_client.modalities.configure("collector", {"AET": "COLLECTOR", "Host": "127.0.0.1", "Port": store_peer.port})
    api_client.modalities.configure("pacs", {"AET": "QRSCP", "Host": "127.0.0.1", "Port": remote_pacs.port})


def received(peer, sop_instance_uid):
    return wait_until(lambda: sop_instance_uid in peer.by_uid(), 30, f"{sop_instance_uid} never reached the peer")


def one_study(patient_id):
    """A fresh single-instance study, for tests that delete what they made."""
    return make_dicom(PatientID=patient_id, PatientName="Clients^Test")


# --- orthanc-api-client --------------------------------------------------------------------


def test_api_client_sees_a_live_orthanc(api_client):
    assert api_client.wait_started(timeout=10)
    assert api_client.is_alive()
    assert api_client.get_system()["DicomAet"] == AET
    assert api_client.is_orthanc_version_at_least(1, 10)
    # Orthanc 1.10.1 answers True with its DICOMweb plugin loaded; Pharos's DICOMweb server
    # stands in its place (/plugins).
    assert api_client.has_loaded_plugin("dicom-web")


def test_api_client_reads_and_changes_the_log_level(api_client):
    assert api_client.get_log_level() == oac.LogLevel.DEFAULT
    assert api_client.set_log_level(oac.LogLevel.VERBOSE) == oac.LogLevel.VERBOSE
    assert api_client.set_log_level(oac.LogLevel.DEFAULT) == oac.LogLevel.DEFAULT


def test_api_client_uploads_files_folders_and_zips(api_client, tmp_path):
    assert api_client.upload_file(sample_path(CT_SMALL)) == [CT.instance]
    with open(sample_path(MR_SMALL), "rb") as handle:
        assert api_client.upload(handle.read()) == [MR_INSTANCE]
    for name in ("rtplan.dcm", "JPEG2000.dcm"):
        shutil.copy(sample_path(name), tmp_path / name)
    assert len(api_client.upload_folder(str(tmp_path))) == 2
    study_uids, study_ids, rejected = api_client.upload_folder_return_details(str(tmp_path))
    assert len(study_uids) == len(study_ids) == 2 and rejected == []
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(sample_path(CT_SMALL), "a/ct.dcm")
        zipped.write(sample_path(MR_SMALL), "b/mr.dcm")
    assert sorted(api_client.upload(archive.getvalue())) == sorted([CT.instance, MR_INSTANCE])


def test_api_client_reports_a_file_that_is_not_dicom(api_client):
    with pytest.raises(oac.BadFileFormat):
        api_client.upload(b"not a DICOM file")
    assert api_client.upload(b"not a DICOM file", ignore_errors=True) == []


def test_api_client_lists_every_level(api_client, stored):
    assert CT.patient in api_client.patients.get_all_ids()
    assert CT.study in api_client.studies.get_all_ids()
    assert CT.series in api_client.series.get_all_ids()
    assert {CT.instance, MR_INSTANCE} <= set(api_client.instances.get_all_ids())
    statistics = api_client.get_statistics()
    assert statistics.instances_count >= 2 and statistics.total_disk_size > 0


def test_api_client_reads_metrics(api_client, stored):
    metrics = api_client.get_metrics()
    assert int(metrics.get("orthanc_count_instances")) == api_client.get_statistics().instances_count
    assert float(metrics.get("orthanc_disk_size_mb")) > 0


def test_api_client_looks_up_dicom_identifiers(api_client, stored):
    assert api_client.studies.lookup(CT_DATASET.StudyInstanceUID) == CT.study
    assert api_client.series.lookup(CT_DATASET.SeriesInstanceUID) == CT.series
    assert api_client.instances.lookup(CT_DATASET.SOPInstanceUID) == CT.instance
    assert api_client.patients.lookup(CT_DATASET.PatientID) == CT.patient
    assert api_client.lookup(CT_DATASET.StudyInstanceUID) == [CT.study]
    assert api_client.studies.lookup("1.2.3.4.5.6.7.8.9") is None


def test_api_client_finds_studies_and_patients(api_client, stored):
    assert [s.orthanc_id for s in api_client.studies.find(query={"PatientID": "1CT1"})] == [CT.study]
    found = api_client.studies.find(query={"PatientName": "compressedsamples^ct1"}, case_sensitive=False)
    assert [s.orthanc_id for s in found] == [CT.study]
    assert found[0].main_dicom_tags["StudyDate"] == "20040119"
    assert [p.orthanc_id for p in api_client.patients.find(query={"PatientID": "1CT1"})] == [CT.patient]


def test_api_client_walks_a_study(api_client, stored, tmp_path):
    study = api_client.studies.get(CT.study)
    assert study.dicom_id == CT_DATASET.StudyInstanceUID
    assert study.patient_main_dicom_tags["PatientName"] == "CompressedSamples^CT1"
    sizes = {"disk_size": 39206, "uncompressed_size": 39206}
    assert vars(study.statistics) == {"instances_count": 1, "series_count": 1} | sizes
    assert isinstance(study.last_update, datetime) and study.is_stable in (True, False)
    assert [s.orthanc_id for s in study.series] == [CT.series]
    assert api_client.studies.get_series_ids(CT.study) == [CT.series]
    assert api_client.studies.get_instances_ids(CT.study) == [CT.instance]
    assert api_client.studies.get_modalities(CT.study) == {"CT"}
    assert api_client.studies.get_parent_patient_id(CT.study) == CT.patient
    assert api_client.studies.exists(CT.study) and not api_client.studies.exists("no-such-study")
    assert api_client.studies.get_pdf_instances(CT.study) == []
    api_client.studies.download_archive(CT.study, str(tmp_path / "study.zip"))
    assert len(zipfile.ZipFile(tmp_path / "study.zip").namelist()) == 1
    oac.InstancesSet.from_study(api_client, study_id=CT.study).download_archive(str(tmp_path / "set.zip"))
    assert len(zipfile.ZipFile(tmp_path / "set.zip").namelist()) == 1
    assert api_client.capabilities.has_revision_support is False
    downloaded = api_client.studies.download_instances(CT.study, str(tmp_path))
    assert pydicom.dcmread(downloaded[0].path).SOPInstanceUID == CT_DATASET.SOPInstanceUID


def test_api_client_walks_a_series_and_its_preview(api_client, stored):
    series = api_client.series.get(CT.series)
    assert series.dicom_id == CT_DATASET.SeriesInstanceUID
    assert vars(series.statistics) == {"instances_count": 1, "disk_size": 39206, "uncompressed_size": 39206}
    assert series.study.orthanc_id == CT.study
    assert [i.orthanc_id for i in series.instances] == [CT.instance]
    assert api_client.series.get_parent_study_id(CT.series) == CT.study
    assert api_client.series.get_parent_patient_id(CT.series) == CT.patient
    assert api_client.series.get_ordered_instances_ids(CT.series) == [CT.instance]
    assert api_client.series.get_middle_instance_id(CT.series) == CT.instance
    assert api_client.series.get_preview_file(CT.series).startswith(b"\x89PNG")
    assert api_client.series.get_preview_file(CT.series, jpeg_format=True).startswith(b"\xff\xd8")


def test_api_client_walks_an_instance_and_a_patient(api_client, stored, tmp_path):
    instance = api_client.instances.get(CT.instance)
    assert instance.dicom_id == CT_DATASET.SOPInstanceUID
    assert instance.series.orthanc_id == CT.series
    assert len(api_client.instances.get_file(CT.instance)) == 39206
    path = api_client.instances.download_instance(CT.instance, str(tmp_path / "ct.dcm")).path
    assert pydicom.dcmread(path).SOPInstanceUID == CT_DATASET.SOPInstanceUID
    assert api_client.instances.get_parent_study_id(CT.instance) == CT.study
    assert api_client.instances.get_parent_patient_id(CT.instance) == CT.patient
    assert not api_client.instances.is_pdf(CT.instance)
    content, revision = api_client.instances.get_attachment_with_revision(CT.instance, "dicom")
    assert (len(content), revision) == (39206, '"0-ccf71ca6735bc1c52fbe33e29eb42886"')
    patient = api_client.patients.get(CT.patient)
    assert patient.dicom_id == "1CT1" and patient.info.studies_ids == [CT.study]
    assert patient.statistics.studies_count == 1 and patient.statistics.instances_count == 1
    assert isinstance(patient.last_update, datetime)
    assert api_client.patients.get_instances_ids(CT.patient) == [CT.instance]
    assert api_client.patients.get_modalities(CT.patient) == {"CT"}


def test_api_client_reads_tags(api_client, stored):
    tags = api_client.instances.get_tags(CT.instance)
    assert tags["PatientName"] == "CompressedSamples^CT1"
    assert tags["0008,0060"] == tags["0008-0060"] == "CT"
    assert tags["OtherPatientIDsSequence"][1]["PatientID"] == "1234ABCD"
    assert api_client.studies.get_tags(CT.study)["StudyInstanceUID"] == CT_DATASET.StudyInstanceUID
    assert api_client.series.get_tags(CT.series)["Modality"] == "CT"
    assert api_client.instances.get(CT.instance).tags["SOPInstanceUID"] == CT_DATASET.SOPInstanceUID


def test_api_client_reads_metadata(api_client, stored):
    metadata = api_client.instances.get_metadata(CT.instance)
    assert set(metadata) == {
        "HttpUsername", "IndexInSeries", "Origin", "PixelDataOffset", "ReceptionDate", "RemoteAET", "RemoteIP",
        "SopClassUid", "TransferSyntax",
    }  # fmt: skip
    assert (metadata["Origin"], metadata["IndexInSeries"], metadata["PixelDataOffset"]) == ("RestApi", "1", "6288")
    assert api_client.instances.get_string_metadata(CT.instance, "TransferSyntax") == "1.2.840.10008.1.2.1"
    assert api_client.instances.get_string_metadata(CT.instance, "NoSuchName", default_value="none") == "none"
    assert api_client.instances.has_metadata(CT.instance, "RemoteAET")
    assert api_client.instances.get(CT.instance).get_metadata("SopClassUid") == CT_DATASET.SOPClassUID


def test_api_client_follows_changes(api_client, stored):
    first, last, done = api_client.get_changes(limit=3)
    assert len(first) == 3 and last == first[-1].sequence_id and not done
    changes, last, done = api_client.get_changes(since=first[0].sequence_id, limit=2)
    assert [c.sequence_id for c in changes] == [c.sequence_id for c in first[1:]] and not done
    assert all(isinstance(c.timestamp, datetime) and c.resource_id for c in changes)


def test_api_client_deletes(api_client):
    [instance] = api_client.upload(one_study("CLIENTS-DELETE"))
    study = api_client.instances.get_parent_study_id(instance)
    api_client.studies.delete(study)
    assert not api_client.studies.exists(study)
    api_client.studies.delete("no-such-study", ignore_errors=True)
    with pytest.raises(oac.ResourceNotFound):
        api_client.studies.delete("no-such-study")


def test_api_client_declares_modalities(api_client, modalities):
    assert {"collector", "pacs"} <= set(api_client.modalities.get_all_ids())
    configuration = api_client.modalities.get_configuration("pacs")
    assert (configuration["AET"], configuration["Host"]) == ("QRSCP", "127.0.0.1")
    assert api_client.modalities.get_id_from_aet("QRSCP") == "pacs"
    api_client.modalities.configure("arrayform", ["ARRAYFORM", "127.0.0.1", 11112])
    assert api_client.modalities.get_configuration("arrayform")["Port"] == 11112
    api_client.modalities.delete("arrayform")
    assert "arrayform" not in api_client.modalities.get_all_ids()


def test_api_client_sends_to_a_modality(api_client, stored, modalities, store_peer):
    api_client.modalities.send("collector", CT.instance)
    received(store_peer, CT_DATASET.SOPInstanceUID)
    api_client.modalities.store("collector", [CT.study])


def test_api_client_sends_as_a_job(api_client, stored, modalities, store_peer):
    job = api_client.modalities.send_async("collector", [CT.study])
    assert job.wait_completed(timeout=60, polling_interval=0.1)
    assert (job.info.status, job.info.type) == (oac.JobStatus.SUCCESS, oac.JobType.DICOM_MODALITY_STORE)
    assert {k: job.content[k] for k in ("FailedInstancesCount", "InstancesCount", "ParentResources", "RemoteAet")} == {
        "FailedInstancesCount": 0, "InstancesCount": 1, "ParentResources": [CT.study], "RemoteAet": "COLLECTOR",
    }  # fmt: skip
    assert api_client.jobs.get_json(job.orthanc_id)["State"] == "Success"
    assert api_client.jobs.get(job.orthanc_id).info.status == oac.JobStatus.SUCCESS
    assert job.orthanc_id in api_client.jobs.get_all_ids()


def test_api_client_follows_a_failed_job_and_resubmits_it(api_client, stored):
    api_client.modalities.configure("nowhere", {"AET": "NOWHERE", "Host": "127.0.0.1", "Port": free_port()})
    job = api_client.modalities.send_async("nowhere", [CT.study])
    assert job.wait_completed(timeout=60, polling_interval=0.1)
    assert job.info.status == oac.JobStatus.FAILURE
    assert job.content == {
        "Description": "REST API", "FailedInstancesCount": 0, "InstancesCount": 1, "LocalAet": AET,
        "ParentResources": [CT.study], "RemoteAet": "NOWHERE",
    }  # fmt: skip
    details = api_client.jobs.get_json(job.orthanc_id)
    assert (details["ErrorCode"], details["ErrorDescription"]) == (9, "Error in the network protocol")
    api_client.jobs.resubmit(job.orthanc_id)
    assert job.wait_completed(timeout=60, polling_interval=0.1)
    assert job.info.status == oac.JobStatus.FAILURE
    api_client.modalities.delete("nowhere")


def test_api_client_queries_a_remote_pacs(api_client, modalities, remote_pacs):
    remote = remote_pacs.dataset
    remote_api = api_client.modalities
    studies = remote_api.query_studies("pacs", {"PatientName": "", "StudyInstanceUID": ""})
    expected = [(remote.StudyInstanceUID, str(remote.PatientName))]
    assert [(s.dicom_id, s.tags["PatientName"]) for s in studies] == expected
    query = {"StudyInstanceUID": remote.StudyInstanceUID, "SeriesInstanceUID": ""}
    assert [s.dicom_id for s in remote_api.query_series("pacs", query)] == [remote.SeriesInstanceUID]
    query |= {"SeriesInstanceUID": remote.SeriesInstanceUID, "SOPInstanceUID": ""}
    assert [i.dicom_id for i in remote_api.query_instances("pacs", query)] == [remote.SOPInstanceUID]


def test_api_client_retrieves_from_a_remote_pacs(api_client, modalities, remote_pacs):
    remote = remote_pacs.dataset
    study = api_client.modalities.retrieve_study("pacs", remote.StudyInstanceUID)
    assert study and api_client.studies.get_instances_ids(study) == [api_client.instances.lookup(remote.SOPInstanceUID)]
    api_client.studies.delete(study)
    api_client.modalities.move_series("pacs", remote.SeriesInstanceUID, remote.StudyInstanceUID)
    assert api_client.series.lookup(remote.SeriesInstanceUID)
    api_client.studies.delete(api_client.studies.lookup(remote.StudyInstanceUID))
    uids = (remote.SOPInstanceUID, remote.SeriesInstanceUID, remote.StudyInstanceUID)
    api_client.modalities.move_instance("pacs", *uids)
    assert api_client.instances.lookup(remote.SOPInstanceUID)
    api_client.studies.delete(api_client.studies.lookup(remote.StudyInstanceUID))


@pytest.mark.xfail(strict=True, reason="/{level}/{id}/media (a ZIP with a DICOMDIR) is not implemented yet")
def test_api_client_downloads_a_dicomdir(api_client, stored, tmp_path):
    api_client.studies.download_media(CT.study, str(tmp_path / "media.zip"))
    assert "DICOMDIR" in zipfile.ZipFile(tmp_path / "media.zip").namelist()


# --- pyorthanc -----------------------------------------------------------------------------


def test_pyorthanc_uploads_paths_datasets_folders_and_zips(orthanc, tmp_path):
    assert [i.id_ for i in pyorthanc.upload(orthanc, sample_path(CT_SMALL))] == [CT.instance]
    assert [i.id_ for i in pyorthanc.upload(orthanc, pydicom.dcmread(sample_path(MR_SMALL)))] == [MR_INSTANCE]
    assert [i.id_ for i in pyorthanc.upload(orthanc, sample_path(CT_SMALL), check_before_upload=True)] == [CT.instance]
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("rtplan.dcm", "JPEG2000.dcm"):
        shutil.copy(sample_path(name), folder / name)
    assert len(pyorthanc.upload(orthanc, str(folder))) == 2
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(sample_path(CT_SMALL), "ct.dcm")
        zipped.write(sample_path(MR_SMALL), "mr.dcm")
    assert sorted(i.id_ for i in pyorthanc.upload(orthanc, str(archive))) == sorted([CT.instance, MR_INSTANCE])
    with open(sample_path(CT_SMALL), "rb") as handle:
        answer = orthanc.post_instances(handle.read())
    assert (answer["ID"], answer["ParentStudy"], answer["Status"]) == (CT.instance, CT.study, "AlreadyStored")


def test_pyorthanc_async_client_uploads_lists_and_finds(server, stored):
    url = f"http://127.0.0.1:{server.port}"

    async def session():
        async with pyorthanc.AsyncOrthanc(url, "admin", PASSWORD, timeout=60) as client:
            answer = await pyorthanc.async_upload(client, sample_path(CT_SMALL))
            return answer["ID"], await client.get_studies()

    instance, studies = asyncio.run(session())
    assert instance == CT.instance and CT.study in studies
    async_client = pyorthanc.AsyncOrthanc(url, "admin", PASSWORD)
    patients = pyorthanc.find(async_client, series_filter=lambda series: series.modality == "CT")
    assert CT.patient in [p.id_ for p in patients]


def test_pyorthanc_lists_every_level(orthanc, stored):
    assert CT.patient in orthanc.get_patients()
    assert CT.study in orthanc.get_studies()
    assert CT.series in orthanc.get_series()
    assert {CT.instance, MR_INSTANCE} <= set(orthanc.get_instances())
    assert CT.patient in [p["ID"] for p in orthanc.get_patients(params={"expand": True})]
    assert orthanc.get_statistics()["CountInstances"] >= 2


def test_pyorthanc_finds(orthanc, stored):
    assert [p.patient_id for p in pyorthanc.find_patients(orthanc, query={"PatientID": "1CT1"})] == ["1CT1"]
    studies = pyorthanc.find_studies(orthanc, query={"PatientName": "CompressedSamples^CT1"})
    assert [s.uid for s in studies] == [CT_DATASET.StudyInstanceUID]
    assert {s.modality for s in pyorthanc.find_series(orthanc, query={"Modality": "CT"})} == {"CT"}
    instances = pyorthanc.find_instances(orthanc, query={"SOPInstanceUID": CT_DATASET.SOPInstanceUID})
    assert [i.id_ for i in instances] == [CT.instance]
    # Pages of two, until an empty one.
    assert len(pyorthanc.query_orthanc(orthanc, "Instance", limit=2, retrieve_all_resources=False)) == 2
    assert len(pyorthanc.query_orthanc(orthanc, "Instance", limit=2)) == len(orthanc.get_instances())
    patients = pyorthanc.find(orthanc, series_filter=lambda series: series.modality == "CT")
    assert CT.patient in [p.id_ for p in patients]


def test_pyorthanc_walks_the_hierarchy(orthanc, stored, tmp_path):
    [patient] = pyorthanc.find_patients(orthanc, query={"PatientID": "1CT1"})
    assert (patient.name, patient.sex, patient.birth_date) == ("CompressedSamples^CT1", "O", None)
    assert patient.is_stable in (True, False) and isinstance(patient.last_update, datetime)
    assert patient.get_zip()[:2] == b"PK"
    patient.download(str(tmp_path / "patient.zip"))
    [study] = patient.studies
    assert (study.uid, study.study_id) == (CT_DATASET.StudyInstanceUID, "1CT1")
    assert study.date == datetime(2004, 1, 19, 7, 27, 30)
    assert study.patient_information["PatientID"] == "1CT1" and study.parent_patient.id_ == CT.patient
    assert study.get_zip()[:2] == b"PK"
    [series] = study.series
    assert (series.uid, series.modality, series.series_number) == (CT_DATASET.SeriesInstanceUID, "CT", 1)
    assert series.manufacturer == "GE MEDICAL SYSTEMS" and series.date == datetime(1997, 4, 30, 11, 27, 49)
    assert series.parent_study.id_ == CT.study and series.get_zip()[:2] == b"PK"
    [instance] = series.instances
    assert (instance.uid, instance.file_size, instance.instance_number) == (CT_DATASET.SOPInstanceUID, 39206, 1)
    assert instance.creation_date == datetime(2004, 1, 19, 7, 27, 31)
    assert instance.image_orientation_patient == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert instance.acquisition_number == 2 and instance.parent_patient.id_ == CT.patient
    assert len(instance.get_dicom_file_content()) == 39206
    instance.download(str(tmp_path / "ct.dcm"))
    assert pydicom.dcmread(tmp_path / "ct.dcm").SOPInstanceUID == CT_DATASET.SOPInstanceUID
    assert len(orthanc.get_studies_id_instances(CT.study)) == 1


def test_pyorthanc_reads_tags(orthanc, stored):
    instance = pyorthanc.Instance(CT.instance, orthanc)
    assert instance.tags["0010,0010"] == {"Name": "PatientName", "Type": "String", "Value": "CompressedSamples^CT1"}
    assert instance.simplified_tags["PatientName"] == "CompressedSamples^CT1"
    assert orthanc.get_instances_id_simplified_tags(CT.instance)["StudyID"] == "1CT1"
    assert instance.get_content_by_tag("0010-0010") == "CompressedSamples^CT1"
    assert instance.get_pydicom().PatientName == "CompressedSamples^CT1"
    header = orthanc.get_instances_id_header(CT.instance)
    assert header["0002,0010"]["Value"] == "1.2.840.10008.1.2.1"
    # Binary elements (FileMetaInformationVersion) are left out.
    assert sorted(header) == ["0002,0000", "0002,0002", "0002,0003", "0002,0010", "0002,0012", "0002,0013", "0002,0016"]
    assert orthanc.get_instances_id_frames(CT.instance) == [0]
    assert orthanc.get_instances_id_preview(CT.instance)[:4] == b"\x89PNG"


def test_pyorthanc_reads_modules_and_shared_tags(orthanc, stored):
    patient = pyorthanc.Patient(CT.patient, orthanc)
    assert patient.get_patient_module(simplify=True) == {
        "OtherPatientIDsSequence": [
            {"PatientID": "ABCD1234", "TypeOfPatientID": "TEXT"},
            {"PatientID": "1234ABCD", "TypeOfPatientID": "TEXT"},
        ],
        "PatientBirthDate": "",
        "PatientID": "1CT1",
        "PatientName": "CompressedSamples^CT1",
        "PatientSex": "O",
    }
    assert orthanc.get_studies_id_module(CT.study, params={"simplify": True}) == {
        "AccessionNumber": "", "ReferringPhysicianName": "", "StudyDate": "20040119", "StudyDescription": "e+1",
        "StudyID": "1CT1", "StudyInstanceUID": CT_DATASET.StudyInstanceUID, "StudyTime": "072730",
    }  # fmt: skip
    assert orthanc.get_series_id_module(CT.series, params={"simplify": True}) == {
        "Laterality": "", "Modality": "CT", "PatientPosition": "FFS", "SeriesDate": "19970430",
        "SeriesInstanceUID": CT_DATASET.SeriesInstanceUID, "SeriesNumber": "1", "SeriesTime": "112749",
    }  # fmt: skip
    module = orthanc.get_instances_id_module(CT.instance, params={"simplify": True})
    assert set(module) == {
        "InstanceCreationDate", "InstanceCreationTime", "InstanceCreatorUID", "InstanceNumber", "SOPClassUID",
        "SOPInstanceUID", "SpecificCharacterSet", "TimezoneOffsetFromUTC",
    }  # fmt: skip
    shared = patient.get_shared_tags(simplify=True)
    assert shared["PatientName"] == "CompressedSamples^CT1"
    # Orthanc compares text values only: no sequence, no binary.
    assert "OtherPatientIDsSequence" not in shared and "PixelData" not in shared
    assert pyorthanc.Study(CT.study, orthanc).shared_tags["StudyInstanceUID"] == CT_DATASET.StudyInstanceUID
    assert pyorthanc.Series(CT.series, orthanc).get_shared_tags(short=True)["0008,0060"] == "CT"


def test_pyorthanc_reads_metadata(orthanc, stored):
    assert orthanc.get_instances_id_metadata(CT.instance) == [
        "IndexInSeries", "ReceptionDate", "RemoteAET", "Origin", "TransferSyntax", "SopClassUid", "RemoteIP",
        "HttpUsername", "PixelDataOffset",
    ]  # fmt: skip
    assert orthanc.get_series_id_metadata(CT.series, params={"expand": True}).keys() == {"LastUpdate", "RemoteAET"}


@pytest.mark.xfail(strict=True, reason="/patients/{id}/protected (protection against recycling) is not implemented yet")
def test_pyorthanc_protects_a_patient(orthanc, stored):
    patient = pyorthanc.Patient(CT.patient, orthanc)
    assert not patient.protected
    patient.set_to_protected()
    assert patient.is_protected()
    patient.set_to_unprotected()
    assert not patient.is_protected()


def test_pyorthanc_uses_the_tools(orthanc, stored):
    assert orthanc.post_tools_lookup(CT_DATASET.StudyInstanceUID) == [
        {"ID": CT.study, "Path": f"/studies/{CT.study}", "Type": "Study"}
    ]
    assert orthanc.post_tools_find({"Level": "Study", "Query": {"PatientID": "1CT1"}}) == [CT.study]
    assert re.fullmatch(r"\d{8}T\d{6}", orthanc.get_tools_now())
    assert re.fullmatch(r"\d{8}T\d{6}", orthanc.get_tools_now_local())
    assert orthanc.get_changes(params={"limit": 1})["Done"] is False


def test_pyorthanc_deletes(orthanc):
    [instance] = pyorthanc.upload(orthanc, pydicom.dcmread(io.BytesIO(one_study("CLIENTS-PYORTHANC"))))
    study = instance.parent_study.id_
    assert orthanc.delete_studies_id(study) == {"RemainingAncestor": None}
    assert study not in orthanc.get_studies()


def test_pyorthanc_declares_and_echoes_modalities(orthanc, remote_pacs):
    declaration = {"AET": "QRSCP", "Host": "127.0.0.1", "Port": remote_pacs.port}
    assert orthanc.put_modalities_id("pyorthanc-pacs", json=declaration) == ""
    assert "pyorthanc-pacs" in orthanc.get_modalities()
    assert orthanc.get_modalities(params={"expand": True})["pyorthanc-pacs"]["AET"] == "QRSCP"
    assert orthanc.get_modalities_id_configuration("pyorthanc-pacs")["Port"] == remote_pacs.port
    assert pyorthanc.Modality(orthanc, "pyorthanc-pacs").echo()
    assert not pyorthanc.Modality(orthanc, "no-such-modality").echo()
    assert orthanc.delete_modalities_id("pyorthanc-pacs") == ""
    assert "pyorthanc-pacs" not in orthanc.get_modalities()


def test_pyorthanc_stores_to_a_modality(orthanc, stored, modalities, store_peer):
    collector = pyorthanc.Modality(orthanc, "collector")
    for resource in (CT.instance, CT.series):
        answer = collector.store(resource)
        assert (answer["InstancesCount"], answer["FailedInstancesCount"], answer["RemoteAet"]) == (1, 0, "COLLECTOR")
        assert answer["ParentResources"] == [resource]
    received(store_peer, CT_DATASET.SOPInstanceUID)


def test_pyorthanc_follows_a_store_job(orthanc, stored, modalities):
    answer = orthanc.post_modalities_id_store("collector", json={"Resources": [CT.study], "Asynchronous": True})
    assert answer["Path"] == f"/jobs/{answer['ID']}"
    job = pyorthanc.Job(answer["ID"], orthanc)
    job.wait_until_completion(time_interval=0.1)
    assert (job.state, job.type) == (pyorthanc.jobs.State.success, "DicomModalityStore")
    assert (job.progress, job.priority) == (100, 0)
    assert job.content["InstancesCount"] == 1 and job.content["ParentResources"] == [CT.study]
    assert job.error == ErrorCode.SUCCESS
    assert isinstance(job.creation_time, datetime) and isinstance(job.completion_time, datetime)
    assert isinstance(job.timestamp, datetime) and job.effective_runtime >= 0
    assert answer["ID"] in orthanc.get_jobs()
    assert {j["ID"]: j["State"] for j in orthanc.get_jobs(params={"expand": True})}[answer["ID"]] == "Success"


def test_pyorthanc_queries_and_retrieves(orthanc, modalities, remote_pacs):
    remote = remote_pacs.dataset
    pacs = pyorthanc.Modality(orthanc, "pacs")
    result = pacs.find({"Level": "Study", "Query": {"PatientName": "", "StudyInstanceUID": ""}})
    [answer] = result["answers"]
    assert (answer["StudyInstanceUID"], answer["QueryRetrieveLevel"]) == (remote.StudyInstanceUID, "STUDY")
    query = result["ID"]
    assert query in orthanc.get_queries()
    assert orthanc.get_queries_id_answers(query) == ["0"]
    content = orthanc.get_queries_id_answers_index_content(query, "0")
    assert content["0020,000d"] == {"Name": "StudyInstanceUID", "Type": "String", "Value": remote.StudyInstanceUID}
    assert pacs.get_query_answers(query, simplify=False, short=True)[0]["0020,000d"] == remote.StudyInstanceUID
    assert orthanc.get_queries_id_level(query) == "Study"
    assert orthanc.get_queries_id_modality(query) == "pacs"
    assert orthanc.get_queries_id_query(query) == {
        "0010,0010": {"Name": "PatientName", "Type": "String", "Value": ""},
        "0020,000d": {"Name": "StudyInstanceUID", "Type": "String", "Value": ""},
    }
    moved = pacs.move(query, {"TargetAet": AET, "Synchronous": True})
    assert (moved["RemoteAet"], moved["Query"][0]["0020,000d"]) == ("QRSCP", remote.StudyInstanceUID)
    [study] = pyorthanc.find_studies(orthanc, query={"StudyInstanceUID": remote.StudyInstanceUID})
    orthanc.delete_studies_id(study.id_)
    orthanc.post_queries_id_answers_index_retrieve(query, "0", json={"TargetAet": AET})
    [study] = pyorthanc.find_studies(orthanc, query={"StudyInstanceUID": remote.StudyInstanceUID})
    orthanc.delete_studies_id(study.id_)
    pyorthanc.delete_queries(orthanc)
    assert orthanc.get_queries() == []
