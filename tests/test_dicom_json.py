"""explorer.dicom_json writes each element's JSON as pydicom's DataElement.to_json_dict does,
but for the values Orthanc shows as written (IS, DS, person names' trailing groups)."""

import io
import warnings
from pathlib import Path

import data_store
import pydicom
import pytest
from pydicom import config
from pydicom.data import get_testdata_file

from explorer import dicom, dicom_json
from tests.conftest import make_dicom
from tests.test_wire_reactors import fast_paths_only

PYDICOM_FILES = Path(pydicom.__file__).parent / "data"
PYDICOM_DATA_FILES = Path(data_store.__file__).parent / "data"
ALL_FILES = sorted(
    path
    for folder in (PYDICOM_FILES, PYDICOM_DATA_FILES)
    for path in folder.rglob("*.dcm")
    if path.stat().st_size < 5_000_000
)


def bulk_uri(element):
    return f"bulk/{element.tag:08x}"


def pydicom_json(dataset):
    """Each element's own to_json_dict, elements that cannot be read left out."""
    answer = {}
    for tag in list(dataset.keys()):
        try:
            answer[f"{tag:08X}"] = dataset[tag].to_json_dict(bulk_uri, dicom.BULK_DATA_THRESHOLD)
        except Exception:
            continue
    return answer


def read(path, defer):
    try:
        return pydicom.dcmread(path, defer_size="256 KB" if defer else None, force=True)
    except Exception:
        return None


def test_the_test_files_are_many():
    assert len(ALL_FILES) > 150


@pytest.mark.parametrize("defer", [False, True], ids=["in memory", "deferred"])
def test_every_test_file_gets_the_json_of_pydicoms_path(defer):
    different, checked = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid values some files hold
        for path in ALL_FILES:
            expected, dataset = read(path, defer), read(path, defer)
            if dataset is None:
                continue
            checked += 1
            as_json, converted = dicom_json.to_json_dict(dataset, bulk_uri, dicom.BULK_DATA_THRESHOLD)
            if as_json != dicom_json.pydicom_json_dict(expected, bulk_uri, dicom.BULK_DATA_THRESHOLD):
                different.append(path.name)
                continue
            for tag, (vr, value) in converted.items():
                same = vr in dicom_json.REWRITTEN_VRS or expected[tag].value == value
                if expected[tag].VR != vr or not same:
                    different.append(f"{path.name} {tag}")
    assert checked > 150
    assert different == []


@fast_paths_only
def test_public_texts_and_numbers_take_the_fast_path():
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    as_json, converted = dicom_json.to_json_dict(dataset, bulk_uri, dicom.BULK_DATA_THRESHOLD)
    public_plain = [
        key for key, element in as_json.items() if int(key[:4], 16) % 2 == 0 and element["vr"] in dicom_json.FAST_VRS
    ]
    assert len(converted) >= len(public_plain) - 1  # all but SpecificCharacterSet, read first for the others


def test_an_invalid_value_is_kept_and_the_reading_mode_left_alone(db):
    """Orthanc keeps a value that breaks its VR's rules; pydicom's Dataset.to_json_dict
    would drop it, switching pydicom's process-wide reading mode to strict meanwhile."""
    with config.disable_value_validation():
        data = make_dicom(ImageComments="x" * 20_000, AccessionNumber="A" * 40)
    mode = config.settings.reading_validation_mode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = dicom.parse(data)
    assert config.settings.reading_validation_mode == mode
    assert parsed.json["00204000"]["Value"] == ["x" * 20_000]
    assert parsed.json["00080050"]["Value"] == ["A" * 40]
    assert parsed.main_tags["Study"]["AccessionNumber"] == "A" * 40


def raw_dataset(character_set, little_endian=True):
    """A data set read back from bytes, its elements raw: the same value bytes whatever the
    character set and byte order it is read with."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

    dataset = Dataset()
    dataset.SpecificCharacterSet = character_set
    dataset.add_new(0x00080080, "LO", b"Ren\xc3\xa9")  # InstitutionName
    dataset.add_new(0x00280010, "US", 1)  # Rows
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian
    dataset.file_meta.MediaStorageSOPClassUID = "1.2.3"
    dataset.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


def test_a_value_seen_before_is_read_again_in_another_character_set():
    answers = {}
    for character_set in ("ISO_IR 100", "ISO_IR 192", "ISO_IR 100"):
        dataset = raw_dataset(character_set)
        as_json, _ = dicom_json.to_json_dict(dataset, bulk_uri, dicom.BULK_DATA_THRESHOLD)
        assert as_json == pydicom_json(raw_dataset(character_set))
        answers[character_set] = as_json["00080080"]["Value"]
    assert answers == {"ISO_IR 100": ["RenÃ©"], "ISO_IR 192": ["René"]}


@fast_paths_only
def test_a_number_seen_before_is_read_again_in_the_other_byte_order():
    for little_endian in (True, False, True):
        dataset = raw_dataset("ISO_IR 192", little_endian)
        as_json, converted = dicom_json.to_json_dict(dataset, bulk_uri, dicom.BULK_DATA_THRESHOLD)
        assert as_json["00280010"] == {"vr": "US", "Value": [1]}
        assert converted[0x00280010] == ("US", 1)


def test_the_memo_of_values_is_emptied_when_full(monkeypatch):
    monkeypatch.setattr(dicom_json, "_memo", {})
    monkeypatch.setattr(dicom_json, "MEMO_SIZE", 10)
    for n in range(25):
        dataset = pydicom.dcmread(io.BytesIO(make_dicom(AccessionNumber=f"A{n}")))
        dicom_json.to_json_dict(dataset, bulk_uri, dicom.BULK_DATA_THRESHOLD)
        assert len(dicom_json._memo) <= 10
