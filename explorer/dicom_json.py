"""A data set as DICOM JSON (PS3.18 F.2), each element as pydicom's DataElement.to_json_dict
writes it, faster.

pydicom builds a DataElement for every element before writing its JSON, which made up a
third of the cost of storing an instance. Most elements of an arriving file are short texts
and numbers: these are converted here from the raw element by pydicom's own value converter
and written as to_json_dict writes them. Every other element (sequences, binary and bulk
values, private tags, values read lazily, and any element whose conversion fails) goes
through pydicom itself. tests/test_dicom_json.py checks that the answer is pydicom's on
every file of pydicom's test data.

Values are read as pydicom reads them by default: one that breaks a rule of its VR (too
long, a stray character) is kept, with pydicom's warning (once: a value seen again is taken
from the memo below), as Orthanc keeps it.
pydicom's own Dataset.to_json_dict(suppress_invalid_tags=True) would drop it, and switches
pydicom's process-wide reading mode to strict while it runs, which other threads then see.

pydicom's internals come through explorer/pydicom_compat.py. When its fast_paths() is off
(PHAROS_FAST_PATHS=off, or another pydicom version), every element goes through pydicom.
"""

import logging

from pydicom import config
from pydicom.charset import default_encoding
from pydicom.datadict import DicomDictionary
from pydicom.dataelem import RawDataElement
from pydicom.jsonrep import convert_to_python_number
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName
from pydicom.values import convert_value

from explorer import pydicom_compat

logger = logging.getLogger(__name__)

# The VRs whose JSON is their converted value(s): texts, numbers written as text, binary numbers.
PLAIN_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "SH", "ST", "TM", "UC", "UI", "UR", "UT",
     "US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"}
)  # fmt: skip
FAST_VRS = PLAIN_VRS | {"PN"}
# Sets of plain integers: a BaseTag compares through Python code, and these are asked of
# every element (a set compares only on a matching hash).
SPECIFIC_CHARACTER_SET = frozenset({0x00080005})
LUT_DESCRIPTOR_TAGS = pydicom_compat.LUT_DESCRIPTOR_TAGS


def to_json_dict(dataset, bulk_data_element_handler, bulk_data_threshold):
    """(The data set's JSON, {tag as int: (VR, value)} of the elements converted here, which
    the dataset still holds raw). An element whose value cannot be read is left out, with a
    warning."""
    if not pydicom_compat.fast_paths():
        return pydicom_json_dict(dataset, bulk_data_element_handler, bulk_data_threshold), {}
    encodings = character_sets(dataset)
    converted, as_json = {}, {}
    for tag, element in list(pydicom_compat.raw_elements(dataset).items()):
        number = int(tag)  # a plain int: a BaseTag compares through Python code in every lookup
        fast = fast_conversion(number, element, encodings)
        if fast is not None:
            json_element, vr, value = fast
            converted[number] = (vr, value)
        else:  # pydicom's own path, which also says what is wrong with a value
            json_element = pydicom_json(dataset, tag, bulk_data_element_handler, bulk_data_threshold)
            if json_element is None:
                continue
        as_json[json_key(number)] = json_element
    return as_json, converted


def pydicom_json_dict(dataset, bulk_data_element_handler, bulk_data_threshold):
    """The data set's JSON, every element written by pydicom."""
    as_json = {}
    for tag in list(dataset.keys()):
        json_element = pydicom_json(dataset, tag, bulk_data_element_handler, bulk_data_threshold)
        if json_element is not None:
            as_json[json_key(int(tag))] = json_element
    return as_json


def pydicom_json(dataset, tag, bulk_data_element_handler, bulk_data_threshold):
    """An element's JSON as pydicom writes it; None, with a warning, when it cannot be read."""
    try:
        return dataset[tag].to_json_dict(bulk_data_element_handler, bulk_data_threshold)
    except Exception as exc:
        logger.warning("Cannot read tag %08X: %s", tag, exc)
        return None


def character_sets(dataset):
    """(The data set's character sets as pydicom's converters take them, the same as a key)."""
    encoding = dataset.original_character_set or pydicom_compat.character_set(dataset)
    return encoding, (encoding if isinstance(encoding, str) else tuple(encoding))


def fast_conversion(tag, element, encodings):
    """(JSON, VR, value) of a raw element (`tag` as an int) converted here; None for pydicom's
    path: an element of another kind, or a value pydicom's converter refuses."""
    vr = fast_vr(tag, element)
    if vr is None:
        return None
    if tag in SPECIFIC_CHARACTER_SET:
        encodings = (default_encoding, default_encoding)
    try:
        json_element, value = converted_element(vr, element, *encodings)
    except Exception:
        return None
    return json_element, vr, value


# Most values repeat from file to file (the instances of a series share most of their
# header): a short value's JSON and converted value are kept, by VR, bytes, byte order and
# character set, for the next file that has it. Both are only read, never changed.
MEMO_VALUE_LENGTH = 256
MEMO_SIZE = 20_000
_memo = {}


def converted_element(vr, element, encoding, encoding_key):
    """(JSON, value) of a raw element of FAST_VRS; raises as pydicom's convert_value does."""
    raw = element.value
    key = (vr, raw, element.is_little_endian, encoding_key)
    known = _memo.get(key)
    if known is None:
        value = convert_value(vr, element, encoding)
        known = (plain_json(vr, value), value)
        if len(raw) <= MEMO_VALUE_LENGTH:
            if len(_memo) >= MEMO_SIZE:
                _memo.clear()
            _memo[key] = known
    return known


_json_keys = {}


def json_key(tag):
    """The tag as DICOM JSON names it: eight upper-case hexadecimal digits."""
    key = _json_keys.get(tag)
    if key is None:
        if len(_json_keys) >= MEMO_SIZE:
            _json_keys.clear()
        key = _json_keys[tag] = f"{tag:08X}"
    return key


def fast_vr(tag, element):
    """The VR of a raw element (`tag` as an int) this module converts itself, or None for
    pydicom's path."""
    if not isinstance(element, RawDataElement) or config.data_element_callback is not None:
        return None
    if element.value is None or (tag >> 16) & 1 or tag in LUT_DESCRIPTOR_TAGS:
        return None  # a value read later, a private VR lookup, pydicom's fix of LUT descriptors
    vr = element.VR
    if vr is None:  # implicit VR: the dictionary's, when it is a single one
        entry = DicomDictionary.get(tag)
        vr = entry[0] if entry else None
    return vr if vr in FAST_VRS else None


def value_multiplicity(value):
    """DataElement.VM for the values of FAST_VRS."""
    if value is None:
        return 0
    if isinstance(value, (str, bytes, PersonName)):
        return 1 if value else 0
    if isinstance(value, (MultiValue, list, tuple)):
        return len(value)
    return 1


def plain_json(vr, value):
    """DataElement.to_json_dict for an element of FAST_VRS."""
    json_element = {"vr": vr}
    multiplicity = value_multiplicity(value)
    if multiplicity == 0:
        return json_element
    values = list(value) if multiplicity > 1 else [value]
    if vr == "PN":
        values = [person_name_json(name) for name in values]
    json_element["Value"] = convert_to_python_number(values, vr)
    return json_element


def person_name_json(name):
    components = name.components
    as_json = {"Alphabetic": components[0]}
    if len(components) > 1:
        as_json["Ideographic"] = components[1]
    if len(components) > 2:
        as_json["Phonetic"] = components[2]
    return as_json
