"""pydicom's internals read through explorer/pydicom_compat.py, and pydicom's own public path
when the fast paths are off: the same JSON and main tags either way."""

import pydicom
import pytest

from explorer import dicom, dicom_json, pydicom_compat
from tests.conftest import sample_path

FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "chrH31.dcm", "chrGreek.dcm"]


def no_bulk(element):
    return "bulk"


@pytest.mark.parametrize("name", FILES)
def test_the_stock_path_gives_the_same_json(settings, name):
    path = sample_path(name)
    settings.PHAROS_FAST_PATHS = True
    fast_json, converted = dicom_json.to_json_dict(pydicom.dcmread(path), no_bulk, 1024)
    assert converted  # the memo's conversion was taken
    settings.PHAROS_FAST_PATHS = False
    stock_json, written = dicom_json.to_json_dict(pydicom.dcmread(path), no_bulk, 1024)
    # The stock path reports only the values kept as written (names and numbers), not the memo.
    assert {vr for vr, _ in written.values()} <= {"PN", "IS", "DS"}
    assert stock_json == fast_json


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
def test_main_tags_are_read_either_way(settings, fast):
    settings.PHAROS_FAST_PATHS = fast
    dataset = pydicom.dcmread(sample_path("CT_small.dcm"))
    assert dicom.element_text(dataset, "PatientName") == "CompressedSamples^CT1"
    assert dicom.element_text(dataset, "ImageType") == "ORIGINAL\\PRIMARY\\AXIAL"
    assert dicom.element_text(dataset, "AccessionNumber") == ""
    assert dicom.element_text(dataset, "PerformingPhysicianName") is None
    assert set(pydicom_compat.raw_elements(dataset)) == set(dataset.keys())


def test_every_private_name_is_named_in_the_docstring():
    for name in pydicom_compat.PRIVATE_NAMES:
        assert name in pydicom_compat.__doc__
