"""QIDO-RS driven by dicomweb-client's DICOMwebClient against a running Pharos (`manage.py
start`, the real processes, HTTP Basic), as its users search Orthanc's DICOMweb plugin.

One server for the module (with DATABASE_URL, on a PostgreSQL database of its own). Where
Orthanc 1.10.1 answers otherwise, the test says so.
"""

import secrets

import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_auth

from tests.conftest import dicom_bytes
from tests.pharos_server import Server, own_database, request

PASSWORD = secrets.token_urlsafe(12)
CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
CT_INSTANCE = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
FILES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with own_database("pharos_qido") as database_url:
        server = Server(tmp_path_factory.mktemp("qido") / "data", PASSWORD, database_url)
        for name in FILES:
            status, _, body = request(server.port, "/instances", PASSWORD, "POST", dicom_bytes(name))
            assert status == 200, body
        yield server
        assert server.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    session = create_session_from_auth(requests.auth.HTTPBasicAuth("admin", PASSWORD))
    return DICOMwebClient(f"http://127.0.0.1:{server.port}/dicom-web", session=session)


def values(answers, tag):
    return sorted(answer[tag]["Value"][0] for answer in answers if "Value" in answer.get(tag, {}))


def test_every_study_with_its_default_attributes(client):
    studies = client.search_for_studies()
    assert len(studies) == len(FILES)
    (ct,) = [study for study in studies if study["0020000D"]["Value"] == [CT_STUDY]]
    assert ct["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "CompressedSamples^CT1"}]}
    assert ct["00201208"] == {"vr": "IS", "Value": [1]}
    # dicomweb-client sends a Host header without the port; RetrieveURL is built from Host, as
    # Orthanc's plugin builds it.
    assert ct["00081190"]["Value"] == [f"http://127.0.0.1/dicom-web/studies/{CT_STUDY}"]


def test_search_filters_with_wildcards_ranges_and_lists(client):
    """dicomweb-client percent-encodes `*` (%2A), which Orthanc 1.10.1 does not decode: there
    the wildcard search finds nothing."""
    found = client.search_for_studies(search_filters={"PatientName": "Compressed*"})
    assert values(found, "00100020") == ["1CT1", "4MR1", "8NM1"]
    found = client.search_for_studies(search_filters={"StudyDate": "20040101-20040201"})
    assert values(found, "0020000D") == [CT_STUDY]
    found = client.search_for_studies(search_filters={"StudyInstanceUID": f"{CT_STUDY},{MR_STUDY}"})
    assert len(found) == 2
    found = client.search_for_studies(search_filters={"00100020": "1ct1"}, fuzzymatching=False)
    assert values(found, "0020000D") == [CT_STUDY]
    assert client.search_for_studies(search_filters={"PatientID": "nobody"}) == []


def test_fields_are_asked_as_repeated_includefield(client):
    (study,) = client.search_for_studies(
        search_filters={"PatientID": "1CT1"}, fields=["StudyDescription", "00180050", "ImageType"]
    )
    assert study["00081030"] == {"vr": "LO", "Value": ["e+1"]}
    assert study["00080008"]["Value"] == ["ORIGINAL", "PRIMARY", "AXIAL"]


def test_pages_and_the_remaining_ones(client):
    every = values(client.search_for_studies(), "0020000D")
    pages = [client.search_for_studies(limit=1, offset=offset) for offset in range(len(FILES) + 1)]
    assert [len(page) for page in pages] == [1] * len(FILES) + [0]
    assert sorted(page[0]["0020000D"]["Value"][0] for page in pages[:-1]) == every
    assert values(client.search_for_studies(limit=2, get_remaining=True), "0020000D") == every


def test_series_and_instances_at_the_root_and_nested(client):
    (series,) = client.search_for_series(study_instance_uid=CT_STUDY)
    assert series["0020000E"]["Value"] == [CT_SERIES]
    assert series["00201209"] == {"vr": "IS", "Value": [1]}
    assert values(client.search_for_series(search_filters={"Modality": "MR"}), "00100020") == ["4MR1"]
    (instance,) = client.search_for_instances(study_instance_uid=CT_STUDY, series_instance_uid=CT_SERIES)
    assert instance["00080018"]["Value"] == [CT_INSTANCE]
    assert instance["00280010"] == {"vr": "US", "Value": [128]}
    url = f"http://127.0.0.1/dicom-web/studies/{CT_STUDY}/series/{CT_SERIES}/instances/{CT_INSTANCE}"
    assert instance["00081190"]["Value"] == [url]
    assert len(client.search_for_instances()) == len(FILES)
    assert len(client.search_for_instances(study_instance_uid=CT_STUDY)) == 1


def test_a_bad_parameter_is_an_http_error(client):
    with pytest.raises(requests.exceptions.HTTPError) as raised:
        client.search_for_studies(search_filters={"StudyDate": "2004*"})
    assert raised.value.response.status_code == 400
    assert "Wildcards are not allowed" in raised.value.response.json()["Details"]


def test_without_credentials_the_search_is_refused(server):
    status, _, _ = request(server.port, "/dicom-web/studies", None)
    assert status == 401
