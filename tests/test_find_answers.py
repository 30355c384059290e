"""C-FIND answers (dicomnet.find_answers): the values of the keys asked for, from main tags,
parents, the first instance's stored data set and computed keys, and the character set of each
answer, on the index of tests/find_archive.py."""

import io

import pydicom
import pytest
from pydicom.filewriter import write_dataset

from dicomnet import find, find_answers
from explorer import runtime_settings
from explorer.ingest import Origin, store_instance
from explorer.models import Study
from tests.find_archive import (
    CT_CLASS,
    DOE_BRAIN,
    GREEK_NAME,
    H31_NAME,
    INSTANCES,
    MR_CLASS,
    RTPLAN_SOP,
    SERIES,
    ask,
    identifier,
)
from tests.test_api_representation import numbers_file

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]


# --- The answers ----------------------------------------------------------------------


def test_answers_hold_exactly_the_keys_asked_for_and_three_more(archive, settings):
    settings.PHAROS_AET = "MYPACS"
    (answer,) = ask("STUDY", AccessionNumber="ACC-2", PatientName="", StudyDate="", ReferringPhysicianName="")
    assert set(answer.keys()) == {0x00080005, 0x00080020, 0x00080050, 0x00080052, 0x00080054, 0x00080090, 0x00100010}
    assert answer.QueryRetrieveLevel == "STUDY"
    assert answer.RetrieveAETitle == "MYPACS"
    assert (answer.AccessionNumber, str(answer.PatientName), answer.StudyDate) == ("ACC-2", "Doe^John", "20210620")
    # Not in the file: asked for, so present and empty.
    assert answer["ReferringPhysicianName"].VR == "PN" and answer.ReferringPhysicianName == ""


def test_keys_of_higher_levels_come_from_the_parents(archive):
    (answer,) = ask(
        "IMAGE",
        SOPInstanceUID=INSTANCES["doe-ct-2"],
        PatientBirthDate="",
        StudyDescription="",
        SeriesInstanceUID="",
        Modality="",
        InstanceNumber="",
    )
    assert answer.PatientBirthDate == "19700101"
    assert answer.StudyDescription == "Brain"
    assert (answer.SeriesInstanceUID, answer.Modality) == (SERIES["doe-ct"], "CT")
    assert answer.InstanceNumber == 2
    assert answer.QueryRetrieveLevel == "IMAGE"


def test_a_key_of_a_lower_level_comes_from_the_first_instance(archive):
    (answer,) = ask("STUDY", StudyInstanceUID=DOE_BRAIN, Modality="", SOPInstanceUID="")
    assert (answer.Modality, answer.SOPInstanceUID) == ("CT", INSTANCES["doe-ct-1"])


def test_a_sequence_comes_back_from_the_stored_data_set(archive):
    (plan,) = ask("IMAGE", SOPInstanceUID=RTPLAN_SOP, ReferencedStructureSetSequence=[], BeamSequence=[])
    expected = pydicom.dcmread(pydicom.data.get_testdata_file("rtplan.dcm"))
    stored_item = expected.ReferencedStructureSetSequence[0]
    assert plan.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID == stored_item.ReferencedSOPInstanceUID
    assert len(plan.BeamSequence) == len(expected.BeamSequence)
    (ct,) = ask("IMAGE", SOPInstanceUID=INSTANCES["doe-ct-1"], BeamSequence=[])
    assert ct["BeamSequence"].VR == "SQ" and len(ct.BeamSequence) == 0


def test_decimals_in_sequences_are_written_as_in_the_file(archive):
    """Orthanc 1.10.1 answers rtplan's BeamMeterset as the file writes it: 116.003669700000."""
    (plan,) = ask("IMAGE", SOPInstanceUID=RTPLAN_SOP, FractionGroupSequence=[], BeamSequence=[])
    expected = pydicom.dcmread(pydicom.data.get_testdata_file("rtplan.dcm"))
    meterset = plan.FractionGroupSequence[0].ReferencedBeamSequence[0]["BeamMeterset"]
    assert str(meterset.value) == "116.003669700000"
    isocenter = plan.BeamSequence[0].ControlPointSequence[0].IsocenterPosition
    stored = expected.BeamSequence[0].ControlPointSequence[0].IsocenterPosition
    assert (
        [str(v) for v in isocenter]
        == [str(v) for v in stored]
        == ["235.711172833292", "244.135437110782", "-724.97815409918"]
    )


