"""WADO-RS metadata (explorer/dicomweb/metadata.py): Orthanc 1.10.1's answer, made from the index
and a cache of each instance's JSON that goes with the instance.

tests/dicomweb_metadata_orthanc.json is the answer of Orthanc 1.10.1 with its DICOMweb plugin
for CT_small (…/instances/{uid}/metadata), its host written as Django's test client's."""

import json
from pathlib import Path

import pytest

from explorer import storage
from explorer.dicomweb import metadata
from explorer.models import Instance
from tests.conftest import CT_SMALL, dicom_bytes, make_image, upload

pytestmark = pytest.mark.django_db

ORTHANC_ANSWER = Path(__file__).with_name("dicomweb_metadata_orthanc.json")
CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
CT_INSTANCE = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
CT_PATH = f"/dicom-web/studies/{CT_STUDY}/series/{CT_SERIES}/instances/{CT_INSTANCE}"
WAVEFORM = (
    "1.3.76.13.65829.2.20130125082826.1072139.2",
    "1.3.6.1.4.1.20029.40.20130125105919.5407.1",
    "1.3.6.1.4.1.20029.40.20130125105919.5407.1.1",
)


def answer(api, path, **headers):
    response = api.get(path, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/dicom+json"
    return json.loads(b"".join(response.streaming_content))


def numbers_as_numbers(value):
    """Orthanc writes DS 5 as 5 and 0.7 as 0.69999999999999996: the same JSON numbers."""
    if isinstance(value, dict):
        return {key: numbers_as_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [numbers_as_numbers(item) for item in value]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def test_an_instance_is_answered_as_orthanc_answers_it(ct):
    expected = json.loads(ORTHANC_ANSWER.read_text())
    # Orthanc lists the data set trailing padding, which Pharos's index does not keep.
    del expected["FFFCFFFC"]
    [mine] = answer(ct, CT_PATH + "/metadata")
    assert numbers_as_numbers(mine) == numbers_as_numbers(expected)
    # Every binary value is bulk data, the small ones too, the tag in lower case.
    assert mine["00431028"]["BulkDataURI"] == f"http://testserver{CT_PATH}/bulk/00431028"
    assert mine["7FE00010"] == {"vr": "OW", "BulkDataURI": f"http://testserver{CT_PATH}/bulk/7fe00010"}


def test_the_same_answer_at_every_level(ct):
    [instance] = answer(ct, CT_PATH + "/metadata")
    assert answer(ct, f"/dicom-web/studies/{CT_STUDY}/series/{CT_SERIES}/metadata") == [instance]
    assert answer(ct, f"/dicom-web/studies/{CT_STUDY}/metadata", HTTP_ACCEPT="application/dicom+json") == [instance]


def test_bulk_data_in_sequences_is_named_by_its_path(api):
    upload(api, dicom_bytes("waveform_ecg.dcm"))
    study, series, sop = WAVEFORM
    [found] = answer(api, f"/dicom-web/studies/{study}/series/{series}/instances/{sop}/metadata")
    prefix = f"http://testserver/dicom-web/studies/{study}/series/{series}/instances/{sop}/bulk/"
    waveforms = found["54000100"]["Value"]
    assert [item["54001010"]["BulkDataURI"] for item in waveforms] == [
        prefix + "54000100/1/54001010",
        prefix + "54000100/2/54001010",
    ]
    assert found["1455100A"] == {"vr": "OB", "BulkDataURI": prefix + "1455100a"}  # a private value


def test_urls_name_the_host_asked_or_the_proxys(ct):
    [found] = answer(ct, CT_PATH + "/metadata", HTTP_HOST="pacs.example.org:8042")
    assert found["7FE00010"]["BulkDataURI"].startswith("http://pacs.example.org:8042/dicom-web/studies/")
    [found] = answer(ct, CT_PATH + "/metadata", HTTP_FORWARDED='for=10.0.0.1;host="viewer.example.org";proto=https')
    assert found["7FE00010"]["BulkDataURI"].startswith("https://viewer.example.org/dicom-web/studies/")


def series_of(api, count):
    """`count` instances of one new series, stored in the order 3, 1, 2…: (study, series, SOP
    Instance UIDs in InstanceNumber order)."""
    from pydicom.uid import generate_uid

    study, series = generate_uid(), generate_uid()
    uids = [generate_uid() for _ in range(count)]
    for number in sorted(range(count), key=lambda n: (n + 1) % count):
        data = make_image(
            4, bytes(32), StudyInstanceUID=study, SeriesInstanceUID=series, SOPInstanceUID=uids[number],
            InstanceNumber=number + 1, ImagePositionPatient=[0, 0, number], ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
        )  # fmt: skip
        assert upload(api, data).status_code == 200
    return study, series, uids


def test_a_series_answer_is_made_of_cached_parts_without_reading_a_file(api):
    study, series, uids = series_of(api, 3)
    path = f"/dicom-web/studies/{study}/series/{series}/metadata"
    instances = list(Instance.objects.all())
    cached = [metadata.cache_path(instance.file_uuid) for instance in instances]
    assert all(entry.exists() for entry in cached)  # made as each instance was stored
    first = answer(api, path)
    assert sorted(item["00080018"]["Value"][0] for item in first) == sorted(uids)
    assert all(item["00200013"]["vr"] == "IS" and isinstance(item["00200013"]["Value"][0], int) for item in first)
    # The answer is read from those entries: one changed is seen.
    cached[0].write_bytes(cached[0].read_bytes().replace(b'"MONOCHROME2"', b'"FROM-THE-CACHE"'))
    photometric = [item["00280004"]["Value"][0] for item in answer(api, path)]
    assert photometric.count("FROM-THE-CACHE") == 1
    # Without entries (a cache emptied by hand), the index holds the JSON: no file is read.
    for instance, entry in zip(instances, cached):
        entry.unlink()
        storage.path_for(instance.file_uuid).rename(storage.path_for(instance.file_uuid).with_suffix(".away"))
    assert answer(api, path) == first
    for instance in instances:
        storage.path_for(instance.file_uuid).with_suffix(".away").rename(storage.path_for(instance.file_uuid))
    assert answer(api, path) == first
    assert all(entry.exists() for entry in cached)  # made again


def test_a_deleted_instance_leaves_no_cache_entry(api, django_capture_on_commit_callbacks):
    study, series, uids = series_of(api, 2)
    answer(api, f"/dicom-web/studies/{study}/metadata")
    instances = list(Instance.objects.all())
    entries = [metadata.cache_path(instance.file_uuid) for instance in instances]
    assert all(entry.exists() for entry in entries)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/instances/{instances[0].public_id}").status_code == 200
    assert not entries[0].exists() and entries[1].exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/studies/{instances[1].series.study.public_id}").status_code == 200
    assert not entries[1].exists()


def test_a_replaced_instance_gets_a_new_entry(api, settings, django_capture_on_commit_callbacks):
    upload(api, dicom_bytes(CT_SMALL))
    answer(api, CT_PATH + "/metadata")
    old = Instance.objects.get()
    old_entry = metadata.cache_path(old.file_uuid)
    assert old_entry.exists()
    settings.PHAROS_OVERWRITE_INSTANCES = True
    import pydicom

    from explorer.transcoding import to_bytes
    from tests.conftest import sample_path

    changed = pydicom.dcmread(sample_path(CT_SMALL))
    changed.InstitutionName = "ANOTHER"
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(api, to_bytes(changed)).status_code == 200
    assert Instance.objects.get().file_uuid != old.file_uuid
    assert not old_entry.exists()
    [found] = answer(api, CT_PATH + "/metadata")
    assert found["00080080"]["Value"] == ["ANOTHER"]


def test_unknown_uids_and_refused_types(ct):
    assert ct.get(f"/dicom-web/studies/{CT_STUDY}/series/1.2.3/metadata").status_code == 404
    assert ct.get("/dicom-web/studies/1.2.3/metadata").status_code == 404
    assert ct.get("/dicom-web/studies/not-a-uid/metadata").status_code == 400
    refused = ct.get(CT_PATH + "/metadata", HTTP_ACCEPT="text/html")
    assert refused.status_code == 406 and "metadata" in refused.json()["Details"]
