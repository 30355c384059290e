"""POST /tools/create-dicom, with Orthanc 1.10.1's answers to the same bodies written in."""

import base64
import io
import json
import re
import subprocess

import numpy
import pydicom
import pytest
from PIL import Image

from explorer import index, levels
from tests.conftest import CT_SMALL_IDS

pytestmark = pytest.mark.django_db

GENERIC_FILE_SOP_CLASS = "1.2.276.0.7230010.3.1.0.1"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
# Orthanc 1.10.1's file for {"Tags": {"PatientName": "Hello^World"}}: these tags, no others.
ORTHANC_DEFAULT_KEYWORDS = {
    "SpecificCharacterSet",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "SOPInstanceUID",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "StudyTime",
    "SeriesTime",
    "AcquisitionTime",
    "ContentTime",
    "PatientName",
    "PatientID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"  # 45 bytes: padded in the file


def data_uri(data, mime):
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def image_uri(array, kind="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, kind)
    return data_uri(buffer.getvalue(), f"image/{kind.lower()}")


def create(api, body):
    return api.post("/tools/create-dicom", data=json.dumps(body), content_type="application/json")


def created(api, body):
    response = create(api, body)
    assert response.status_code == 200, response.content
    return response.json()


def stored_file(api, public_id):
    response = api.get(f"/instances/{public_id}/file")
    assert response.status_code == 200
    return pydicom.dcmread(io.BytesIO(b"".join(response.streaming_content)))


def random_pixels(shape, dtype=numpy.uint8):
    high = numpy.iinfo(dtype).max
    return numpy.random.default_rng(1).integers(0, high, shape, dtype=dtype, endpoint=True)


# --- what Orthanc adds ------------------------------------------------------------------------


def test_it_answers_as_orthanc_and_adds_the_same_tags(api):
    answer = created(api, {"Tags": {"PatientName": "Hello^World"}})
    assert set(answer) == {"ID", "ParentPatient", "ParentSeries", "ParentStudy", "Path", "Status"}
    assert answer["Path"] == f"/instances/{answer['ID']}" and answer["Status"] == "Success"
    ds = stored_file(api, answer["ID"])
    assert {element.keyword for element in ds} == ORTHANC_DEFAULT_KEYWORDS
    assert ds.SpecificCharacterSet == "ISO_IR 100"
    assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", ds.PatientID)
    assert len({ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID}) == 3
    assert {ds.StudyDate, ds.SeriesDate, ds.AcquisitionDate, ds.ContentDate} == {ds.InstanceCreationDate}
    assert re.fullmatch(r"\d{6}\.000000", ds.InstanceCreationTime)  # UTC, as Orthanc writes it
    assert ds.file_meta.MediaStorageSOPClassUID == GENERIC_FILE_SOP_CLASS
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert api.get(f"/patients/{answer['ParentPatient']}").status_code == 200


def test_it_keeps_the_body_of_orthanc_0_9(api):
    ds = stored_file(api, created(api, {"PatientName": "Old^Style"})["ID"])
    assert ds.PatientName == "Old^Style" and "InstanceCreationDate" not in ds


# --- images: the pixels read back are the image's --------------------------------------------


# Orthanc's Image Pixel module for each kind of image.
IMAGES = {
    "grey PNG": ((5, 7), numpy.uint8, "PNG", "MONOCHROME2", 1, 8),
    "RGB PNG": ((5, 7, 3), numpy.uint8, "PNG", "RGB", 3, 8),
    "16-bit PNG": ((5, 7), numpy.uint16, "PNG", "MONOCHROME2", 1, 16),
}


@pytest.mark.parametrize("name", IMAGES)
def test_the_pixels_of_a_png_read_back_unchanged(api, name):
    shape, dtype, kind, photometric, samples, bits = IMAGES[name]
    pixels = random_pixels(shape, dtype)
    ds = stored_file(api, created(api, {"Tags": {"PatientName": name}, "Content": image_uri(pixels, kind)})["ID"])
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation) == (5, 7, samples, photometric)
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (bits, bits, bits - 1, 0)
    assert ("PlanarConfiguration" in ds) == (samples == 3) and "SOPClassUID" not in ds
    assert numpy.array_equal(ds.pixel_array, pixels)


def test_dcmtk_reads_the_created_image(api, tmp_path):
    answer = created(api, {"Tags": {"PatientName": "dcmtk"}, "Content": image_uri(random_pixels((5, 7, 3)))})
    path = tmp_path / "created.dcm"
    path.write_bytes(b"".join(api.get(f"/instances/{answer['ID']}/file").streaming_content))
    assert subprocess.run(["dcmftest", str(path)], capture_output=True, text=True).stdout.startswith("yes:")
    dump = subprocess.run(["dcmdump", "-q", str(path)], capture_output=True, text=True)
    assert dump.returncode == 0 and not dump.stderr and "(0028,0004) CS [RGB]" in dump.stdout


def test_the_alpha_channel_of_a_png_is_dropped(api):
    pixels = random_pixels((5, 7, 4))
    ds = stored_file(api, created(api, {"Tags": {}, "Content": image_uri(pixels)})["ID"])
    assert ds.PhotometricInterpretation == "RGB" and numpy.array_equal(ds.pixel_array, pixels[..., :3])


@pytest.mark.parametrize("shape, photometric", [((16, 16), "MONOCHROME2"), ((16, 16, 3), "RGB")])
def test_a_jpeg_is_stored_as_its_decoded_pixels(api, shape, photometric):
    uri = image_uri(random_pixels(shape), "JPEG")
    ds = stored_file(api, created(api, {"Tags": {}, "Content": uri})["ID"])
    decoded = numpy.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert ds.PhotometricInterpretation == photometric and ds.BitsStored == 8
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert numpy.array_equal(ds.pixel_array, decoded)


def test_a_grey_image_keeps_the_photometric_interpretation_given(api):
    body = {"Tags": {"PhotometricInterpretation": "MONOCHROME1"}, "Content": image_uri(random_pixels((4, 4)))}
    assert stored_file(api, created(api, body)["ID"]).PhotometricInterpretation == "MONOCHROME1"


# --- PDF --------------------------------------------------------------------------------------


def test_a_pdf_becomes_an_encapsulated_pdf_served_back(api):
    answer = created(api, {"Tags": {"PatientName": "pdf"}, "Content": data_uri(PDF, "application/pdf")})
    ds = stored_file(api, answer["ID"])
    assert (ds.SOPClassUID, ds.Modality, ds.ConversionType) == (ENCAPSULATED_PDF, "OT", "WSD")
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.file_meta.MediaStorageSOPClassUID == ENCAPSULATED_PDF
    response = api.get(f"/instances/{answer['ID']}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == PDF


def test_the_modality_given_for_a_pdf_is_kept(api):
    body = {"Tags": {"Modality": "DOC"}, "Content": data_uri(PDF, "application/pdf")}
    assert stored_file(api, created(api, body)["ID"]).Modality == "DOC"


# --- Parent -----------------------------------------------------------------------------------


def test_a_series_parent_gives_its_patient_study_and_series_tags(ct):
    answer = created(ct, {"Tags": {"SeriesDescription": "new"}, "Parent": CT_SMALL_IDS["series"]})
    assert (answer["ParentSeries"], answer["ParentStudy"]) == (CT_SMALL_IDS["series"], CT_SMALL_IDS["study"])
    ds = stored_file(ct, answer["ID"])
    # Orthanc's file: the parent's values, its dates, and no tag outside the three modules.
    patient = ("CompressedSamples^CT1", "1CT1", "O", "")
    assert (ds.PatientName, ds.PatientID, ds.PatientSex, ds.PatientBirthDate) == patient
    assert (ds.StudyDate, ds.StudyTime, ds.StudyID, ds.StudyDescription) == ("20040119", "072730", "1CT1", "e+1")
    assert (ds.SeriesDate, ds.SeriesTime, ds.Modality, ds.PatientPosition) == ("19970430", "112749", "CT", "FFS")
    assert ds.SeriesDescription == "new" and "ImageType" not in ds and "Rows" not in ds


def test_a_study_parent_makes_a_new_series_in_it(ct):
    answer = created(ct, {"Tags": {}, "Parent": CT_SMALL_IDS["study"]})
    assert answer["ParentStudy"] == CT_SMALL_IDS["study"] and answer["ParentSeries"] != CT_SMALL_IDS["series"]
    ds = stored_file(ct, answer["ID"])
    assert ds.StudyDate == "20040119" and ds.SeriesDate == ds.InstanceCreationDate and "Modality" not in ds


def test_a_patient_parent_makes_a_new_study(ct):
    answer = created(ct, {"Tags": {}, "Parent": CT_SMALL_IDS["patient"]})
    assert answer["ParentPatient"] == CT_SMALL_IDS["patient"] and answer["ParentStudy"] != CT_SMALL_IDS["study"]


def test_force_lets_tags_override_the_parent(ct):
    body = {"Tags": {"PatientName": "x"}, "Parent": CT_SMALL_IDS["series"], "Force": True}
    assert stored_file(ct, created(ct, body)["ID"]).PatientName == "x"
    body = {"Tags": {"StudyDate": "19990101"}, "Parent": CT_SMALL_IDS["series"]}  # dates: no Force needed
    assert stored_file(ct, created(ct, body)["ID"]).StudyDate == "19990101"


def test_force_lets_tags_set_the_uids(api):
    body = {"Tags": {"SOPInstanceUID": "1.2.3"}, "Force": True}
    assert stored_file(api, created(api, body)["ID"]).SOPInstanceUID == "1.2.3"


# --- values -----------------------------------------------------------------------------------


def test_values_of_every_kind(api):
    body = {
        "Tags": {
            "PatientName": None,
            "Rows": "12",
            "PatientWeight": "60.5",
            "ReferencedStudySequence": [{"ReferencedSOPClassUID": "1.2", "ReferencedSOPInstanceUID": "1.3"}],
            "0009,1001": "x",
            "StudyDescription": data_uri(b"hello", "application/octet-stream"),
        },
        "PrivateCreator": "ACME",
    }
    ds = stored_file(api, created(api, body)["ID"])
    assert ds.PatientName == "" and ds.Rows == 12 and ds.PatientWeight == 60.5
    assert ds.ReferencedStudySequence[0].ReferencedSOPInstanceUID == "1.3"
    assert (ds[0x00091001].VR, ds[0x00091001].value) == ("UN", b"x\0")  # as Orthanc writes it
    assert ds.StudyDescription == "hello"  # a data URI read as its bytes (InterpretBinaryTags)


def test_a_data_uri_is_kept_as_text_when_binary_tags_are_not_interpreted(api):
    uri = data_uri(b"hello", "application/octet-stream")
    body = {"Tags": {"StudyDescription": uri}, "InterpretBinaryTags": False}
    assert stored_file(api, created(api, body)["ID"]).StudyDescription == uri


def test_the_character_set_given_encodes_the_values(api):
    body = {"Tags": {"SpecificCharacterSet": "ISO_IR 192", "PatientName": "Jérôme"}}
    answer = created(api, body)
    ds = stored_file(api, answer["ID"])
    assert ds.SpecificCharacterSet == "ISO_IR 192" and ds.PatientName == "Jérôme"
    raw = api.get(f"/instances/{answer['ID']}/file")
    assert "Jérôme".encode() in b"".join(raw.streaming_content)


# --- Content as a list: a series --------------------------------------------------------------


def test_a_list_of_contents_makes_a_series(api):
    grey = image_uri(random_pixels((4, 4)))
    body = {"Tags": {"PatientName": "ser"}, "Content": [grey, {"Content": grey, "Tags": {"ImageComments": "two"}}]}
    answer = created(api, body)
    assert set(answer) == {"ID", "Path", "Status"} and answer["Path"] == f"/series/{answer['ID']}"
    instances = api.get(f"/series/{answer['ID']}/instances").json()
    files = sorted((stored_file(api, i["ID"]) for i in instances), key=lambda ds: ds.InstanceNumber)
    assert [(ds.InstanceNumber, ds.ImageIndex, ds.ImagesInAcquisition) for ds in files] == [(1, 1, 2), (2, 2, 2)]
    assert files[1].ImageComments == "two" and "ImageComments" not in files[0]


def test_a_series_that_fails_halfway_leaves_nothing(api):
    body = {"Tags": {}, "Content": [image_uri(random_pixels((4, 4))), {"Tags": {}}]}
    response = create(api, body)
    assert (response.status_code, response.json()["OrthancStatus"]) == (400, 2022)
    assert not index.model_for(levels.INSTANCE).objects.exists()


# --- errors, as Orthanc answers them -----------------------------------------------------------

PNG_TEXT = "data:image/png;base64,aGVsbG8="
# (body, HttpStatus, OrthancStatus, Details or Message); Pharos answers 400 where Orthanc
# answers 500 for a client's mistake (unknown tag, undecodable JPEG) and 415 for a MIME type.
ERRORS = [
    ({"Tags": []}, 400, 8, None),
    ({"Tags": "x"}, 400, 8, None),
    ([], 400, 8, None),
    ({"Tags": {"PixelData": "x"}}, 400, 2021, 'Use "Content" to inject an image into a new DICOM instance'),
    ({"Tags": {"SOPInstanceUID": "1.2.3"}}, 400, 2020, "SOPInstanceUID"),
    ({"Tags": {"Nope": "x"}}, 400, 27, None),
    ({"Tags": {}, "Content": "nope"}, 400, 15, "Bad file format"),
    ({"Tags": {}, "Content": data_uri(b"hello", "application/pdf")}, 400, 15, "Not a PDF file"),
    ({"Tags": {}, "Content": PNG_TEXT}, 400, 15, None),
    ({"Tags": {}, "Content": data_uri(b"hello", "image/jpeg")}, 400, 15, None),
    (
        {"Tags": {}, "Content": data_uri(b"hello", "text/plain")},
        415,
        2,
        "Unsupported MIME type for the content of a new DICOM file: text/plain",
    ),
    ({"Tags": {}, "Content": 5}, 400, 2023, None),
    ({"Tags": {}, "Force": "yes"}, 400, 8, None),
    ({"Tags": {}, "InterpretBinaryTags": 1}, 400, 8, None),
    ({"Tags": {}, "PrivateCreator": 1}, 400, 8, None),
    ({"Tags": {"SpecificCharacterSet": "NOPE"}}, 400, 3, "Unknown specific character set: NOPE"),
    ({"Tags": {"PatientName": 5}}, 400, 5, "Bad Parameter type for tag 0010,0010"),
    ({"Tags": {"PatientName": ["a", "b"]}}, 400, 5, "Bad Parameter type for tag 0010,0010"),
    (
        {"Tags": {"Rows": "abc"}},
        400,
        15,
        'While creating a DICOM instance, tag (0028,0010) has out-of-range value: "abc"',
    ),
    (
        {"Tags": {"ReferencedStudySequence": "x"}},
        400,
        15,
        'While creating a DICOM instance, tag (0008,1110) has out-of-range value: "x"',
    ),
    ({"Tags": {}, "Parent": "nope"}, 400, 2024, "Trying to attach a new DICOM instance to an inexistent resource"),
]


@pytest.mark.parametrize("body, status, orthanc_status, text", ERRORS)
def test_errors_are_answered_as_orthanc(api, body, status, orthanc_status, text):
    response = create(api, body)
    answer = response.json()
    assert (response.status_code, answer["HttpStatus"], answer["OrthancStatus"]) == (status, status, orthanc_status)
    if text is not None:
        assert text in (answer.get("Details"), answer["Message"])
    assert not index.model_for(levels.INSTANCE).objects.exists()


def test_an_instance_is_no_parent(ct):
    response = create(ct, {"Tags": {}, "Parent": CT_SMALL_IDS["instance"]})
    assert (response.status_code, response.json()["OrthancStatus"]) == (400, 2025)


def test_an_inherited_value_is_not_overridden_without_force(ct):
    response = create(ct, {"Tags": {"PatientName": "x"}, "Parent": CT_SMALL_IDS["series"]})
    answer = response.json()
    assert (response.status_code, answer["OrthancStatus"], answer["Details"]) == (400, 2020, "PatientName")
    assert answer["Message"] == "Trying to override a value inherited from a parent module"
