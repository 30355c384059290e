"""explorer/dicom_values.py: tags, paths and JSON values as Orthanc's REST bodies give them."""

import pytest

from explorer.dicom_values import BadParameterType, make_element, parse_path, parse_tag, path_matches
from explorer.errors import ParameterOutOfRange, UnknownDicomTag


@pytest.mark.parametrize("text", ["PatientName", "0010,0010", "0010-0010", "00100010", "(0010,0010)", " PatientName "])
def test_a_tag_is_a_keyword_or_hexadecimal(text):
    assert parse_tag(text) == 0x00100010


def test_an_unknown_keyword_is_refused():
    with pytest.raises(UnknownDicomTag):
        parse_tag("NoSuchTag")


def test_a_path_names_items_by_index_or_all():
    assert parse_path("ReferencedImageSequence[*].0008,1155") == (((0x00081140, None),), 0x00081155)
    assert parse_path("ContentSequence[2].ContentSequence[0].TextValue") == (
        ((0x0040A730, 2), (0x0040A730, 0)),
        0x0040A160,
    )


@pytest.mark.parametrize(
    "text, details",
    [
        ("ReferencedImageSequence.PatientName", "Parent path doesn't contain an index"),
        ("[0].PatientName", "Parent path doesn't contain a tag"),
        ("ReferencedImageSequence[0.PatientName", "Parent path doesn't contain the end of the index"),
        ("ReferencedImageSequence[-1].PatientName", "Negative index in parent path: -1"),
        ("ReferencedImageSequence[x].PatientName", "Not a valid index in parent path: [x]"),
    ],
)
def test_a_bad_path_is_orthancs_parameter_out_of_range(text, details):
    with pytest.raises(ParameterOutOfRange) as refused:
        parse_path(text)
    assert refused.value.details == details


def test_a_path_matches_what_is_inside_it():
    kept = parse_path("ReferencedImageSequence")
    assert path_matches(kept, ((0x00081140, 0),), 0x00081155)
    assert not path_matches(kept, ((0x00082112, 0),), 0x00081155)
    one = parse_path("ReferencedImageSequence[1].ReferencedSOPInstanceUID")
    assert path_matches(one, ((0x00081140, 1),), 0x00081155)
    assert not path_matches(one, ((0x00081140, 0),), 0x00081155)


def test_values_take_the_dictionarys_representation():
    assert make_element(0x00280010, "512").value == 512
    assert make_element(0x00281050, "40\\400").value == [40, 400]
    assert make_element(0x00100010, None).value in ("", None)
    assert make_element(0x7FE00010, "data:application/octet-stream;base64,AAEC").value == b"\x00\x01\x02"
    sequence = make_element(0x00081140, [{"ReferencedSOPInstanceUID": "1.2.3"}, []])
    assert len(sequence.value) == 2 and sequence.value[0].ReferencedSOPInstanceUID == "1.2.3"


def test_a_list_for_a_tag_that_is_no_sequence_is_a_bad_type():
    with pytest.raises(BadParameterType) as refused:
        make_element(0x00100010, ["x"])
    assert refused.value.details == "Bad Parameter type for tag 0010,0010"
