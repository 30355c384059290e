"""explorer.dicom: files without a preamble or without a file meta header become Part 10 files."""

import io

import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from explorer import dicom
from explorer.errors import BadFileFormat
from tests.conftest import CT_SMALL, dicom_bytes

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
    with pytest.raises(BadFileFormat, match="Cannot parse an invalid DICOM file"):
        dicom.as_part10(data)
