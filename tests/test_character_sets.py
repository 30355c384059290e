"""DefaultEncoding decodes files without SpecificCharacterSet, for the index and the tags,
as Orthanc 1.10.1 does (checked on the same files with PUT /tools/default-encoding)."""

from io import BytesIO

import pytest
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from explorer import character_sets, runtime_settings
from tests.conftest import make_dicom, upload

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:Failed to decode")]

LATIN1_NAME = "Müller^Jürgen".encode("latin-1")
UTF8_NAME = "Müller^Jürgen".encode()


def file_without_character_set(name_bytes, **tags):
    item = Dataset()
    item.add(DataElement(0x00081030, "LO", name_bytes))  # StudyDescription, in a sequence item
    data = make_dicom(
        ReferencedStudySequence=Sequence([item]),
        **{"PatientName": None, **tags},
    )
    # The name is written as raw bytes, so that no character set is guessed.
    dataset = dcmread(BytesIO(data))
    dataset.add(DataElement(0x00100010, "PN", name_bytes))
    out = BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


def answers(api, data):
    instance = upload(api, data).json()
    patient = api.get(f"/patients/{instance['ParentPatient']}").json()["MainDicomTags"]["PatientName"]
    tags = api.get(f"/instances/{instance['ID']}/simplified-tags").json()
    return patient, tags["PatientName"], tags["ReferencedStudySequence"][0]["StudyDescription"]


@pytest.mark.parametrize(
    ("encoding", "name_bytes", "expected"),
    [
        ("Latin1", LATIN1_NAME, "Müller^Jürgen"),
        ("Latin1", UTF8_NAME, "MÃ¼ller^JÃ¼rgen"),
        ("Utf8", UTF8_NAME, "Müller^Jürgen"),
        # Orthanc drops the bytes UTF-8 cannot decode.
        ("Utf8", LATIN1_NAME, "Mller^Jrgen"),
    ],
)
def test_default_encoding_decodes_a_file_without_character_set(api, encoding, name_bytes, expected):
    runtime_settings.change("DefaultEncoding", encoding)
    assert answers(api, file_without_character_set(name_bytes)) == (expected, expected, expected)


def test_a_file_with_a_character_set_keeps_it(api):
    runtime_settings.change("DefaultEncoding", "Utf8")
    data = make_dicom(SpecificCharacterSet="ISO_IR 100", PatientName="Müller^Jürgen")
    instance = upload(api, data).json()
    assert api.get(f"/instances/{instance['ID']}/simplified-tags").json()["PatientName"] == "Müller^Jürgen"


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("Latin1", "iso8859"),
        ("utf8", "UTF8"),
        ("Windows1251", "cp1251"),
        ("Greek", "iso_ir_126"),
        ("nonsense", "iso8859"),
    ],
)
def test_orthanc_names_map_to_pydicoms_codecs(name, codec):
    assert character_sets.same_codec(character_sets.python_codec(name), codec)
