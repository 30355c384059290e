"""GET /{level}/{id}/metadata[/{name}] (explorer/api/metadata.py): what Orthanc 1.10.1 records for
an instance stored through REST or received by C-STORE, and for its parents."""

import pytest

from explorer import ingest
from tests.conftest import CT_SMALL_IDS, make_dicom

pytestmark = pytest.mark.django_db

PATIENT, STUDY, SERIES, INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))


def test_an_uploaded_instance_has_orthancs_metadata_in_orthancs_order(ct):
    assert ct.get(f"/instances/{INSTANCE}/metadata").json() == [
        "IndexInSeries", "ReceptionDate", "RemoteAET", "Origin", "TransferSyntax", "SopClassUid", "RemoteIP",
        "HttpUsername", "PixelDataOffset",
    ]  # fmt: skip
    expanded = ct.get(f"/instances/{INSTANCE}/metadata?expand").json()
    assert expanded | {"ReceptionDate": None} == {
        "HttpUsername": "alice",
        "IndexInSeries": "1",
        "Origin": "RestApi",
        "PixelDataOffset": "6288",
        "ReceptionDate": None,
        "RemoteAET": "",
        "RemoteIP": "127.0.0.1",
        "SopClassUid": "1.2.840.10008.5.1.4.1.1.2",
        "TransferSyntax": "1.2.840.10008.1.2.1",
    }
    assert len(expanded["ReceptionDate"]) == len("20261203T134809")


def test_one_value_is_plain_text_with_orthancs_etag(ct):
    response = ct.get(f"/instances/{INSTANCE}/metadata/TransferSyntax")
    assert (response["Content-Type"], response.content) == ("text/plain", b"1.2.840.10008.1.2.1")
    assert response["ETag"] == '"0-9e4d809cb53013f1ba326d2df31e27cc"'
    missing = ct.get(f"/instances/{INSTANCE}/metadata/NoSuchName")
    assert (missing.status_code, missing.json()["OrthancStatus"]) == (404, 7)


def test_parents_have_their_last_update(ct):
    assert ct.get(f"/series/{SERIES}/metadata").json() == ["RemoteAET", "LastUpdate"]
    assert ct.get(f"/studies/{STUDY}/metadata").json() == ["LastUpdate"]
    assert list(ct.get(f"/patients/{PATIENT}/metadata?expand").json()) == ["LastUpdate"]
    assert ct.get("/patients/no-such-patient/metadata").status_code == 404


def test_an_instance_received_by_c_store_names_its_peer(api):
    origin = ingest.Origin("DicomProtocol", remote_ip="10.0.0.7", remote_aet="MODALITY", called_aet="PHAROS")
    result = ingest.store_instance(make_dicom(InstanceNumber=4), origin)
    expanded = api.get(f"/instances/{result.instance_id}/metadata?expand").json()
    assert {k: v for k, v in expanded.items() if k != "ReceptionDate"} == {
        "CalledAET": "PHAROS",
        "IndexInSeries": "4",
        "Origin": "DicomProtocol",
        "RemoteAET": "MODALITY",
        "RemoteIP": "10.0.0.7",
        "SopClassUid": "1.2.840.10008.5.1.4.1.1.7",
        "TransferSyntax": "1.2.840.10008.1.2.1",
    }
    assert api.get(f"/series/{result.ids[2]}/metadata/RemoteAET").content == b"MODALITY"
