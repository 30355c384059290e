"""The values of C-FIND answers: texts and pydicom elements from what the index keeps, and
the character set each answer is written in.

A value is a (VR, text) pair when it is a text, as most are (main tags, computed keys,
texts of the stored DICOM JSON), and a pydicom DataElement for the rest (sequences with
their items, binary numbers): plain tuples, as a long answer makes many of them.
dicomnet.find puts them together into identifiers.
"""

import logging
from functools import lru_cache, partial

from pydicom import config as pydicom_config
from pydicom.charset import python_encoding
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import ALLOW_BACKSLASH, DS, IS, PersonName, format_number_as_ds

from dicomnet.wire.find_encoding import CHARSET_VRS
from explorer import character_sets, pydicom_compat, runtime_settings

logger = logging.getLogger("dicomnet")

INTEGER_VRS = frozenset({"US", "SS", "UL", "SL", "SV", "UV"})
FLOAT_VRS = frozenset({"FL", "FD"})
# The VRs that DICOM JSON keeps as strings or as numbers written as text (PS3.18 F.2.3).
JSON_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
# VRs whose values are no text: binary numbers and sequences.
CONVERTED_VRS = frozenset({"SQ"}) | INTEGER_VRS | FLOAT_VRS
# The types pydicom gives to a number written as text.
NUMBER_TEXT_TYPES = {"IS": IS, "DS": DS}
ASCII_TERMS = frozenset({"", "ISO_IR 6", "ISO 2022 IR 6"})
UTF8 = "ISO_IR 192"
# Orthanc's DefaultEncoding names → the SpecificCharacterSet of its C-FIND answers
# (Orthanc's GetDicomSpecificCharacterSet).


# --- Answer elements ------------------------------------------------------------------


# An answer value is a (VR, text) pair or a DataElement (see Found.answer_values): plain
# tuples, as a long answer makes many of them.


def element_of(key, value):
    """An answer value as a pydicom DataElement."""
    return text_element(key.tag, *value) if type(value) is tuple else value


def encoded_value(writer, key, value, charset):
    """The bytes of an answer value: texts written directly when they can be, the rest by pydicom."""
    if type(value) is tuple:
        encoded = writer.text(key.tag, value[0], value[1], charset)
        if encoded is not None:
            return encoded
    return writer.element(element_of(key, value), charset)


def new_element(tag, vr, value):
    # The values come from data sets pydicom read and checked when they were stored.
    return DataElement(tag, vr, value, validation_mode=pydicom_config.IGNORE)


def empty_value(vr):
    if vr == "SQ":
        return []
    if vr in INTEGER_VRS or vr in FLOAT_VRS:
        return None
    return ""


def text_element(tag, vr, text):
    """An element of a VR from a text (None or "" for an empty one)."""
    text = text or ""
    if vr in CONVERTED_VRS:
        return converted_element(tag, vr, text)
    # Most answer values are texts as they will be written: pydicom's conversion, the larger
    # part of building a long answer, would only check and wrap them. It is done here, for less.
    if "\\" in text and vr not in ALLOW_BACKSLASH:
        value = MultiValue(partial(single_value, vr), text.split("\\"))
    else:
        value = single_value(vr, text)
    return pydicom_compat.element_as_converted(tag, vr, value)


def converted_element(tag, vr, text):
    """Binary numbers and sequences as pydicom converts them; empty when the text is no
    value of the VR."""
    try:
        return new_element(tag, vr, typed_value(vr, text))
    except (ValueError, TypeError, OverflowError):
        return new_element(tag, vr, empty_value(vr))


def single_value(vr, text):
    """One value of a VR as pydicom holds it: a PersonName, an IS or DS, or the text."""
    if vr == "PN":
        return PersonName(text)
    number_type = NUMBER_TEXT_TYPES.get(vr)
    if number_type is None or not text:
        return text
    try:
        return number_type(text, validation_mode=pydicom_config.IGNORE)
    except (ValueError, TypeError, OverflowError):
        return ""  # an IS that is no number


def typed_value(vr, text):
    if not text:
        return empty_value(vr)
    if vr in INTEGER_VRS:
        return [int(item) for item in text.split("\\")]
    if vr in FLOAT_VRS:
        return [float(item) for item in text.split("\\")]
    return text


def no_bulk_data(tag, vr, uri):
    # A C-FIND answer carries no bulk data: a value kept as a reference comes back empty.
    return b""


def data_set_value(key, element_json):
    """An answer value from its stored DICOM JSON: a (VR, text) pair, or a DataElement for
    the rest (sequences with their items, binary numbers); empty when the first instance has
    no such tag."""
    if not isinstance(element_json, dict):
        return key.vr, ""
    text = json_text(element_json)
    if text is not None:
        return element_json.get("vr") or key.vr, text
    try:
        as_json = {key.where: element_json}
        dataset = Dataset.from_json(as_json, bulk_data_uri_handler=no_bulk_data)
        return respell_decimals(written_numbers(dataset, as_json))[key.tag]
    except Exception as error:  # a stored value pydicom cannot read back
        logger.warning("C-FIND: cannot answer tag %s from the stored data set: %s", key.where, error)
        return key.vr, ""


