"""Orthanc's three JSON views of an instance's tags (full, ?simplify, ?short) and its
/content/ tree, computed from the data set stored as DICOM JSON (PS3.18 Annex F)."""

import base64
import re
import struct

from pydicom.datadict import get_private_entry, keyword_for_tag, tag_for_keyword
from pydicom.filereader import read_file_meta_info

# Orthanc's ORTHANC_MAXIMUM_TAG_LENGTH; Orthanc compares it with the UTF-8 size, not characters.
MAXIMUM_TAG_LENGTH = 256
# DCMTK's name for a tag missing from its dictionary, which Orthanc shows as is.
UNKNOWN_TAG_NAME = "Unknown Tag & Data"

# Orthanc's default flags turn these into null, whatever their content.
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
# Binary in the file even though DICOM JSON gives them as numbers: Orthanc answers null
# when they are empty (DCMTK cannot read a first value), unlike the text VRs.
NUMERIC_BINARY_VRS = {"AT", "FL", "FD", "SL", "SS", "SV", "UL", "US", "UV"}
# How the file stores them, which /content/ answers byte for byte.
STRUCT_FORMATS = {"FL": "<f", "FD": "<d", "SL": "<i", "SS": "<h", "SV": "<q", "UL": "<I", "US": "<H", "UV": "<Q"}

_HEX_TAG = re.compile(r"^([0-9a-fA-F]{4})[-,]?([0-9a-fA-F]{4})$")
_INDEX = re.compile(r"^[0-9]+$")


# --- Tags and names -------------------------------------------------------------------


def file_meta_json(path):
    """The file meta information (group 0002) of the file at `path` as DICOM JSON, binary
    elements (FileMetaInformationVersion) left out as Orthanc's /header leaves them out."""
    as_json = read_file_meta_info(path).to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=lambda e: "")
    return {key: element for key, element in as_json.items() if element.get("vr") not in BINARY_VRS}


def orthanc_tag(tag):
    """'gggg,eeee' in lowercase hex, as Orthanc's keys."""
    return f"{tag >> 16:04x},{tag & 0xFFFF:04x}"


def content_tag(tag):
    """'gggg-eeee' in lowercase hex, as Orthanc's /content/ paths."""
    return f"{tag >> 16:04x}-{tag & 0xFFFF:04x}"


def _elements_by_tag(dataset_json):
    """The data set's elements as (int tag, element) pairs, in tag order."""
    return sorted((int(key, 16), element) for key, element in dataset_json.items())


def _is_private(tag):
    return (tag >> 16) % 2 == 1


def _first_value(element):
    values = element.get("Value") or []
    return values[0] if values else None


def private_creator(dataset_json, tag):
    """The creator reserving a private element's block (gggg,xxee) in this data set or item,
    or None: the creator lives in (gggg,00xx) of the same item."""
    block = (tag & 0xFFFF) >> 8
    if not _is_private(tag) or block < 0x10:
        return None
    creator_key = f"{tag >> 16:04X}00{block:02X}"
    creator = next((el for key, el in dataset_json.items() if key.upper() == creator_key), None)
    value = _first_value(creator) if creator else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _camel_case(description):
    # pydicom's private dictionary holds prose ("Full fidelity"); DCMTK, whose names Orthanc
    # shows, uses CamelCase keywords ("FullFidelity"): make the first letter of each word upper.
    words = re.split(r"[^A-Za-z0-9]+", description)
    return "".join(word[:1].upper() + word[1:] for word in words)


def _private_name(tag, creator):
    element = tag & 0xFFFF
    if element == 0x0000:
        return "PrivateGroupLength"
    if 0x0010 <= element <= 0x00FF:
        return "PrivateCreator"
    if creator is None:
        return UNKNOWN_TAG_NAME
    try:
        description = get_private_entry(tag, creator)[2]
    except KeyError:
        return UNKNOWN_TAG_NAME
    # pydicom's dictionary lists many entries it knows nothing about as "Unknown".
    if description.strip().lower() in ("", "unknown"):
        return UNKNOWN_TAG_NAME
    return _camel_case(description) or UNKNOWN_TAG_NAME


def tag_name(tag, creator=None):
    """The name Orthanc shows for a tag: the keyword, or "Unknown Tag & Data"."""
    if _is_private(tag):
        return _private_name(tag, creator)
    keyword = keyword_for_tag(tag)
    if keyword:
        return keyword
    if tag & 0xFFFF == 0x0000:
        return "GenericGroupLength"
    return UNKNOWN_TAG_NAME


