"""Orthanc's DefaultEncoding: the character set of files without SpecificCharacterSet.

Orthanc names its encodings (Latin1, Utf8, …); DICOM names the same character sets with the
defined terms of (0008,0005), which pydicom reads. A file that carries no (or an empty)
SpecificCharacterSet is decoded with the DefaultEncoding in force when it arrives, for its
main tags in the index and for its stored tags, as Orthanc decodes it.
"""

import codecs

from pydicom.charset import default_encoding, python_encoding
from pydicom.datadict import dictionary_VR

from explorer import runtime_settings

# Orthanc's names (Enumerations.cpp, StringToEncoding) → DICOM's defined terms.
DICOM_TERMS = {
    "Ascii": "ISO_IR 6",
    "Utf8": "ISO_IR 192",
    "Latin1": "ISO_IR 100",
    "Latin2": "ISO_IR 101",
    "Latin3": "ISO_IR 109",
    "Latin4": "ISO_IR 110",
    "Latin5": "ISO_IR 148",
    "Cyrillic": "ISO_IR 144",
    "Arabic": "ISO_IR 127",
    "Greek": "ISO_IR 126",
    "Hebrew": "ISO_IR 138",
    "Thai": "ISO_IR 166",
    "Japanese": "ISO_IR 13",
    "Chinese": "GB18030",
    "Korean": "ISO 2022 IR 149",
    "JapaneseKanji": "ISO 2022 IR 87",
    "SimplifiedChinese": "ISO 2022 IR 58",
}
# Windows1251 has no DICOM term: Python's codec of the same name to read files, and the
# Cyrillic term in C-FIND answers.
PYTHON_ONLY = {"Windows1251": "cp1251"}
ANSWERED_AS = {"Windows1251": "ISO_IR 144"}
# Orthanc's names in its order (Enumerations.cpp), which /tools/default-encoding takes.
ORTHANC_NAMES = (*list(DICOM_TERMS)[:8], "Windows1251", *list(DICOM_TERMS)[8:])


def orthanc_name(text):
    """Orthanc's spelling of an encoding name given in any case, or None."""
    wanted = (text or "").strip().lower()
    return next((name for name in ORTHANC_NAMES if name.lower() == wanted), None)


def dicom_term(name):
    """The SpecificCharacterSet term of an Orthanc encoding name (any case), or None."""
    name = orthanc_name(name)
    return DICOM_TERMS.get(name) or ANSWERED_AS.get(name)


def python_codec(name):
    """The Python codec pydicom decodes with for an Orthanc encoding name (any case);
    pydicom's default (Latin-1) for an unknown one."""
    name = orthanc_name(name)
    if name in PYTHON_ONLY:
        return PYTHON_ONLY[name]
    return python_encoding[DICOM_TERMS[name]] if name else default_encoding


def default_codec():
    """The Python codec of the DefaultEncoding in force."""
    return python_codec(runtime_settings.current("DefaultEncoding"))


def apply_default_encoding(dataset, codec=None):
    """Decode a data set read by pydicom without SpecificCharacterSet with the DefaultEncoding
    (pydicom's own default is Latin-1, Orthanc's default too): the data set and every
    sequence item without a character set of its own. Call before any value is read."""
    if _has_character_set(dataset):
        return
    codec = codec or default_codec()
    if not same_codec(codec, default_encoding):
        _set_codec(dataset, codec)


def same_codec(first, second):
    """Whether two codec names are one codec ("latin_1" and pydicom's "iso8859")."""
    return codecs.lookup(first).name == codecs.lookup(second).name


def _has_character_set(dataset):
    element = dataset.get(0x00080005)
    return element is not None and bool(element.value)


def _set_codec(dataset, codec):
    dataset.set_original_encoding(*dataset.original_encoding, codec)
    for tag in list(dataset.keys()):
        if _is_sequence(tag, dataset.get_item(tag, keep_deferred=True)):
            for item in dataset[tag].value:
                if not _has_character_set(item):
                    _set_codec(item, codec)


def _is_sequence(tag, element):
    vr = getattr(element, "VR", None)
    if vr is None:  # implicit VR: the dictionary's
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return False
    return vr == "SQ"
