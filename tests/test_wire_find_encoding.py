"""C-FIND responses written as bytes by dicomnet.wire.find_encoding: the same bytes as pydicom's
and pynetdicom's encoding of the same answers and responses, in every transfer syntax."""

from io import BytesIO

import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.tag import Tag
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.pdu import P_DATA_TF

from dicomnet import find
from dicomnet.wire.find_encoding import IdentifierWriter, message_pdus, message_primitives, pending_command
from tests.find_archive import identifier

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning")]


TRANSFER_SYNTAXES = [
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
]
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
CHARSETS = ["", "ISO_IR 100", "ISO_IR 192", "\\ISO 2022 IR 87", "ISO 2022 IR 13\\ISO 2022 IR 87", "ISO 2022 IR 87",
            "ISO_IR 13", "\\ISO 2022 IR 58", "GB18030", "ISO_IR 144", "UNKNOWN"]  # fmt: skip


def pydicom_bytes(element, charset, transfer_syntax):
    """An element as pydicom writes it in an answer whose SpecificCharacterSet is `charset`;
    the type of the exception when pydicom cannot."""
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = transfer_syntax.is_implicit_VR, transfer_syntax.is_little_endian
    try:
        write_data_element(buffer, element, charset.split("\\") if "\\" in charset else charset)
    except Exception as error:
        return type(error)
    return buffer.getvalue()


# --- Elements ---------------------------------------------------------------------------

TEXTS = [
    ("PatientName", "PN", "Doe^John"),
    ("PatientName", "PN", "Doe^John^^^"),
    ("PatientName", "PN", "Odd"),
    ("PatientName", "PN", "A^B\\C^D"),
    ("PatientName", "PN", "A^B="),  # pydicom drops the empty trailing group
    ("PatientName", "PN", "=A"),
    ("PatientName", "PN", "Yamada^Tarou=山田^太郎=やまだ^たろう"),
    ("PatientName", "PN", "Διονυσιος"),
    ("PatientName", "PN", "ﾔﾏﾀﾞ^ﾀﾛｳ"),
    ("PatientName", "PN", ""),
    ("PatientName", "PN", "\\"),
    ("PatientID", "LO", "P-1"),
    ("PatientID", "LO", " padded "),
    ("PatientID", "LO", "Buc^Jérôme"),
    ("OtherPatientIDs", "LO", "A\\B\\"),
    ("StudyDescription", "LO", "Люкceмбypг"),
    ("AccessionNumber", "SH", "ACC~1\\"),
    ("PatientComments", "LT", "left\\right"),
    ("PatientComments", "LT", "x" * 70_001),  # beyond a short length: pydicom writes UN
    ("StudyComments", "LT", "ligne\r\nsuivante"),
    ("StudyDate", "DA", "20200115"),
    ("StudyDate", "DA", "2020011"),
    ("StudyTime", "TM", "081500.123"),
    ("AcquisitionDateTime", "DT", "20200115081500"),
    ("ModalitiesInStudy", "CS", "CT\\MR"),
    ("ImageType", "CS", "ORIGINAL\\PRIMARY\\AXIAL"),
    ("QueryRetrieveLevel", "CS", "STUDY"),
    ("RetrieveAETitle", "AE", "PHAROS"),
    ("PatientAge", "AS", "050Y"),
    ("StudyInstanceUID", "UI", "1.2.3"),
    ("StudyInstanceUID", "UI", "1.2.34"),
    ("SOPClassesInStudy", "UI", "1.2.3\\1.2.45"),
    ("RetrieveURL", "UR", "http://example.org/x"),
    ("TextValue", "UT", "a\\b"),
    ("LongCodeValue", "UC", "a\\bc"),
    ("NumberOfStudyRelatedInstances", "IS", "3"),
    ("NumberOfStudyRelatedInstances", "IS", "+0012"),
    ("NumberOfStudyRelatedInstances", "IS", " 12"),
    ("NumberOfStudyRelatedInstances", "IS", "1.5"),
    ("NumberOfStudyRelatedInstances", "IS", "x"),
    ("SeriesNumber", "IS", "1\\\\3"),
    ("KVP", "DS", "120"),
    ("KVP", "DS", "120.0"),
    ("KVP", "DS", ".5"),
    ("KVP", "DS", "1e3"),
    ("KVP", "DS", "12345678901234567890"),
    ("PixelSpacing", "DS", "0.5\\0.25"),
    ("Rows", "US", "512"),
    ("Rows", "US", "x"),
    ("Rows", "US", ""),
    ("SmallestImagePixelValue", "SS", "-3"),
    ("FrameTime", "DS", "-0.5"),
    ("RescaleSlope", "FD", "1.5\\2"),
    ("ReferencedStudySequence", "SQ", ""),
    ("PrivateCreator", "UN", ""),
]