def json_text(element_json):
    """The value of a DICOM JSON element of a text or number string VR as one text, as
    main tags are kept; None for the others (sequences, binary values), which pydicom reads.
    Dataset.from_json would give the same element, for many times the work."""
    vr = element_json.get("vr")
    if vr not in JSON_TEXT_VRS or "BulkDataURI" in element_json or "InlineBinary" in element_json:
        return None
    values = element_json.get("Value") or []
    if vr == "PN":
        return "\\".join(person_name_text(name) for name in values)
    if vr == "DS":
        return "\\".join("" if number is None else decimal_text(number) for number in values)
    return "\\".join("" if value is None else str(value) for value in values)


def person_name_text(name):
    """A DICOM JSON person name as PN text, as the file writes it: the groups the stored data
    set holds joined by '=' (an empty trailing one is written "=", as Orthanc answers it)."""
    if not isinstance(name, dict):
        return "" if name is None else str(name)
    groups = [name.get("Alphabetic"), name.get("Ideographic"), name.get("Phonetic")]
    while groups and groups[-1] is None:
        groups.pop()
    return "=".join(group or "" for group in groups)


def written_numbers(dataset, dataset_json):
    """IS and DS values as the stored data set keeps them, as written in the file (Orthanc
    answers them so): Dataset.from_json makes numbers of them ("116.003669700000" would
    come back "116.0036697")."""
    for key, element_json in dataset_json.items():
        tag = int(key, 16)
        element = dataset.get(tag)
        values = element_json.get("Value") or [] if isinstance(element_json, dict) else []
        if element is None or not values:
            continue
        if element.VR == "SQ":
            for item, item_json in zip(element.value, values):
                if isinstance(item_json, dict):
                    written_numbers(item, item_json)
        elif element.VR in NUMBER_TEXT_TYPES and all(value is None or isinstance(value, str) for value in values):
            dataset[tag] = new_element(tag, element.VR, "\\".join(value or "" for value in values))
    return dataset


def respell_decimals(dataset):
    """DS values as written: the stored data set keeps their text, which pydicom keeps; one
    stored as a number (before the text was kept) in its shortest spelling, not pydicom's
    "120.0" for a file's "120"."""
    for element in dataset.iterall():
        if element.VR == "DS" and element.value not in (None, ""):
            numbers = element.value if isinstance(element.value, MultiValue) else [element.value]
            texts = ("" if number is None else written_decimal(number) for number in numbers)
            element.value = "\\".join(texts)
    return dataset


def written_decimal(number):
    """A DS as the file wrote it (stored data sets keep its text); the shortest spelling of
    a number stored before they did."""
    return getattr(number, "original_string", None) or decimal_text(float(number))


def decimal_text(number):
    if isinstance(number, str):
        return number
    if float(number).is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = repr(float(number))
    return text if len(text) <= 16 else format_number_as_ds(float(number))  # DS holds 16 characters


# --- Character set --------------------------------------------------------------------


def default_charset():
    """The SpecificCharacterSet of DefaultEncoding (a runtime setting), as a query's: a tuple
    of its terms. An encoding Orthanc does not name is UTF-8."""
    return (character_sets.dicom_term(str(runtime_settings.current("DefaultEncoding") or "")) or UTF8,)


def answer_charset(charset, foreign_texts):
    """The query's character set when every text of the answer outside ASCII fits in it,
    else UTF-8. A query without one asked in the default repertoire (ASCII)."""
    if foreign_texts:
        codecs = python_codecs(charset)
        if codecs is None or not all(fits(c, codecs) for text in foreign_texts for c in set(text)):
            return UTF8
    return "\\".join(charset)


def non_ascii_texts(element):
    """The texts outside ASCII of an element, its sequence items included."""
    if element.VR == "SQ":
        return [text for item in element.value for inner in item for text in non_ascii_texts(inner)]
    if element.VR not in CHARSET_VRS or element.value is None:
        return []
    values = element.value if isinstance(element.value, (MultiValue, list)) else [element.value]
    return [str(value) for value in values if value is not None and not str(value).isascii()]


def python_codecs(charset):
    """The Python codecs of a SpecificCharacterSet, or None when one term is unknown."""
    codecs = []
    for term in charset or ("",):
        term = (term or "").strip()
        codec = "ascii" if term in ASCII_TERMS else python_encoding.get(term)
        if codec is None:
            return None
        codecs.append(codec)
    return tuple(codecs)


@lru_cache(maxsize=8192)
def fits(character, codecs):
    """Whether one of the codecs (ISO 2022 code extensions let them mix) has the character."""
    return any(encodes(character, codec) for codec in codecs)


def encodes(character, codec):
    try:
        encoded = character.encode(codec)
    except (UnicodeError, LookupError):
        return False
    # pydicom writes ISO_IR 13 as JIS X 0201, single bytes: Shift JIS's kanji are not in it.
    return len(encoded) == 1 if codec == "shift_jis" else True
