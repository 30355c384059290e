"""REST routes of explorer/api/instances.py: uploads of what devices send, the content of the
pixel data, the PDF of an encapsulated PDF. Each expected answer was read from Orthanc 1.10.1
given the same files and requests."""

import io
import subprocess

import pydicom
import pytest
from PIL import Image

from explorer import incoming
from explorer.models import Instance
from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, upload, zip_of
from tests.tools import require_tool

pytestmark = pytest.mark.django_db

# Orthanc's ids of pydicom's files written without a file meta header.
RTSTRUCT_ID = "2c10196c-9ff8df3f-9513776e-258e8f85-ed1fd3ba"
NO_META_ID = "e4fc48da-1d3f3fba-107ec509-16996dd4-01ccabd1"  # ExplVR_{Lit,Big}EndNoMeta.dcm
MR_SMALL_ID = "2f859814-2cf8fe4f-c7963e7d-d32c018d-66fc8cfa"
JPEG2000_ID = "bac127ea-4488db0e-293f7785-d4614281-7379578f"
RLE_2FRAME_ID = "bfd4ae85-351ed5ec-db43889b-b394dc63-c657cdd9"


def file_of(api, instance_id):
    response = api.get(f"/instances/{instance_id}/file")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def encapsulated_pdf(folder):
    """(the PDF, an Encapsulated PDF instance of it made by DCMTK's pdf2dcm)."""
    pdf = folder / "report.pdf"
    Image.new("RGB", (200, 100), "white").save(pdf)
    dicom = folder / "report.dcm"
    subprocess.run([require_tool("pdf2dcm"), str(pdf), str(dicom)], check=True, capture_output=True)
    return pdf.read_bytes(), dicom.read_bytes()


# ---------------------------------------------------------------- files without a meta header


@pytest.mark.parametrize(
    "name, expected_id, syntax",
    [
        ("rtstruct.dcm", RTSTRUCT_ID, "1.2.840.10008.1.2"),
        ("ExplVR_LitEndNoMeta.dcm", NO_META_ID, "1.2.840.10008.1.2.1"),
        ("ExplVR_BigEndNoMeta.dcm", NO_META_ID, "1.2.840.10008.1.2.2"),
    ],
)
def test_a_bare_data_set_is_stored_as_a_part10_file(api, name, expected_id, syntax):
    data = dicom_bytes(name)
    response = upload(api, data)
    assert response.status_code == 200
    assert response.json()["ID"] == expected_id
    assert response.json()["Status"] == "Success"
    stored = file_of(api, expected_id)
    assert stored[128:132] == b"DICM" and stored.endswith(data)
    assert pydicom.dcmread(io.BytesIO(stored)).file_meta.TransferSyntaxUID == syntax
    assert api.get(f"/instances/{expected_id}/header?simplify").json()["TransferSyntaxUID"] == syntax


def test_a_file_without_its_preamble_is_stored_like_the_whole_file(api):
    without_preamble = dicom_bytes(CT_SMALL)[132:]
    answer = upload(api, without_preamble).json()
    assert (answer["ID"], answer["Status"]) == (CT_SMALL_IDS["instance"], "Success")
    assert file_of(api, answer["ID"])[128:132] == b"DICM"
    assert upload(api, dicom_bytes(CT_SMALL)).json()["Status"] == "AlreadyStored"


def test_a_bare_data_set_inside_a_zip(api):
    body = zip_of({"rtstruct.dcm": dicom_bytes("rtstruct.dcm")})
    assert [a["ID"] for a in upload(api, body, content_type="application/zip").json()] == [RTSTRUCT_ID]


# ---------------------------------------------------------------- ZIP archives


def test_a_zip_with_non_dicom_entries_stores_the_dicom_ones_and_answers_200(api, storage_dir):
    body = zip_of(
        {
            "a/ct.dcm": dicom_bytes(CT_SMALL),
            "readme.txt": b"hello, not dicom",
            "notes.pdf": b"%PDF-1.4 junk",
            "truncated.dcm": dicom_bytes(CT_SMALL)[:30000],
            "b/mr.dcm": dicom_bytes("MR_small.dcm"),
            "empty.dcm": b"",
        }
    )
    response = upload(api, body, content_type="application/zip")
    assert response.status_code == 200
    answers = response.json()
    assert [(a["ID"], a["Status"]) for a in answers] == [
        (CT_SMALL_IDS["instance"], "Success"),
        (MR_SMALL_ID, "Success"),
    ]
    assert answers[0] == {
        "Filename": "a/ct.dcm",  # ours: the upload page names each member
        "ID": CT_SMALL_IDS["instance"],
        "ParentPatient": CT_SMALL_IDS["patient"],
        "ParentSeries": CT_SMALL_IDS["series"],
        "ParentStudy": CT_SMALL_IDS["study"],
        "Path": f"/instances/{CT_SMALL_IDS['instance']}",
        "Status": "Success",
    }
    assert Instance.objects.count() == 2