@pytest.mark.parametrize("transfer_syntax", TRANSFER_SYNTAXES, ids=lambda uid: uid.name)
@pytest.mark.parametrize("charset", CHARSETS)
def test_a_text_element_is_written_as_pydicom_writes_it(transfer_syntax, charset):
    writer = IdentifierWriter(transfer_syntax)
    written_here = 0
    for keyword, vr, text in TEXTS:
        tag = Tag(keyword) if keyword != "PrivateCreator" else Tag(0x00091010)
        expected = pydicom_bytes(find.text_element(tag, vr, text), charset, transfer_syntax)
        encoded = writer.text(tag, vr, text, charset)
        if encoded is None:  # left to pydicom
            try:
                encoded = writer.element(find.text_element(tag, vr, text), charset)
            except Exception as error:
                encoded = type(error)
        else:
            written_here += 1
        assert encoded == expected, (keyword, vr, text)
    assert written_here > len(TEXTS) // 3


def test_ascii_texts_in_plain_character_sets_are_written_here():
    writer = IdentifierWriter(ExplicitVRLittleEndian)
    for charset in ("", "ISO_IR 100", "ISO_IR 192", "\\ISO 2022 IR 87", "GB18030"):
        assert writer.text(Tag("PatientName"), "PN", "Doe^John", charset) == b"\x10\x00\x10\x00PN\x08\x00Doe^John"
    # pydicom's codecs for ISO 2022 Japanese write even ASCII their own way
    assert writer.text(Tag("PatientName"), "PN", "Doe^John", "ISO 2022 IR 87") is None
    assert writer.text(Tag("StudyInstanceUID"), "UI", "1.2.3", "ISO 2022 IR 87") == b" \x00\r\x00UI\x06\x001.2.3\x00"


# --- Whole answers ----------------------------------------------------------------------

