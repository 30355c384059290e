"""Real files an upload refuses, each with the words the user reads for it."""

import io

import pydicom

from tests.conftest import CT_SMALL, dicom_bytes


def without(name, keyword):
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(name)))
    delattr(dataset, keyword)
    out = io.BytesIO()
    dataset.save_as(out)
    return out.getvalue()


def refused_files():
    """{file name: (bytes, the reason shown)}: a text file, a truncated copy of CT_small
    (13,000 of its 39,206 bytes), CT_small without its StudyInstanceUID, an empty file."""
    return {
        "notes.txt": (b"Patient called back on Monday.\n" * 8, "Not a DICOM file: it looks like a text file"),
        "cut.dcm": (
            dicom_bytes(CT_SMALL)[:13000],
            "The file is cut short: 13 kB of 39 kB (it ends inside the pixel data)",
        ),
        "no-study.dcm": (
            without(CT_SMALL, "StudyInstanceUID"),
            "No Study Instance UID: the file cannot be stored without it",
        ),
        "empty.dcm": (b"", "The file is empty"),
    }