def test_decimals_stored_as_numbers_come_back_in_their_shortest_spelling():
    """A data set stored before the text of IS and DS was kept holds numbers."""
    element_json = {"vr": "SQ", "Value": [{"300A0086": {"vr": "DS", "Value": [116.0036697]}}]}
    element = find.data_set_value(key("ReferencedBeamSequence"), element_json)
    assert str(element.value[0].BeamMeterset) == "116.0036697"


def key(keyword, source=find.DATA_SET):
    tag = pydicom.tag.Tag(keyword)
    return find.ReturnKey(tag, pydicom.datadict.dictionary_VR(tag), source, f"{int(tag):08X}")


@pytest.mark.parametrize(
    "keyword, element_json, expected",
    [
        ("PatientAge", {"vr": "AS", "Value": ["050Y"]}, "050Y"),
        ("KVP", {"vr": "DS", "Value": [120]}, "120"),
        ("KVP", {"vr": "DS", "Value": ["120.0"]}, "120.0"),
        ("ImagePositionPatient", {"vr": "DS", "Value": ["-1.50", "2.0", "3"]}, ["-1.50", "2.0", "3"]),
        ("SeriesNumber", {"vr": "IS", "Value": ["04"]}, "04"),
        ("PixelSpacing", {"vr": "DS", "Value": [0.5, 0.25]}, ["0.5", "0.25"]),
        ("SeriesNumber", {"vr": "IS", "Value": [3]}, "3"),
        (
            "PerformingPhysicianName",
            {"vr": "PN", "Value": [{"Alphabetic": "Doe^J", "Ideographic": "山田"}]},
            "Doe^J=山田",
        ),
        ("PatientComments", {"vr": "LT", "Value": ["a\\b"]}, "a\\b"),  # LT may hold a backslash
        ("Rows", {"vr": "US", "Value": [512]}, "512"),
        ("FrameIncrementPointer", {"vr": "AT", "Value": ["00181063"]}, "(0018,1063)"),
        ("RedPaletteColorLookupTableData", {"vr": "OW", "BulkDataURI": "/instances/x/content/0028-1201"}, ""),
        ("PatientAge", {"vr": "AS"}, ""),
        ("PatientAge", None, ""),
    ],
)
def test_elements_from_stored_dicom_json(keyword, element_json, expected):
    element = find.element_of(key(keyword), find.data_set_value(key(keyword), element_json))
    value = element.value
    shown = [str(v) for v in value] if isinstance(value, pydicom.multival.MultiValue) else str(value or "")
    assert shown == expected
    assert element.tag == pydicom.tag.Tag(keyword)


def test_a_text_that_allows_backslashes_stays_one_value():
    element = find.text_element(pydicom.tag.Tag("ImageComments"), "LT", "left\\right")
    assert element.value == "left\\right" and element.VM == 1
    element = find.text_element(pydicom.tag.Tag("OtherPatientIDs"), "LO", "A\\B")
    assert list(element.value) == ["A", "B"]


def test_computed_keys_at_study_level(archive):
    (answer,) = ask(
        "STUDY",
        StudyInstanceUID=DOE_BRAIN,
        NumberOfStudyRelatedSeries="",
        NumberOfStudyRelatedInstances="",
        ModalitiesInStudy="",
        SOPClassesInStudy="",
    )
    assert (answer.NumberOfStudyRelatedSeries, answer.NumberOfStudyRelatedInstances) == (2, 3)
    assert list(answer.ModalitiesInStudy) == ["CT", "MR"]
    assert list(answer.SOPClassesInStudy) == [CT_CLASS, MR_CLASS]


