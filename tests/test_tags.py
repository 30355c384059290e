"""Orthanc's tag formats computed from DICOM JSON, checked on pydicom's test files."""

import struct

import pytest
from pydicom import Dataset, dcmread
from pydicom.data import get_charset_files, get_testdata_file

from explorer import tags


def as_json(dataset):
    return dataset.to_json_dict(
        bulk_data_threshold=1024,
        bulk_data_element_handler=lambda element: "/bulk",
        suppress_invalid_tags=True,
    )


def pydicom_file_json(name):
    return as_json(dcmread(get_testdata_file(name, download=False)))


def charset_file_json(name):
    # The character set samples live apart from the other test files in pydicom.
    return as_json(dcmread(get_charset_files(name)[0]))


@pytest.fixture(scope="module")
def ct_small():
    return pydicom_file_json("CT_small.dcm")


@pytest.fixture(scope="module")
def rtplan():
    return pydicom_file_json("rtplan.dcm")


@pytest.fixture(autouse=True)
def storage_dir():
    """These tests read no storage and no Django settings: they run with -p no:django."""


def dataset_json_with(**elements):
    dataset = Dataset()
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    return as_json(dataset)


# --- full format ----------------------------------------------------------------------


def test_patient_name_is_a_string(ct_small):
    assert tags.full_tags(ct_small)["0010,0010"] == {
        "Name": "PatientName",
        "Type": "String",
        "Value": "CompressedSamples^CT1",
    }


def test_pixel_data_is_null(ct_small):
    assert tags.full_tags(ct_small)["7fe0,0010"] == {"Name": "PixelData", "Type": "Null", "Value": None}


def test_empty_text_is_an_empty_string(ct_small):
    assert tags.full_tags(ct_small)["0008,0050"] == {"Name": "AccessionNumber", "Type": "String", "Value": ""}


def test_private_tag_carries_its_creator(ct_small):
    full = tags.full_tags(ct_small)
    assert full["0009,0010"] == {"Name": "PrivateCreator", "Type": "String", "Value": "GEMS_IDEN_01"}
    assert full["0009,1001"] == {
        "Name": "FullFidelity",
        "PrivateCreator": "GEMS_IDEN_01",
        "Type": "String",
        "Value": "GE_GENESIS_FF",
    }


def test_private_tag_unknown_to_the_dictionary(ct_small):
    node = tags.full_tags(ct_small)["0021,1015"]
    assert node["Name"] == "Unknown Tag & Data"
    assert node["PrivateCreator"] == "GEMS_RELA_01"


def test_keys_are_lowercase_and_in_tag_order(ct_small):
    keys = list(tags.full_tags(ct_small))
    assert keys == sorted(keys)
    assert all(key == key.lower() and len(key) == 9 and key[4] == "," for key in keys)


def test_multi_valued_decimal_string_is_joined_by_backslash(ct_small):
    assert tags.full_tags(ct_small)["0020,0037"]["Value"] == "1.0\\0.0\\0.0\\0.0\\1.0\\0.0"


def test_multi_valued_decimal_string_of_mr_small():
    mr_small = pydicom_file_json("MR_small.dcm")
    assert tags.short_tags(mr_small)["0020,0032"] == "-83.9063\\-91.2\\6.6406"


def test_binary_numbers_become_strings(ct_small):
    full = tags.full_tags(ct_small)
    assert full["0028,0010"] == {"Name": "Rows", "Type": "String", "Value": "128"}
    assert full["0009,1027"]["Value"] == "862399669"  # SL


def test_single_float_prints_as_dcmtk_does(ct_small):
    # FL 9.7 is 9.69999981 once stored on 32 bits; Orthanc prints 9 significant digits.
    short = tags.short_tags(ct_small)
    assert short["0027,1043"] == "9.69999981"
    assert short["0027,1047"] == "-1"


def test_double_float_prints_seventeen_significant_digits():
    dataset_json = dataset_json_with(EventTimeOffset=0.1)
    assert tags.short_tags(dataset_json)["0008,2134"] == "0.10000000000000001"


def test_integral_integer_string_has_no_decimal_point(rtplan):
    assert tags.short_tags(rtplan)["0020,0011"] == "2"


def test_sequence_items_are_full_data_sets(ct_small):
    node = tags.full_tags(ct_small)["0010,1002"]
    assert node["Name"] == "OtherPatientIDsSequence"
    assert node["Type"] == "Sequence"
    assert [item["0010,0020"]["Value"] for item in node["Value"]] == ["ABCD1234", "1234ABCD"]


def test_japanese_person_name_joins_the_three_groups():
    dataset_json = charset_file_json("chrH31.dcm")
    assert tags.full_tags(dataset_json)["0010,0010"]["Value"] == "Yamada^Tarou=山田^太郎=やまだ^たろう"


