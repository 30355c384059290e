"""WADO-URI (explorer/dicomweb/wado_uri.py): the stored file, transcoded on request, or a picture
of a frame; the requests Orthanc refuses, refused with a message."""

import io

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from tests.conftest import CT_SMALL, dicom_bytes, upload

pytestmark = pytest.mark.django_db

CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
CT_SOP = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
CT = f"/wado?requestType=WADO&studyUID={CT_STUDY}&seriesUID={CT_SERIES}&objectUID={CT_SOP}"


@pytest.fixture
def ct(api):
    assert upload(api, dicom_bytes(CT_SMALL)).status_code == 200
    return api


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def picture(response, kind):
    assert response.status_code == 200, body(response)[:300]
    assert response["Content-Type"] == f"image/{kind.lower()}"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == kind
    return image


def test_the_stored_file_as_it_is_or_transcoded(ct):
    response = ct.get(CT + "&contentType=application/dicom")
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom"
    assert body(response) == dicom_bytes(CT_SMALL)
    # Only the instance's UID is needed, as in Orthanc.
    alone = ct.get(f"/wado?requestType=WADO&objectUID={CT_SOP}&contentType=application/dicom")
    assert body(alone) == dicom_bytes(CT_SMALL)
    transcoded = ct.get(CT + f"&contentType=application/dicom&transferSyntax={JPEG2000Lossless}")
    dataset = pydicom.dcmread(io.BytesIO(body(transcoded)))
    assert dataset.file_meta.TransferSyntaxUID == JPEG2000Lossless
    original = pydicom.dcmread(io.BytesIO(dicom_bytes(CT_SMALL)))
    assert np.array_equal(dataset.pixel_array, original.pixel_array)
    same = ct.get(CT + f"&contentType=application/dicom&transferSyntax={ExplicitVRLittleEndian}")
    assert body(same) == dicom_bytes(CT_SMALL)  # stored in that syntax already
    assert ct.get(CT + "&contentType=application/dicom&transferSyntax=1.2.3").status_code == 400


def test_a_picture_jpeg_by_default(ct):
    assert picture(ct.get(CT), "JPEG").size == (128, 128)
    assert picture(ct.get(CT + "&contentType=image/jpg"), "JPEG").size == (128, 128)
    png = picture(ct.get(CT + "&contentType=image/png"), "PNG")
    assert png.size == (128, 128) and png.mode == "L"
    # A list takes the first Pharos serves.
    picture(ct.get(CT + "&contentType=image/gif,image/png"), "PNG")
    # rows and columns bound the size, the aspect kept.
    assert picture(ct.get(CT + "&rows=32&columns=64"), "JPEG").size == (32, 32)
    low, high = ct.get(CT + "&imageQuality=5"), ct.get(CT + "&imageQuality=100")
    assert len(low.content) < len(high.content)
    narrow = np.asarray(picture(ct.get(CT + "&contentType=image/png&windowCenter=40&windowWidth=10"), "PNG"))
    assert np.isin(narrow, (0, 255)).mean() > 0.9  # a window 10 wide: black or white
    for bad in ("rows=0", "imageQuality=101", "windowWidth=0", "frameNumber=0", "columns=x"):
        assert ct.get(CT + "&" + bad).status_code == 400, bad


def test_frames_are_numbered_from_1(api):
    data = dicom_bytes("emri_small.dcm")
    assert upload(api, data).status_code == 200
    uid = pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID
    base = f"/wado?requestType=WADO&objectUID={uid}&contentType=image/png"
    first = np.asarray(picture(api.get(base + "&frameNumber=1"), "PNG"))
    assert np.array_equal(first, np.asarray(picture(api.get(base), "PNG")))
    assert not np.array_equal(first, np.asarray(picture(api.get(base + "&frameNumber=4"), "PNG")))
    refused = api.get(base + "&frameNumber=11")
    assert refused.status_code == 400 and "Frame 11 does not exist" in refused.json()["Details"]


def test_what_is_refused_says_why(ct):
    for query, status, words in (
        (f"objectUID={CT_SOP}", 400, "requestType"),
        (f"requestType=WADO-RS&objectUID={CT_SOP}", 400, "requestType"),
        (f"requestType=WADO&studyUID={CT_STUDY}", 400, "objectUID"),
        (f"requestType=WADO&objectUID={CT_SOP}&contentType=text/html", 400, "text/html"),
        ("requestType=WADO&objectUID=not-a-uid", 400, "objectUID"),
        ("requestType=WADO&objectUID=1.2.3", 404, "1.2.3"),
        (f"requestType=WADO&objectUID={CT_SOP}&studyUID=1.2.3", 404, CT_SOP),
        (f"requestType=WADO&objectUID={CT_SOP}&seriesUID=1.2.3", 404, CT_SOP),
    ):
        response = ct.get("/wado?" + query)
        assert response.status_code == status, query
        assert words in response.json()["Details"], query


def test_rtplan_has_no_picture_but_its_file(ct):
    data = dicom_bytes("rtplan.dcm")
    assert upload(ct, data).status_code == 200
    uid = pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID
    assert ct.get(f"/wado?requestType=WADO&objectUID={uid}").status_code == 415
    response = ct.get(f"/wado?requestType=WADO&objectUID={uid}&contentType=application/dicom")
    assert body(response) == data


def test_wado_needs_credentials(client, user):
    assert client.get(CT).status_code == 401
