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

Two kinds of values are written as the file writes them, as Orthanc shows them, where
pydicom's JSON would change them: numbers written as text (IS, DS) are kept as strings
("04" stays "04", "120" is not 120.0; an invalid "1A" is kept), and a person name keeps its
empty trailing groups ("Wang^XiaoDong=王^小东=" keeps its "="). DICOM JSON allows strings
for IS and DS, and pydicom reads them back. The data set trailing padding (FFFC,FFFC),
which Orthanc does not show, is left out.

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
# Numbers written as text, kept as written.
AS_WRITTEN_VRS = frozenset({"IS", "DS"})
# Written by pydicom with values this module writes otherwise, in any element (sequence
# items included) that takes pydicom's path.
REWRITTEN_VRS = AS_WRITTEN_VRS | {"PN", "SQ"}
DATA_SET_TRAILING_PADDING = 0xFFFCFFFC


def to_json_dict(dataset, bulk_data_element_handler, bulk_data_threshold):
    """(The data set's JSON, {tag as int: (VR, value)} of the elements converted here, which
    the dataset still holds raw). An element whose value cannot be read is left out, with a
    warning."""
    if not pydicom_compat.fast_paths():
        as_json = pydicom_json_dict(dataset, bulk_data_element_handler, bulk_data_threshold)
        return as_json, written_values(as_json)
    encodings = character_sets(dataset)
    converted, as_json = {}, {}
    for tag, element in list(pydicom_compat.raw_elements(dataset).items()):
        number = int(tag)  # a plain int: a BaseTag compares through Python code in every lookup
        if number == DATA_SET_TRAILING_PADDING:
            continue
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
        if tag == DATA_SET_TRAILING_PADDING:
            continue
        json_element = pydicom_json(dataset, tag, bulk_data_element_handler, bulk_data_threshold)
        if json_element is not None:
            as_json[json_key(int(tag))] = json_element
    return as_json


def written_values(as_json):
    """{tag as int: (VR, value)} of the person names and numbers of a data set's JSON, as
    to_json_dict gives those it converts: the texts as written, which pydicom's values lose."""
    values = {}
    for key, element in as_json.items():
        vr, texts = element.get("vr"), element.get("Value")
        if vr not in AS_WRITTEN_VRS | {"PN"} or not texts:
            continue
        if vr == "PN":
            texts = ["=".join(name.get(group, "") for group in PN_GROUPS[: len(name)]) for name in texts]
        texts = ["" if text is None else text for text in texts]
        values[int(key, 16)] = (vr, texts[0] if len(texts) == 1 else texts)
    return values


def pydicom_json(dataset, tag, bulk_data_element_handler, bulk_data_threshold):
    """An element's JSON as pydicom writes it, numbers written as text and person names as
    written (see the module's docstring); None, with a warning, when it cannot be read."""
    raw = dataset.get_item(tag, keep_deferred=True)
    raw_value = raw.value if isinstance(raw, RawDataElement) else None
    try:
        element = dataset[tag]
        as_json = element.to_json_dict(bulk_data_element_handler, bulk_data_threshold)
        return as_written(element, as_json, raw_value)
    except Exception as exc:
        vr = fast_vr(int(tag), raw) if isinstance(raw_value, bytes) else None
        if vr in AS_WRITTEN_VRS:  # a number pydicom cannot read ("1A"), kept as Orthanc keeps it
            return plain_json(vr, written_numbers(raw_value))
        logger.warning("Cannot read tag %08X: %s", tag, exc)
        return None


def as_written(element, json_element, raw=None):
    """pydicom's JSON of an element with its numbers written as text, in sequence items
    too; its person names with their empty trailing groups when the raw bytes are known."""
    vr = json_element.get("vr")
    if vr not in REWRITTEN_VRS or not json_element.get("Value"):
        return json_element
    if vr == "SQ":
        for item, item_json in zip(element.value, json_element["Value"]):
            for key, inner_json in item_json.items():
                as_written(item[int(key, 16)], inner_json)
        return json_element
    if vr in AS_WRITTEN_VRS and isinstance(raw, bytes):
        return plain_json(vr, written_numbers(raw))
    values = element.value if isinstance(element.value, (MultiValue, list, tuple)) else [element.value]
    if vr == "PN":
        names = written_names(element.value, raw)
        json_element["Value"] = [person_name_json(name) for name in (names if isinstance(names, list) else [names])]
    else:
        json_element["Value"] = [str(value) if value is not None and str(value) else None for value in values]
    return json_element


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
        if vr in AS_WRITTEN_VRS:
            value = written_numbers(raw)
        else:
            value = convert_value(vr, element, encoding)
            if vr == "PN":
                value = written_names(value, raw)
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


def written_numbers(raw):
    """IS and DS values as the file writes them (ASCII digits): one string, a list of them
    when there are several (None for an empty one), "" when empty."""
    texts = [text.strip(" \x00") for text in raw.decode("latin-1").split("\\")]
    if len(texts) == 1:
        return texts[0]
    return [text or None for text in texts]


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
    if vr not in AS_WRITTEN_VRS:
        values = convert_to_python_number(values, vr)
    json_element["Value"] = values
    return json_element


PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")


def written_names(value, raw):
    """Person names as texts as the file writes them: pydicom drops empty trailing groups
    ("A^B=" reads as "A^B"), which Orthanc shows; the raw bytes tell them. A text, or a
    list of texts when there are several."""
    names = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
    parts = raw.split(b"\\") if isinstance(raw, bytes) else []
    if len(parts) != len(names):  # a backslash inside a multi-byte character: no padding
        parts = [b""] * len(names)
    texts = ["" if name is None else "=".join(_padded_groups(name, part)) for name, part in zip(names, parts)]
    return texts[0] if len(texts) == 1 else texts


def _padded_groups(name, raw):
    groups = list(name.components)
    written = raw.rstrip(b" \x00")
    if written.endswith(b"="):
        groups += [""] * (min(len(written.split(b"=")), len(PN_GROUPS)) - len(groups))
    return groups


def person_name_json(name):
    """A person name (a PersonName, or a text as written_names gives) as DICOM JSON."""
    groups = name.split("=") if isinstance(name, str) else name.components
    return dict(zip(PN_GROUPS, groups))


def written_text(value):
    """One converted value as a main tag's text."""
    if isinstance(value, PersonName):
        return "=".join(value.components)
    return str(value)
