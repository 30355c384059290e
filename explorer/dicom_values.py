"""Tags, paths into sequences and data elements as Orthanc's REST bodies give them: "PatientName",
"0010,0010", "ReferencedImageSequence[*].ReferencedSOPInstanceUID", and JSON values made into
pydicom elements (Orthanc's DicomPath and FromDcmtkBridge::FromJson)."""

import base64
import re

from pydicom.datadict import dictionary_VR, private_dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from explorer.errors import ParameterOutOfRange, PharosError, UnknownDicomTag

# DCMTK's isaString(): the VRs whose values Orthanc's visitor sees as text.
STRING_VRS = frozenset("AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT".split())
INT_VRS = {"US": int, "SS": int, "UL": int, "SL": int, "UV": int, "SV": int, "FL": float, "FD": float}
_HEX_TAG = re.compile(r"^\(?([0-9a-fA-F]{4})[-,]?([0-9a-fA-F]{4})\)?$")
_DATA_URI = re.compile(r"^data:[^;,]*;base64,", re.ASCII)


class BadParameterType(PharosError):
    http_status, orthanc_status, orthanc_error = 400, 5, "Bad type for a parameter"


def parse_tag(text):
    """Orthanc's DicomPath::ParseTag: "(gggg,eeee)", "gggg,eeee", "gggg-eeee", "ggggeeee" or a keyword."""
    text = text.strip()
    match = _HEX_TAG.match(text)
    if match:
        return int(match.group(1) + match.group(2), 16)
    tag = tag_for_keyword(text) if text else None
    if tag is None:
        raise UnknownDicomTag(f'Unknown DICOM tag: "{text}"')
    return tag


def parse_path(text):
    """A tag path as Orthanc 1.9.4+ (dcmodify's syntax): "Seq[0].Seq[*].Tag" ->
    (((tag, index or None for *), ...), final tag)."""
    tokens = text.split(".")
    final = parse_tag(tokens[-1])
    prefix = []
    for token in tokens[:-1]:
        left, bracket, right = token.partition("[")
        if not bracket:
            raise ParameterOutOfRange("Parent path doesn't contain an index")
        if not left.strip():
            raise ParameterOutOfRange("Parent path doesn't contain a tag")
        right = right.strip()
        if not right.endswith("]"):
            raise ParameterOutOfRange("Parent path doesn't contain the end of the index")
        tag = parse_tag(left)
        index = right[:-1].strip()
        if index == "*":
            prefix.append((tag, None))
        elif re.fullmatch(r"-?[0-9]+", index):
            if int(index) < 0:
                raise ParameterOutOfRange(f"Negative index in parent path: {index}")
            prefix.append((tag, int(index)))
        else:
            raise ParameterOutOfRange(f"Not a valid index in parent path: [{right}")
    return tuple(prefix), final


def path_matches(path, parents, tag):
    """Orthanc's DicomPath::IsMatch: the path designates the element, or a sequence it is in."""
    prefix, final = path
    if len(parents) < len(prefix):
        return False
    for (pattern_tag, pattern_index), (parent_tag, parent_index) in zip(prefix, parents, strict=False):
        if pattern_tag != parent_tag or (pattern_index is not None and pattern_index != parent_index):
            return False
    return (parents[len(prefix)][0] if len(parents) > len(prefix) else tag) == final


def _bad_type(tag):
    return BadParameterType(f"Bad Parameter type for tag {tag >> 16:04x},{tag & 0xFFFF:04x}")


def check_value(tag, value):
    """A replacement is a string, null, or a list of items (objects, or [] for an empty item)."""
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list) or not (tag & 0x10000 or _vr(tag, "") == "SQ"):
        raise _bad_type(tag)
    for item in value:
        if isinstance(item, dict):
            for name, child in item.items():
                check_value(parse_tag(name), child)
        elif item != []:
            raise BadParameterType()


def _vr(tag, private_creator, existing=None):
    if tag & 0x10000:
        if existing is not None and existing.VR:
            return existing.VR
        try:
            return private_dictionary_VR(tag, private_creator).split(" or ")[0]
        except KeyError:
            return "UN"
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return existing.VR if existing is not None and existing.VR else "UN"


def make_element(tag, value, private_creator="", existing=None):
    """A data element from a JSON value of a body (Orthanc's FromDcmtkBridge::FromJson)."""
    vr = _vr(tag, private_creator, existing)
    if isinstance(value, list):
        if vr != "SQ":
            raise _bad_type(tag)
        items = []
        for item_value in value:
            item = Dataset()
            for name, child in (item_value or {}).items():
                child_tag = parse_tag(name)
                item[child_tag] = make_element(child_tag, child, private_creator)
            items.append(item)
        return DataElement(tag, vr, Sequence(items))
    text = value or ""
    if vr == "SQ":
        if text:
            raise _bad_type(tag)
        return DataElement(tag, vr, Sequence())
    if not text:
        return DataElement(tag, vr, None)
    if vr in INT_VRS:
        try:
            numbers = [INT_VRS[vr](part) for part in text.split("\\")]
        except ValueError as exc:
            raise BadParameterType(f"Bad value for tag {tag >> 16:04x},{tag & 0xFFFF:04x}: {text}") from exc
        return DataElement(tag, vr, numbers[0] if len(numbers) == 1 else numbers)
    if vr == "AT":
        return DataElement(tag, vr, [parse_tag(part) for part in text.split("\\")])
    if vr in STRING_VRS:
        return DataElement(tag, vr, text)
    # Binary: a data URI ("data:application/octet-stream;base64,…") is decoded, as Orthanc does.
    match = _DATA_URI.match(text)
    data = base64.b64decode(text[match.end() :]) if match else text.encode("utf-8")
    return DataElement(tag, vr, data)


def element_vr(dataset, tag):
    raw = dataset.get_item(tag)
    vr = raw.VR if raw is not None else None
    if vr in (None, "UN") and not tag & 0x10000:
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:
            pass
    return vr


def items_at(dataset, prefix):
    """The items a path's prefix designates (every item for [*])."""
    items = [dataset]
    for tag, index in prefix:
        found = []
        for item in items:
            if tag not in item or element_vr(item, tag) != "SQ":
                continue
            sequence = item[tag].value or ()
            if index is None:
                found.extend(sequence)
            elif index < len(sequence):
                found.append(sequence[index])
        items = found
    return items