def test_a_zip_without_any_dicom_file_answers_an_empty_list(api):
    response = upload(api, zip_of({"readme.txt": b"hello"}), content_type="application/zip")
    assert (response.status_code, response.json()) == (200, [])


def test_a_broken_zip_body_is_a_bad_file(api):
    response = upload(api, b"PK\x03\x04 this is no archive at all, sorry", content_type="application/zip")
    assert response.status_code == 400
    assert (response.json()["OrthancStatus"], response.json()["Message"]) == (15, "Bad file format")
    assert "ZIP archive" in response.json()["Details"]


def test_the_upload_page_asks_for_the_rejected_members_too(api):
    body = zip_of({"good.dcm": dicom_bytes(CT_SMALL), "bad.dcm": b"garbage" * 100})
    response = api.post("/instances?report-failures", data=body, content_type="application/zip")
    assert response.status_code == 400
    good, bad = response.json()
    assert good["Status"] == "Success"
    assert bad == {
        "Details": bad["Details"],
        "Filename": "bad.dcm",
        "HttpStatus": 400,
        "Message": "Bad file format",
        "Status": "Failure",
    }


# ---------------------------------------------------------------- multipart bodies

MULTIPART_PART_HEADERS = {
    "usual": b'Content-Disposition: form-data; name="file"; filename="x.dcm"\r\nContent-Type: application/dicom',
    "no spaces, two before filename": b'Content-Disposition:form-data;name="file";  filename="x.dcm"',
    "spaces around ; and =": b'Content-Disposition: form-data ; name = "file" ; filename = "x.dcm"',
    "lower case": b'content-disposition: form-data; name="file"; filename="x.dcm"',
    "upper case": b'CONTENT-DISPOSITION: FORM-DATA; NAME="file"; FILENAME="x.dcm"',
    "tabs": b'Content-Disposition:\tform-data;\tname="file";\tfilename="x.dcm"',
    "unquoted": b"Content-Disposition: form-data; name=file; filename=x.dcm",
    # Django's parser drops these four; Orthanc stores them all.
    "space before the colon": b'Content-Disposition : form-data; name="file"; filename="x.dcm"',
    "folded": b'Content-Disposition: form-data;\r\n name="file"; filename="x.dcm"',
    "no filename": b'Content-Disposition: form-data; name="x.dcm"',
    "no disposition": b"Content-Type: application/dicom",
}


@pytest.mark.parametrize("headers", MULTIPART_PART_HEADERS.values(), ids=MULTIPART_PART_HEADERS.keys())
def test_multipart_part_headers_as_devices_write_them(api, headers):
    body = b"--BOUND\r\n" + headers + b"\r\n\r\n" + dicom_bytes("MR_small.dcm") + b"\r\n--BOUND--\r\n"
    response = api.post("/instances", data=body, content_type="multipart/form-data; boundary=BOUND")
    assert response.status_code == 200
    [answer] = response.json()
    assert (answer["ID"], answer["Status"]) == (MR_SMALL_ID, "Success")
    assert answer["Filename"] == ("part 1" if headers == MULTIPART_PART_HEADERS["no disposition"] else "x.dcm")


def test_a_multipart_body_with_a_quoted_boundary_a_preamble_and_two_files(api, monkeypatch):
    real_write = incoming.write_chunks
    body = (
        b"a preamble to ignore\r\n--BOUND  \r\n"
        b'Content-Disposition: form-data; name="a"; filename="ct.dcm"\r\n\r\n' + dicom_bytes(CT_SMALL) + b"\r\n"
        b"--BOUND\r\nContent-Disposition: form-data; name=\"b\"; filename*=UTF-8''m%C3%A9.dcm\r\n\r\n"
        + dicom_bytes("MR_small.dcm")
        + b"\r\n--BOUND--\r\nan epilogue"
    )
    written = []
    monkeypatch.setattr(incoming, "write_chunks", lambda *a, **k: written.append(real_write(*a, **k)) or written[-1])
    response = api.post("/instances", data=body, content_type='multipart/form-data; boundary="BOUND"')
    assert response.status_code == 200
    assert [a["Filename"] for a in response.json()] == ["ct.dcm", "mé.dcm"]
    # The parts are all received before the first is stored: none is also held in memory.
    assert len(written) == 2 and [path.data for path in written] == [None, None]


