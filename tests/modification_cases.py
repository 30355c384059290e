"""Orthanc's answers to /modify and /anonymize on pydicom's test files (tests/orthanc_modification.json)
and the way they were summed up: what an operation removed, emptied, replaced and added."""

import hashlib
import io
import json
import re
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from explorer import levels
from explorer.dicom import as_part10
from explorer.modification import Modification
from tests.conftest import dicom_bytes

ORTHANC = json.loads((Path(__file__).parent / "orthanc_modification.json").read_text())
GENERATED = re.compile(r"^[0-9.]+$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def cases(op):
    return [pytest_param(case) for case in ORTHANC["changes"] if case["op"] == op]


def pytest_param(case):
    import pytest

    return pytest.param(case, id=f"{case['file']}-{json.dumps(case['body'], sort_keys=True)[:60]}")


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return "sha1:" + hashlib.sha1(value).hexdigest() if value else ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(_text(v) for v in value)
    return str(value)


def flatten(dataset, prefix="", out=None):
    """path ("gggg,eeee[i].gggg,eeee") -> value as text, for every element but group lengths."""
    out = {} if out is None else out
    for tag in dataset.keys():
        if tag.element == 0:
            continue
        element = dataset[tag]
        path = f"{prefix}{tag.group:04x},{tag.element:04x}"
        if element.VR == "SQ":
            out[path] = f"SQ[{len(element.value)}]"
            for index, item in enumerate(element.value):
                flatten(item, f"{path}[{index}].", out)
        else:
            out[path] = _text(element.value)
    return out


def _shown(value):
    if GENERATED.match(value):
        return "<generated>"
    return re.sub(r"^Anonymized[0-9]+$", "Anonymized<N>", value)


def classify(before, after):
    result = {"removed": [], "emptied": [], "replaced": {}, "added": {}}
    for path, value in before.items():
        if path not in after:
            result["removed"].append(path)
        elif after[path] != value:
            if after[path] == "":
                result["emptied"].append(path)
            else:
                result["replaced"][path] = _shown(after[path])
    for path, value in after.items():
        if path not in before:
            result["added"][path] = _shown(value)
    # New values shared by several paths: the same original mapped the same way.
    shared = {}
    for path, value in after.items():
        if path not in before or after[path] != before[path]:
            if GENERATED.match(value):
                shared.setdefault(value, []).append(path)
    result["same_new_value"] = sorted(sorted(paths) for paths in shared.values() if len(paths) > 1)
    result["removed"].sort()
    result["emptied"].sort()
    return result


NESTED = "CT_small.dcm with nested sequences"


def with_nested_sequences():
    """CT_small with what the profile treats apart inside sequences: references to itself,
    identifying text, a private block inside an item and a private sequence."""
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes("CT_small.dcm")))
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID + ".1"
    reference = Dataset()
    reference.ReferencedSOPClassUID = dataset.SOPClassUID
    reference.ReferencedSOPInstanceUID = dataset.SOPInstanceUID
    reference.StudyInstanceUID = dataset.StudyInstanceUID
    reference.PatientName = "Inner^Name"
    reference.StudyDate = "20200101"
    reference.InstitutionName = "Inner institution"
    reference.AccessionNumber = "A1"
    reference.private_block(0x0009, "PHAROS TEST", create=True).add_new(0x01, "LO", "secret")
    dataset.ReferencedImageSequence = Sequence([reference])
    source_image = Dataset()
    source_image.ReferencedSOPClassUID = dataset.SOPClassUID
    source_image.ReferencedSOPInstanceUID = dataset.SOPInstanceUID
    source_image.FrameOfReferenceUID = dataset.FrameOfReferenceUID
    dataset.SourceImageSequence = Sequence([source_image])
    inner = Dataset()
    inner.SeriesInstanceUID = dataset.SeriesInstanceUID
    inner.InstitutionName = "Private inner"
    dataset.private_block(0x0011, "PHAROS TEST", create=True).add_new(0x01, "SQ", Sequence([inner]))
    output = io.BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return output.getvalue()


def source(name):
    """The file as Pharos stores it (a Part 10 file, with a file meta header)."""
    return with_nested_sequences() if name == NESTED else as_part10(dicom_bytes(name))


def written(dataset):
    output = io.BytesIO()
    dataset.save_as(output, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(output.getvalue()))


def outcome(case, patient_name="Anonymized1"):
    """What Pharos does to the case's file with the case's body, summed up as Orthanc's."""
    data = source(case["file"])
    dataset = pydicom.dcmread(io.BytesIO(data))
    if case["op"] == "anonymize":
        modification = Modification.from_anonymize_body(levels.INSTANCE, case["body"], patient_name=patient_name)
    else:
        modification = Modification.from_modify_body(None, case["body"])
    modification.apply(dataset)
    result = written(dataset)
    return {
        "status": 200,
        "meta_follows": result.file_meta.MediaStorageSOPInstanceUID == result.SOPInstanceUID,
        **classify(flatten(pydicom.dcmread(io.BytesIO(data))), flatten(result)),
    }


def expected(case):
    return {key: value for key, value in case.items() if key not in ("op", "body", "file")}


def ct(**changes):
    """CT_small as a data set, with these attributes set."""
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes("CT_small.dcm")))
    for keyword, value in changes.items():
        setattr(dataset, keyword, value)
    return dataset