def test_greek_person_name():
    dataset_json = charset_file_json("chrGreek.dcm")
    assert tags.simplified_tags(dataset_json)["PatientName"] == "Διονυσιος"


def test_person_name_without_alphabetic_group():
    element = {"vr": "PN", "Value": [{"Ideographic": "山田^太郎"}]}
    assert tags.value_text(element) == "=山田^太郎"


def test_long_text_is_too_long():
    dataset_json = dataset_json_with(ImageComments="x" * 257)
    assert tags.full_tags(dataset_json)["0020,4000"] == {"Name": "ImageComments", "Type": "TooLong", "Value": None}
    assert tags.simplified_tags(dataset_json)["ImageComments"] is None


def test_text_at_the_limit_is_kept():
    dataset_json = dataset_json_with(ImageComments="x" * 256)
    assert tags.full_tags(dataset_json)["0020,4000"]["Type"] == "String"


def test_limit_counts_utf8_bytes_as_orthanc_does():
    dataset_json = dataset_json_with(SpecificCharacterSet="ISO_IR 192", ImageComments="Δ" * 200)
    assert tags.full_tags(dataset_json)["0020,4000"]["Type"] == "TooLong"


def test_inline_binary_is_null():
    dataset_json = dataset_json_with(ICCProfile=b"\x00\x01\x02\x03")
    assert "InlineBinary" in dataset_json["00282000"]
    assert tags.full_tags(dataset_json)["0028,2000"] == {"Name": "ICCProfile", "Type": "Null", "Value": None}


def test_empty_binary_number_is_null_but_empty_text_is_not():
    dataset_json = {"00280010": {"vr": "US"}, "00200011": {"vr": "IS"}}
    full = tags.full_tags(dataset_json)
    assert full["0028,0010"]["Type"] == "Null"
    assert full["0020,0011"] == {"Name": "SeriesNumber", "Type": "String", "Value": ""}


def test_attribute_tag_shows_the_first_tag_as_orthanc_formats_it():
    dataset_json = dataset_json_with(FrameIncrementPointer=[0x00181063, 0x00181065])
    assert tags.short_tags(dataset_json)["0028,0009"] == "0018,1063"


def test_unknown_public_tag():
    dataset_json = {"00091234": {"vr": "LO", "Value": ["no creator"]}, "00080002": {"vr": "LO", "Value": ["x"]}}
    full = tags.full_tags(dataset_json)
    assert full["0008,0002"]["Name"] == "Unknown Tag & Data"
    assert full["0009,1234"] == {"Name": "Unknown Tag & Data", "Type": "String", "Value": "no creator"}


# --- simplify and short ---------------------------------------------------------------


def test_simplified_uses_names(ct_small):
    simplified = tags.simplified_tags(ct_small)
    assert simplified["PatientName"] == "CompressedSamples^CT1"
    assert simplified["AccessionNumber"] == ""
    assert simplified["PixelData"] is None
    assert simplified["FullFidelity"] == "GE_GENESIS_FF"
    assert simplified["OtherPatientIDsSequence"] == [
        {"PatientID": "ABCD1234", "TypeOfPatientID": "TEXT"},
        {"PatientID": "1234ABCD", "TypeOfPatientID": "TEXT"},
    ]


def test_simplified_keeps_the_tag_of_nameless_tags(ct_small):
    simplified = tags.simplified_tags(ct_small)
    assert simplified["0021,1015"] == "24078"
    assert "Unknown Tag & Data" not in simplified


def test_simplified_sequence_of_rtplan(rtplan):
    beams = tags.simplified_tags(rtplan)["BeamSequence"]
    assert [beam["BeamName"] for beam in beams] == ["Field 1"]
    control_point = beams[0]["ControlPointSequence"][0]
    assert control_point["BeamLimitingDevicePositionSequence"][0]["LeafJawPositions"] == "-100.0\\100.0"


def test_short_uses_tags(ct_small):
    short = tags.short_tags(ct_small)
    assert short["0010,0010"] == "CompressedSamples^CT1"
    assert short["7fe0,0010"] is None
    assert short["0010,1002"][0] == {"0010,0020": "ABCD1234", "0010,0022": "TEXT"}


def test_tags_in_format_picks_simplify_over_short(ct_small):
    """Orthanc 1.10.1: /tags?short&simplify answers names."""
    assert tags.tags_in_format(ct_small) == tags.full_tags(ct_small)
    assert tags.tags_in_format(ct_small, simplify=True) == tags.simplified_tags(ct_small)
    assert tags.tags_in_format(ct_small, short=True) == tags.short_tags(ct_small)
    assert tags.tags_in_format(ct_small, simplify=True, short=True) == tags.simplified_tags(ct_small)