def _simplified_key(tag, creator):
    name = tag_name(tag, creator)
    return orthanc_tag(tag) if name == UNKNOWN_TAG_NAME else name


# --- Values ---------------------------------------------------------------------------


def _vr(element):
    return element.get("vr", "UN")


def _vr_choices(element):
    # pydicom writes an undecided VR as e.g. "US or SS".
    return set(_vr(element).split(" or "))


def _is_sequence(element):
    return _vr(element) == "SQ"


def _is_binary(element):
    return "BulkDataURI" in element or "InlineBinary" in element or bool(_vr_choices(element) & BINARY_VRS)


def _person_name_text(name):
    if not isinstance(name, dict):
        return "" if name is None else str(name)
    groups = [name.get("Alphabetic", ""), name.get("Ideographic"), name.get("Phonetic")]
    while groups and groups[-1] is None:
        groups.pop()
    return "=".join("" if group is None else group for group in groups)


def _number_text(number, vr_choices):
    if number is None:
        return ""
    if isinstance(number, bool) or not isinstance(number, float):
        return str(number)
    # Orthanc prints FL and FD with boost::lexical_cast, i.e. 9 and 17 significant digits,
    # which the float kept in the JSON reproduces exactly. DS is text in the file, and its
    # original spelling is lost in the JSON: the shortest form that reads back the same is
    # the closest guess.
    if "FL" in vr_choices:
        return f"{number:.9g}"
    if "FD" in vr_choices:
        return f"{number:.17g}"
    return repr(number)


def _attribute_tag_text(values):
    # Orthanc shows only the first tag, formatted as its own keys are.
    return orthanc_tag(int(values[0], 16))