def test_a_multipart_related_body_is_read_as_one_file_as_orthanc_does(api):
    body = b"--BOUND\r\nContent-Type: application/dicom\r\n\r\n" + dicom_bytes("MR_small.dcm") + b"\r\n--BOUND--\r\n"
    content_type = 'multipart/related; type="application/dicom"; boundary=BOUND'
    response = api.post("/instances", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["Message"] == "Bad file format"


def test_a_multipart_body_without_a_file_is_refused(api):
    body = b'--BOUND\r\nContent-Disposition: form-data; name="file"; filename=""\r\n\r\n\r\n--BOUND--\r\n'
    response = api.post("/instances", data=body, content_type="multipart/form-data; boundary=BOUND")
    assert response.status_code == 415


# ---------------------------------------------------------------- /content/7fe0-0010


def test_encapsulated_pixel_data_lists_its_items_the_offset_table_first(api):
    instance = upload(api, dicom_bytes("JPEG2000.dcm")).json()["ID"]
    assert instance == JPEG2000_ID
    listing = api.get(f"/instances/{instance}/content/7fe0-0010")
    assert (listing.status_code, listing.json()) == (200, ["0", "1"])
    assert api.get(f"/instances/{instance}/content/7fe0-0010/").json() == ["0", "1"]
    assert api.get(f"/instances/{instance}/content/7fe0-0010/0").content == b""  # an empty offset table
    fragment = api.get(f"/instances/{instance}/content/7fe0-0010/1")
    assert fragment["Content-Type"] == "application/octet-stream"
    assert len(fragment.content) == 250 and fragment.content.startswith(b"\xff\x4f")  # a J2K codestream
    assert api.get(f"/instances/{instance}/content/7fe0-0010/01").content == fragment.content
    for missing in ("2", "-1", "x", "1/0010-0010"):
        response = api.get(f"/instances/{instance}/content/7fe0-0010/{missing}")
        assert (response.status_code, response.content) == (404, b""), missing


def test_a_multi_frame_file_has_one_item_per_frame(api):
    instance = upload(api, dicom_bytes("OBXXXX1A_rle_2frame.dcm")).json()["ID"]
    assert instance == RLE_2FRAME_ID
    assert api.get(f"/instances/{instance}/content/7fe0-0010").json() == ["0", "1", "2"]
    assert len(api.get(f"/instances/{instance}/content/7fe0-0010/2").content) == 42832


def test_native_pixel_data_is_one_value_item_0(api):
    instance = upload(api, dicom_bytes(CT_SMALL)).json()["ID"]
    whole = api.get(f"/instances/{instance}/content/7fe0-0010").content
    assert len(whole) == 32768
    assert api.get(f"/instances/{instance}/content/7fe0-0010/0").content == whole
    assert api.get(f"/instances/{instance}/content/7fe0-0010/1").status_code == 404


def test_content_of_an_unknown_instance_is_orthancs_json_404(api):
    response = api.get("/instances/nope/content/7fe0-0010")
    assert response.status_code == 404
    assert response.json()["OrthancStatus"] == 17


# ---------------------------------------------------------------- /pdf


def test_the_pdf_of_an_encapsulated_pdf(api, tmp_path):
    pdf, dicom = encapsulated_pdf(tmp_path)
    instance = upload(api, dicom).json()["ID"]
    response = api.get(f"/instances/{instance}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    # The whole PDF. Orthanc cuts any last byte that is not CR or LF, here "%%EOF" to "%%EO";
    # only a NUL pad byte is removed here.
    assert response.content == pdf


def test_the_pad_byte_of_an_odd_pdf_is_removed(api, tmp_path):
    pdf, _ = encapsulated_pdf(tmp_path)
    odd = pdf + b"\n" if len(pdf) % 2 == 0 else pdf
    (tmp_path / "report.pdf").write_bytes(odd)
    subprocess.run([require_tool("pdf2dcm"), str(tmp_path / "report.pdf"), str(tmp_path / "odd.dcm")], check=True)
    instance = upload(api, (tmp_path / "odd.dcm").read_bytes()).json()["ID"]
    assert api.get(f"/instances/{instance}/pdf").content == odd


def test_an_instance_that_is_no_pdf_is_404_empty_and_an_unknown_one_orthancs_json(api):
    instance = upload(api, dicom_bytes(CT_SMALL)).json()["ID"]
    response = api.get(f"/instances/{instance}/pdf")
    assert (response.status_code, response.content) == (404, b"")
    unknown = api.get("/instances/nope/pdf")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "HttpError": "Not Found",
        "HttpStatus": 404,
        "Message": "Unknown resource",
        "Method": "GET",
        "OrthancError": "Unknown resource",
        "OrthancStatus": 17,
        "Uri": "/instances/nope/pdf",
    }