def test_ignore_length_shows_a_long_value_in_every_format():
    long_text = "x" * (tags.MAXIMUM_TAG_LENGTH + 1)
    dataset_json = dataset_json_with(ImageComments=long_text, PatientName="A" * 300)
    keep = tags.tags_kept_long("ImageComments")
    assert tags.full_tags(dataset_json, keep)["0020,4000"] == {
        "Name": "ImageComments",
        "Type": "String",
        "Value": long_text,
    }
    assert tags.full_tags(dataset_json, keep)["0010,0010"]["Type"] == "TooLong"
    assert tags.short_tags(dataset_json, keep)["0020,4000"] == long_text
    assert tags.simplified_tags(dataset_json, keep)["ImageComments"] == long_text
    assert tags.simplified_tags(dataset_json)["ImageComments"] is None


@pytest.mark.parametrize("text", ["ImageComments", "0020-4000", "00204000", "PatientName,ImageComments"])
def test_ignore_length_names_tags_as_orthanc_reads_them(text):
    assert 0x00204000 in tags.tags_kept_long(text)


@pytest.mark.parametrize("text", ["0020,4000", "NoSuchTag", "ImageComments,Foo"])
def test_ignore_length_refuses_what_orthanc_refuses(text):
    """Orthanc splits the argument at commas: "0020,4000" names two unknown tags (its answer: Unknown DICOM tag)."""
    with pytest.raises(KeyError):
        tags.tags_kept_long(text)


def test_value_text_of_a_sequence_is_none(rtplan):
    assert tags.value_text(rtplan["300A00B0"]) is None


# --- value_at_path --------------------------------------------------------------------


def test_leaf_value(ct_small):
    assert tags.value_at_path(ct_small, ["0010-0010"]) == ("value", "CompressedSamples^CT1")


def test_tag_part_in_any_spelling(ct_small):
    expected = ("value", "1CT1")
    assert tags.value_at_path(ct_small, ["00100020"]) == expected
    assert tags.value_at_path(ct_small, ["0010-0020"]) == expected
    assert tags.value_at_path(ct_small, ["PatientID"]) == expected


def test_root_lists_its_tags(ct_small):
    kind, children = tags.value_at_path(ct_small, [])
    assert kind == "children"
    assert children[0] == "0008-0005"
    assert "7fe0-0010" in children


def test_sequence_lists_item_indexes(rtplan):
    assert tags.value_at_path(rtplan, ["300a-00b0"]) == ("children", ["0"])
    assert tags.value_at_path(rtplan, ["300A-0010"]) == ("children", ["0", "1"])


def test_item_lists_its_tags(rtplan):
    kind, children = tags.value_at_path(rtplan, ["300a-00b0", "0"])
    assert kind == "children"
    assert "300a-00c2" in children  # BeamName
    assert "300a-0111" in children  # ControlPointSequence


def test_nested_sequence_path(rtplan):
    path = ["BeamSequence", "0", "300a-0111", "0", "300A011A", "1", "300a-011c"]
    assert tags.value_at_path(rtplan, path) == ("value", "-100.0\\100.0")
    assert tags.value_at_path(rtplan, ["300a-00b0", "0", "300a-00c2"]) == ("value", "Field 1")


def test_bulk_data_gives_its_uri(ct_small):
    assert tags.value_at_path(ct_small, ["7fe0-0010"]) == ("bulk", "/bulk")


def test_inline_binary_is_decoded():
    dataset_json = dataset_json_with(ICCProfile=b"\x00\x01\x02\x03")
    assert tags.value_at_path(dataset_json, ["0028-2000"]) == ("binary", b"\x00\x01\x02\x03")


def test_binary_numbers_are_answered_as_stored(ct_small):
    assert tags.value_at_path(ct_small, ["0028-0010"]) == ("binary", struct.pack("<H", 128))
    dataset_json = dataset_json_with(FrameIncrementPointer=0x00181063)
    assert tags.value_at_path(dataset_json, ["0028-0009"]) == ("binary", struct.pack("<HH", 0x0018, 0x1063))


@pytest.mark.parametrize(
    "path",
    [
        ["0010-9999"],  # absent tag
        ["NotAKeyword"],
        ["300a-00b0", "1"],  # item index past the end
        ["300a-00b0", "-1"],
        ["300a-00b0", "first"],
        ["300a-00b0", "0", "0010-0010"],  # absent inside the item
        ["0010-0010", "0"],  # a leaf has no items
    ],
)
def test_missing_part_raises_key_error(rtplan, path):
    with pytest.raises(KeyError):
        tags.value_at_path(rtplan, path)