def test_computed_keys_at_patient_and_series_levels(archive):
    (patient,) = ask(
        "PATIENT",
        find.PATIENT_ROOT,
        PatientID="P-DOE",
        NumberOfPatientRelatedStudies="",
        NumberOfPatientRelatedSeries="",
        NumberOfPatientRelatedInstances="",
    )
    assert patient.NumberOfPatientRelatedStudies == 2
    assert (patient.NumberOfPatientRelatedSeries, patient.NumberOfPatientRelatedInstances) == (3, 4)
    (series,) = ask("SERIES", SeriesInstanceUID=SERIES["doe-ct"], NumberOfSeriesRelatedInstances="")
    assert series.NumberOfSeriesRelatedInstances == 2


def test_computed_keys_take_a_few_queries_whatever_the_number_of_answers(archive, django_assert_num_queries):
    request = find.parse_request(
        identifier(
            "STUDY",
            PatientName="",
            NumberOfStudyRelatedSeries="",
            NumberOfStudyRelatedInstances="",
            ModalitiesInStudy="",
            SOPClassesInStudy="",
        ),
        find.STUDY_ROOT,
    )
    # One for the matches with their parents' tags, one for the three keys read from the
    # studies' series, one for the SOP classes.
    with django_assert_num_queries(3):
        found = find.search(request)
        answers = list(found.answers())
    assert len(answers) == Study.objects.count() == 9
    assert sum(int(answer.NumberOfStudyRelatedInstances) for answer in answers) == 11


def test_data_set_constraints_take_one_query(archive, django_assert_num_queries):
    request = find.parse_request(identifier("IMAGE", KVP="120", PatientAge="", NumberOfFrames=""), find.STUDY_ROOT)
    with django_assert_num_queries(1):
        assert len(list(find.search(request).answers())) == 3


# --- Character sets -------------------------------------------------------------------


def encoded(answer):
    """The answer's bytes as pynetdicom sends them: in the answer's own SpecificCharacterSet."""
    buffer = pydicom.filebase.DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, answer)
    return buffer.getvalue()


def encoded_and_read_back(answer):
    """The answer as the peer reads it."""
    buffer = io.BytesIO(encoded(answer))
    return pydicom.filereader.read_dataset(buffer, is_implicit_VR=False, is_little_endian=True)


def test_ascii_answers_keep_the_query_character_set(archive):
    (answer,) = ask("STUDY", charset="ISO_IR 144", AccessionNumber="ACC-3", PatientName="")
    assert answer.SpecificCharacterSet == "ISO_IR 144"


def test_a_query_without_character_set_is_answered_in_the_default_encoding(archive):
    # Orthanc 1.10.1, findscu without SpecificCharacterSet: every answer, CT_small's ASCII
    # name and chrFren's "Buc^Jérôme" alike, came back in ISO_IR 100 (DefaultEncoding Latin1),
    # and in ISO_IR 192 once PUT /tools/default-encoding Utf8.
    (answer,) = ask("STUDY", AccessionNumber="ACC-3", PatientName="")
    assert answer.SpecificCharacterSet == "ISO_IR 100"
    runtime_settings.change("DefaultEncoding", "Utf8")
    (answer,) = ask("STUDY", AccessionNumber="ACC-3", PatientName="")
    assert answer.SpecificCharacterSet == "ISO_IR 192"
    runtime_settings.change("DefaultEncoding", "Greek")
    (greek,) = ask("PATIENT", find.PATIENT_ROOT, PatientID="SCSGREEK", PatientName="")
    assert greek.SpecificCharacterSet == "ISO_IR 126"
    assert str(encoded_and_read_back(greek).PatientName) == GREEK_NAME


def test_a_name_outside_the_default_encoding_comes_back_whole_in_utf8(archive):
    # Orthanc 1.10.1 answered chrH31's "Yamada^Tarou=山田^太郎=やまだ^たろう" as
    # "Yamada^Tarou=^=^" in ISO_IR 100, the Japanese lost; Pharos answers it in UTF-8 instead.
    (answer,) = ask("STUDY", PatientID="H31EXAMPLE", PatientName="")
    assert answer.SpecificCharacterSet == "ISO_IR 192"
    assert str(encoded_and_read_back(answer).PatientName) == H31_NAME


