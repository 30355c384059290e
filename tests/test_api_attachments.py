"""GET /{level}/{id}/attachments… (explorer/api/attachments.py): the stored file as Orthanc's
"dicom" attachment, with the answers Orthanc 1.10.1 gives for CT_small."""

import pytest

from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes

pytestmark = pytest.mark.django_db

INSTANCE, STUDY = CT_SMALL_IDS["instance"], CT_SMALL_IDS["study"]
MD5 = "ccf71ca6735bc1c52fbe33e29eb42886"
DICOM = f"/instances/{INSTANCE}/attachments/dicom"


def test_an_instance_has_its_file_as_the_dicom_attachment(ct):
    assert ct.get(f"/instances/{INSTANCE}/attachments").json() == ["dicom"]
    assert ct.get(f"/instances/{INSTANCE}/attachments?full").json() == {"dicom": 1}
    assert ct.get(f"/studies/{STUDY}/attachments").json() == []
    info = ct.get(f"{DICOM}/info")
    assert info["ETag"] == f'"0-{MD5}"'
    assert info.json() | {"Uuid": None} == {
        "CompressedMD5": MD5,
        "CompressedSize": 39206,
        "ContentType": 1,
        "UncompressedMD5": MD5,
        "UncompressedSize": 39206,
        "Uuid": None,
    }
    data = ct.get(f"{DICOM}/data")
    assert (data["Content-Type"], b"".join(data.streaming_content)) == ("application/dicom", dicom_bytes(CT_SMALL))
    assert data["Content-Disposition"] == f'filename="{info.json()["Uuid"]}.dcm"'
    texts = {name: ct.get(f"{DICOM}/{name}").content for name in ("md5", "size", "is-compressed")}
    assert texts == {"md5": MD5.encode(), "size": b"39206", "is-compressed": b"0"}


def test_other_attachments_do_not_exist(ct):
    missing = ct.get(f"/instances/{INSTANCE}/attachments/nope/info")
    assert (missing.status_code, missing.json()["OrthancStatus"]) == (404, 7)
    assert ct.get(f"/studies/{STUDY}/attachments/dicom/data").status_code == 404