QUERIES = [
    (find.PATIENT_ROOT, "PATIENT", None, ["PatientName", "PatientID", "PatientBirthDate", "PatientSex",
        "OtherPatientIDs", "NumberOfPatientRelatedStudies", "NumberOfPatientRelatedSeries",
        "NumberOfPatientRelatedInstances", "PatientComments"]),
    (find.PATIENT_ROOT, "PATIENT", "ISO_IR 100", ["PatientName", "PatientID"]),
    (find.PATIENT_ROOT, "PATIENT", "ISO_IR 144", ["PatientName", "PatientID", "PatientBirthDate"]),
    (find.PATIENT_ROOT, "PATIENT", "ISO_IR 126", ["PatientName", "PatientID"]),
    (find.STUDY_ROOT, "STUDY", None, ["PatientName", "PatientID", "StudyInstanceUID", "StudyDate", "StudyTime",
        "AccessionNumber", "StudyDescription", "ModalitiesInStudy", "SOPClassesInStudy", "StudyID",
        "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "ReferringPhysicianName", "PatientAge",
        "ReferencedStudySequence", "KVP"]),
    (find.STUDY_ROOT, "STUDY", ["", "ISO 2022 IR 87"], ["PatientName", "PatientID", "StudyDescription"]),
    (find.STUDY_ROOT, "STUDY", "ISO 2022 IR 87", ["PatientName", "PatientID", "StudyInstanceUID"]),
    (find.STUDY_ROOT, "STUDY", "ISO_IR 192", ["PatientName", "StudyDescription", "ModalitiesInStudy"]),
    (find.STUDY_ROOT, "SERIES", None, ["StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber",
        "SeriesDescription", "NumberOfSeriesRelatedInstances", "BodyPartExamined", "PatientName",
        "PerformedProcedureStepStartDate", "ReferencedPerformedProcedureStepSequence"]),
    (find.PATIENT_ROOT, "IMAGE", None, ["SOPInstanceUID", "SOPClassUID", "InstanceNumber", "KVP", "Rows",
        "Columns", "PixelSpacing", "ImageType", "SliceThickness", "WindowCenter", "ImagePositionPatient",
        "BeamSequence", "FrameIncrementPointer", "ContentDate", "PatientName", "ImageComments",
        "SmallestImagePixelValue", "ReferencedImageSequence", "RTPlanLabel"]),
    (find.STUDY_ROOT, "IMAGE", "ISO_IR 100", ["SOPInstanceUID", "InstanceNumber", "PatientName", "Manufacturer",
        "InstitutionName", "BitsAllocated", "PixelRepresentation"]),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("transfer_syntax", TRANSFER_SYNTAXES, ids=lambda uid: uid.name)
@pytest.mark.parametrize("model, level, charset, keywords", QUERIES)
def test_answers_as_pynetdicom_encodes_them(archive, transfer_syntax, model, level, charset, keywords):  # noqa: F811
    query = identifier(level, charset, **{keyword: "" for keyword in keywords})
    found = find.search(find.parse_request(query, model), limit=0)
    assert len(found) > 0
    expected = [
        encode(answer, transfer_syntax.is_implicit_VR, transfer_syntax.is_little_endian, transfer_syntax.is_deflated)
        for answer in found.answers()
    ]
    assert list(found.encoded_answers(IdentifierWriter(transfer_syntax))) == expected


def test_an_answer_pydicom_cannot_write_is_refused():
    # pydicom's ISO 2022 Japanese codec fails on an empty name group (and pynetdicom then
    # answered 0xC312 too).
    request = find.parse_request(identifier("PATIENT", "ISO 2022 IR 87", PatientName=""), find.PATIENT_ROOT)
    found = find.Found(request, rows=[(1, "=A")], truncated=False, columns={"PatientName": 1})
    with pytest.raises(find.FindRefused) as refused:
        list(found.encoded_answers(IdentifierWriter(ExplicitVRLittleEndian)))
    assert refused.value.status == find.CANNOT_ENCODE == 0xC312


# --- Pending responses ------------------------------------------------------------------


def pynetdicom_pdvs(sop_class, message_id, identifier, max_pdu_length):
    """The PDVs of a pending C-FIND-RSP as pynetdicom's service class sends them."""
    response = C_FIND()
    response.MessageID = response.MessageIDBeingRespondedTo = message_id
    response.AffectedSOPClassUID = sop_class
    response.Status = 0xFF00
    response.Identifier = BytesIO(identifier)
    message = C_FIND_RSP()
    message.primitive_to_message(response)
    primitives = message.encode_msg(1, max_pdu_length)
    return [pdv for primitive in primitives for pdv in primitive.presentation_data_value_list]


@pytest.mark.parametrize("sop_class", [STUDY_ROOT_FIND, PATIENT_ROOT_FIND])
@pytest.mark.parametrize("message_id", [1, 7, 0xFFFF])
@pytest.mark.parametrize("max_pdu_length", [0, 40, 100, 1000, 16382, 131072])
@pytest.mark.parametrize("identifier_length", [2, 500, 5000])
def test_pending_responses_are_pynetdicom_s(sop_class, message_id, max_pdu_length, identifier_length):
    data = bytes(range(256)) * (identifier_length // 256) + b"x" * (identifier_length % 256)
    primitives = message_primitives(1, pending_command(sop_class, message_id), data, max_pdu_length)
    pdvs = [pdv for primitive in primitives for pdv in primitive.presentation_data_value_list]
    assert pdvs == pynetdicom_pdvs(sop_class, message_id, data, max_pdu_length)
    for primitive in primitives:
        pdu = P_DATA_TF(primitive).encode()
        assert max_pdu_length == 0 or len(pdu) - 6 <= max_pdu_length  # the PDU header is 6 bytes
    written = message_pdus(1, pending_command(sop_class, message_id), data, max_pdu_length)
    assert written == b"".join(P_DATA_TF(primitive).encode() for primitive in primitives)


def test_a_response_fits_one_pdu_when_the_peer_allows():
    (primitive,) = message_primitives(1, pending_command(STUDY_ROOT_FIND, 1), b"x" * 300, 16384)
    assert [pdv[1][0] for pdv in primitive.presentation_data_value_list] == [0x03, 0x02]