def test_a_japanese_name_comes_back_in_the_query_character_set_when_it_fits(archive):
    (answer,) = ask("STUDY", charset=["", "ISO 2022 IR 87"], PatientID="H31EXAMPLE", PatientName="")
    assert list(answer.SpecificCharacterSet) == ["", "ISO 2022 IR 87"]
    read_back = encoded_and_read_back(answer)
    assert str(read_back.PatientName) == H31_NAME
    assert b"\x1b$B" in encoded(answer)  # JIS X 0208, announced by its escape sequence


def test_greek_fits_in_greek_but_not_in_latin1(archive):
    (greek,) = ask("PATIENT", find.PATIENT_ROOT, charset="ISO_IR 126", PatientID="SCSGREEK", PatientName="")
    assert greek.SpecificCharacterSet == "ISO_IR 126"
    assert str(encoded_and_read_back(greek).PatientName) == GREEK_NAME
    (latin,) = ask("PATIENT", find.PATIENT_ROOT, charset="ISO_IR 100", PatientID="SCSGREEK", PatientName="")
    assert latin.SpecificCharacterSet == "ISO_IR 192"
    assert str(encoded_and_read_back(latin).PatientName) == GREEK_NAME


def test_each_answer_has_its_own_character_set(archive):
    answers = ask("PATIENT", find.PATIENT_ROOT, PatientName="", PatientID="")
    by_id = {answer.PatientID: answer.SpecificCharacterSet for answer in answers}
    assert by_id["P-DOE"] == "ISO_IR 100"
    assert by_id["SCSGREEK"] == by_id["SCSRUSS"] == by_id["H31EXAMPLE"] == "ISO_IR 192"


@pytest.mark.parametrize(
    "charset, text, fits",
    [
        ((), "Buc^Jérôme", False),
        (("ISO_IR 100",), "Buc^Jérôme", True),
        (("ISO_IR 144",), "Люкceмбypг", True),
        (("", "ISO 2022 IR 87"), "山田^太郎", True),
        (("ISO 2022 IR 13", "ISO 2022 IR 87"), "ﾔﾏﾀﾞ", True),
        (("ISO 2022 IR 13",), "山田", False),
        (("UNKNOWN",), "é", False),
        (("ISO_IR 192",), "山田 Διονυσιος", True),
    ],
)
def test_which_texts_fit_a_character_set(charset, text, fits):
    assert find.answer_charset(charset, [text]) == ("\\".join(charset) if fits else "ISO_IR 192")


def test_a_person_name_keeps_the_groups_its_file_writes():
    """chrX1's "Wang^XiaoDong=王^小東=", which Orthanc answers with its trailing "="."""
    name = {"Alphabetic": "Wang^XiaoDong", "Ideographic": "王^小東", "Phonetic": ""}
    assert find_answers.person_name_text(name) == "Wang^XiaoDong=王^小東="
    assert find_answers.person_name_text({"Alphabetic": "Doe^J"}) == "Doe^J"


def test_numbers_written_as_text_are_answered_as_written():
    """Orthanc 1.10.1's C-FIND answers on the same file: InstanceNumber "007",
    ImagePositionPatient "-1.50\\2.0\\3", SliceThickness "120" (from the data set), SeriesNumber "04"."""
    store_instance(numbers_file(), Origin())
    (image,) = ask("IMAGE", PatientID="pnumbers", InstanceNumber="", ImagePositionPatient="", SliceThickness="")
    assert str(image.InstanceNumber) == "007"
    assert [str(v) for v in image.ImagePositionPatient] == ["-1.50", "2.0", "3"]
    assert str(image.SliceThickness) == "120"
    (series,) = ask("SERIES", PatientID="pnumbers", SeriesNumber="")
    assert str(series.SeriesNumber) == "04"
