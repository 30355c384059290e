"""explorer.dicom: files without a preamble or without a file meta header become Part 10 files;
a file parsed from its path is not read whole."""

import io
import struct
import tracemalloc

import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from explorer import dicom
from explorer.errors import BadFileFormat
from tests.conftest import CT_SMALL, dicom_bytes, sample_path

# pydicom's own files written without a file meta header, and the transfer syntax pydicom
# deduces for each from its first element.
BARE_DATA_SETS = [
    ("rtstruct.dcm", ImplicitVRLittleEndian),
    ("ExplVR_LitEndNoMeta.dcm", ExplicitVRLittleEndian),
    ("ExplVR_BigEndNoMeta.dcm", ExplicitVRBigEndian),
    ("OT-PAL-8-face.dcm", ImplicitVRLittleEndian),
]


def data_set_offset(part10):
    """Where the data set of a Part 10 file begins: after the preamble, DICM and group 0002."""
    source = io.BytesIO(part10)
    pydicom.filereader.read_preamble(source, False)
    pydicom.filereader.read_dataset(source, False, True, stop_when=lambda tag, vr, length: tag.group != 2)
    return source.tell()


def test_a_part10_file_is_left_as_it_is():
    data = dicom_bytes(CT_SMALL)
    assert dicom.as_part10(data) is data


@pytest.mark.parametrize("name, syntax", BARE_DATA_SETS)
def test_a_bare_data_set_gets_a_preamble_and_a_meta_header(name, syntax):
    data = dicom_bytes(name)
    assert not dicom.is_part10(data)
    part10 = dicom.as_part10(data)
    assert part10[:132] == b"\x00" * 128 + b"DICM"
    assert part10[data_set_offset(part10) :] == data  # the data set bytes, unchanged
    written = pydicom.dcmread(io.BytesIO(part10))
    meta = written.file_meta
    assert meta.TransferSyntaxUID == syntax
    assert meta.MediaStorageSOPClassUID == written.SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == written.SOPInstanceUID
    assert meta.FileMetaInformationGroupLength == data_set_offset(part10) - 144
    assert written == pydicom.dcmread(io.BytesIO(data), force=True)


def test_a_file_without_its_preamble_keeps_its_meta_header_values():
    original = dicom_bytes(CT_SMALL)
    part10 = dicom.as_part10(original[132:])  # no preamble, no DICM: the meta group first
    assert part10[data_set_offset(part10) :] == original[data_set_offset(original) :]
    meta = pydicom.dcmread(io.BytesIO(part10)).file_meta
    assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert meta.ImplementationClassUID == pydicom.dcmread(io.BytesIO(original)).file_meta.ImplementationClassUID


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01 not a DICOM file" * 50,
        dicom_bytes("no_meta.dcm"),  # a byte too many before its first element: Orthanc refuses it too
        dicom_bytes(CT_SMALL)[128:],  # DICM but no preamble: Orthanc refuses it too
    ],
)
def test_bytes_that_are_no_data_set_are_refused(data):
    with pytest.raises(BadFileFormat, match="Not a DICOM file"):
        dicom.as_part10(data)


# ---------------------------------------------------------------- parsing a file from its path