def _raw_text(element):
    """The element's whole value as one string, no length limit; None when Orthanc shows null."""
    if _is_sequence(element) or _is_binary(element):
        return None
    vr_choices = _vr_choices(element)
    values = element.get("Value") or []
    if not values:
        return None if vr_choices & NUMERIC_BINARY_VRS else ""
    if "PN" in vr_choices:
        return "\\".join(_person_name_text(name) for name in values)
    if "AT" in vr_choices:
        return _attribute_tag_text(values)
    if any(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        return "\\".join(_number_text(value, vr_choices) for value in values)
    return "\\".join("" if value is None else str(value) for value in values)


def _is_too_long(text):
    return len(text.encode("utf-8")) > MAXIMUM_TAG_LENGTH


def value_text(element_json, keep_long=False):
    """The element's value as Orthanc's string form (multiple values joined by '\\'),
    or None when Orthanc shows null: binary, too long (unless `keep_long`), or a sequence."""
    text = _raw_text(element_json)
    if text is None or (_is_too_long(text) and not keep_long):
        return None
    return text


def _leaf_type(element, keep_long):
    text = _raw_text(element)
    if text is None:
        return "Null"
    return "TooLong" if _is_too_long(text) and not keep_long else "String"


# --- The three formats ----------------------------------------------------------------


def _full_element(dataset_json, tag, element, keep_long):
    creator = private_creator(dataset_json, tag)
    name = tag_name(tag, creator)
    if _is_sequence(element):
        # Orthanc gives the private creator of leaves only.
        items = [full_tags(item, keep_long) for item in element.get("Value") or []]
        return {"Name": name, "Type": "Sequence", "Value": items}
    node = {"Name": name}
    if creator is not None:
        node["PrivateCreator"] = creator
    node["Type"] = _leaf_type(element, tag in keep_long)
    node["Value"] = value_text(element, tag in keep_long)
    return node


def full_tags(dataset_json, keep_long=frozenset()):
    """Orthanc's default format: {"gggg,eeee": {"Name", ["PrivateCreator"], "Type", "Value"}}.
    The tags of `keep_long` (ints) show their values whatever their length (?ignore-length=)."""
    return {
        orthanc_tag(tag): _full_element(dataset_json, tag, element, keep_long)
        for tag, element in _elements_by_tag(dataset_json)
    }


def _simple_value(tag, element, item_format, keep_long):
    if _is_sequence(element):
        return [item_format(item, keep_long) for item in element.get("Value") or []]
    return value_text(element, tag in keep_long)


def simplified_tags(dataset_json, keep_long=frozenset()):
    """?simplify: {name: string or null or [items]}; tags without a name keep 'gggg,eeee'."""
    simplified = {}
    # Later tags win a name clash, as when Orthanc fills its JSON object in tag order.
    for tag, element in _elements_by_tag(dataset_json):
        key = _simplified_key(tag, private_creator(dataset_json, tag))
        simplified[key] = _simple_value(tag, element, simplified_tags, keep_long)
    # Orthanc's JSON writer sorts an object's keys.
    return dict(sorted(simplified.items()))


def short_tags(dataset_json, keep_long=frozenset()):
    """?short: {"gggg,eeee": string or null or [items]}."""
    return {
        orthanc_tag(tag): _simple_value(tag, element, short_tags, keep_long)
        for tag, element in _elements_by_tag(dataset_json)
    }


def tags_in_format(dataset_json, simplify=False, short=False, keep_long=frozenset()):
    """The format a request asks for: simplify wins over short, short over the full
    format, as in Orthanc 1.10.1 (/tags?short&simplify gives names)."""
    if simplify:
        return simplified_tags(dataset_json, keep_long)
    if short:
        return short_tags(dataset_json, keep_long)
    return full_tags(dataset_json, keep_long)


def tags_kept_long(text):
    """The tags of Orthanc's ?ignore-length= argument: names or 'ggggeeee' / 'gggg-eeee',
    separated by commas. Raises KeyError for an unknown one."""
    return frozenset(parse_tag(part) for part in text.split(",") if part.strip())


def shared_elements(datasets):
    """The elements that every data set (DICOM JSON) holds with the same value, as
    GET …/shared-tags answers: text values only, since Orthanc compares its flat map of
    tags, which keeps no sequence and no binary value."""
    shared = None
    for dataset_json in datasets:
        texts = {key: e for key, e in dataset_json.items() if _leaf_type(e, keep_long=False) == "String"}
        if shared is None:
            shared = texts
        else:
            shared = {key: element for key, element in shared.items() if texts.get(key) == element}
    return shared or {}


# --- /content/ paths ------------------------------------------------------------------


def parse_tag(text):
    """A tag from 'gggg-eeee', 'ggggeeee' (any case) or a keyword; KeyError if none."""
    text = text.strip()
    match = _HEX_TAG.match(text)
    if match:
        return int(match.group(1) + match.group(2), 16)
    tag = tag_for_keyword(text)
    if tag is None:
        raise KeyError(text)
    return tag


def _child_element(item, part):
    wanted = parse_tag(part)
    for tag, element in _elements_by_tag(item):
        if tag == wanted:
            return element
    raise KeyError(part)


def _sequence_item(element, part):
    items = element.get("Value") or []
    if not _is_sequence(element) or not _INDEX.match(part) or int(part) >= len(items):
        raise KeyError(part)
    return items[int(part)]


def _packed_numbers(element):
    # The file holds these VRs as binary numbers, which Orthanc answers as they are.
    values = [value for value in element.get("Value") or [] if value is not None]
    vr_choices = _vr_choices(element)
    if "AT" in vr_choices:
        return b"".join(struct.pack("<HH", int(v, 16) >> 16, int(v, 16) & 0xFFFF) for v in values)
    if vr_choices == {"US", "SS"}:
        return b"".join(struct.pack("<h" if v < 0 else "<H", v) for v in values)
    fmt = next(STRUCT_FORMATS[vr] for vr in sorted(vr_choices) if vr in STRUCT_FORMATS)
    return b"".join(struct.pack(fmt, v) for v in values)


def _leaf_content(element):
    if "BulkDataURI" in element:
        return ("bulk", element["BulkDataURI"])
    if "InlineBinary" in element:
        return ("binary", base64.b64decode(element["InlineBinary"]))
    if _is_binary(element):
        return ("binary", b"")
    if _vr_choices(element) & NUMERIC_BINARY_VRS:
        return ("binary", _packed_numbers(element))
    return ("value", _raw_text(element))


def _describe(node, is_item):
    if is_item:
        return ("children", [content_tag(tag) for tag, _ in _elements_by_tag(node)])
    if _is_sequence(node):
        return ("children", [str(index) for index in range(len(node.get("Value") or []))])
    return _leaf_content(node)


def value_at_path(dataset_json, path_parts):
    """What GET /instances/{id}/content/{path} answers, path parts alternating tags and item
    indexes: ("value", str), ("bulk", uri), ("binary", bytes) for a leaf, or ("children",
    [names]) for a sequence (item indexes) or an item ('gggg-eeee' tags).
    Raises KeyError when a part does not exist."""
    node, is_item = dataset_json, True
    for part in path_parts:
        if is_item:
            node = _child_element(node, part)
        else:
            node = _sequence_item(node, part)
        is_item = not is_item
    return _describe(node, is_item)