def large_file(path, pixel_bytes):
    """CT_small (explicit VR little endian) with frames of 512 × 512 16-bit pixels,
    `pixel_bytes` bytes of them, written after its header."""
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(CT_SMALL)))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 512, 512, pixel_bytes // (512 * 512 * 2)
    del ds.PixelData
    header = io.BytesIO()
    ds.save_as(header)
    with open(path, "wb") as out:
        out.write(header.getvalue())
        out.write(struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OW", 0, pixel_bytes))
        for _ in range(pixel_bytes // 65536):
            out.write(bytes(65536))


@pytest.mark.django_db
def test_a_file_parsed_from_its_path_is_not_read_whole(tmp_path):
    path = tmp_path / "large.dcm"
    large_file(path, 64 * 1024 * 1024)
    tracemalloc.start()
    try:
        parsed = dicom.parse(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    assert parsed.json["7FE00010"] == {"vr": "OW", "BulkDataURI": f"/instances/{parsed.ids[3]}/content/7fe0-0010"}


@pytest.mark.django_db
def test_a_file_parsed_from_its_path_is_parsed_as_its_bytes(tmp_path, monkeypatch):
    # Every value larger than 1 KB is left on disk: the answer is the same.
    monkeypatch.setattr(dicom, "DEFER_SIZE", "1 KB")
    for name in [CT_SMALL, "MR_small.dcm", "JPEG2000.dcm", "emri_small_big_endian.dcm", "OBXXXX1A_rle_2frame.dcm"]:
        from_bytes = dicom.parse(dicom_bytes(name))
        from_path = dicom.parse(str(sample_path(name)))
        assert from_path.json == from_bytes.json and from_path.main_tags == from_bytes.main_tags, name


@pytest.mark.django_db
def test_a_file_whose_large_value_is_cut_short_is_refused_from_its_path(tmp_path):
    path = tmp_path / "large.dcm"
    large_file(path, 1024 * 1024)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 1000)
    with pytest.raises(
        BadFileFormat, match=r"The file is cut short: [0-9,]+ bytes of [0-9,]+ bytes \(it ends inside the pixel data\)"
    ):
        dicom.parse(str(path))


def test_a_bare_data_set_in_a_file_gets_the_header_as_its_bytes_do():
    data = dicom_bytes("rtstruct.dcm")
    header, start = dicom.part10_header(io.BytesIO(data), len(data))
    assert header + data[start:] == dicom.as_part10(data)


# ---------------------------------------------------------------- why a file is refused, in words


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["notes.txt", "cut.dcm", "no-study.dcm", "empty.dcm"])
def test_a_refused_file_is_told_in_a_users_words(name):
    from tests.refused_files import refused_files

    data, reason = refused_files()[name]
    with pytest.raises(BadFileFormat) as refused:
        dicom.parse(dicom.as_part10(data))
    assert refused.value.details == reason
    assert "force" not in reason and "pydicom" not in reason


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, reason",
    [
        (dicom_bytes(CT_SMALL)[:140], "The file is cut short: it ends after 140 bytes, before its data set"),
        (dicom_bytes(CT_SMALL)[:200], "The file is cut short: 200 bytes of at least 248 bytes"),
        (dicom_bytes("MR_truncated.dcm"), "The file is cut short: 9.6 kB of 9.7 kB (it ends inside the pixel data)"),
        (dicom_bytes("rtplan_truncated.dcm"), "2.1 kB of at least 2.4 kB (it ends inside the Beam Sequence element)"),
        (
            dicom_bytes("emri_small.dcm")[:30000],
            "The file is cut short: 30 kB of 84 kB (it ends inside the pixel data)",
        ),
        (dicom_bytes("image_dfl.dcm")[:1500], "The file is cut short: it ends after 1.5 kB, inside a DICOM element"),
        (dicom_bytes("JPEGLSNearLossless_08.dcm"), "No Study Instance UID, no Series Instance UID: the file cannot"),
    ],
)
def test_what_is_wrong_with_a_damaged_file_is_said_plainly(data, reason):
    with pytest.raises(BadFileFormat) as refused:
        dicom.parse(dicom.as_part10(data))
    assert reason in refused.value.details


@pytest.mark.parametrize(
    "head, kind",
    [
        (b"%PDF-1.4\n", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (b"\x00\x01\x02 binary", ""),
        (("Compte rendu " * 39 + "de l’examen\n").encode(), "a text file"),  # ’ across the 512th byte
    ],
)
def test_a_file_that_is_no_dicom_file_is_named_by_what_it_looks_like(head, kind):
    with pytest.raises(BadFileFormat) as refused:
        dicom.as_part10(head + b"\x00" * 300)
    assert refused.value.details == "Not a DICOM file" + (f": it looks like {kind}" if kind else "")


@pytest.mark.parametrize(
    "size, text",
    [(0, "0 bytes"), (1, "1 byte"), (999, "999 bytes"), (1500, "1.5 kB"), (39206, "39 kB"), (5 * 10**6, "5.0 MB")],
)
def test_readable_sizes(size, text):
    assert dicom.readable_size(size) == text
