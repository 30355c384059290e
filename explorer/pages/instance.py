"""An instance's page: its data set as a tree of tags, and its picture frame by frame."""

import base64
import logging
from dataclasses import dataclass

from pydicom.datadict import dictionary_VR

from explorer import dicom, storage, tags
from explorer.pages.links import full_size_url, preview_url
from explorer.pages.windowing import FROM_THE_FILE

logger = logging.getLogger(__name__)

NUMBER_OF_FRAMES = "00280008"
# Longer tag values are cut in the tag tree; the whole value stays one click away in /tags.
SHORTENED_LENGTH = 96


@dataclass
class TagNode:
    """One element of the tag tree. `items` is a list of item node lists for a sequence, None otherwise."""

    tag: str  # "0010,0010"
    name: str
    vr: str
    value: str
    kind: str  # "text", "long", "binary", "empty" or "sequence"
    private: bool = False
    creator: str = ""
    link: str = ""  # where a binary value can be downloaded
    items: list | None = None


def frame_count(dataset_json):
    element = dataset_json.get(NUMBER_OF_FRAMES) or {}
    try:
        return max(int(float((element.get("Value") or [1])[0])), 1)
    except (TypeError, ValueError, IndexError):
        return 1


def _element_vr(element, tag_number):
    vr = element.get("vr")
    if vr:
        return vr
    try:
        return dictionary_VR(tag_number)
    except KeyError:
        return ""


def _plain_values(element):
    """Every value of a long element as text, for its shortened form."""
    parts = []
    for value in element.get("Value") or []:
        if isinstance(value, dict):  # a person name
            value = value.get("Alphabetic", "")
        parts.append("" if value is None else str(value))
    return "\\".join(parts)


def _shortened(text):
    return text if len(text) <= SHORTENED_LENGTH else text[:SHORTENED_LENGTH].rstrip() + "…"


def _binary_value(element):
    """(shown text, download link) of a binary element."""
    if "BulkDataURI" in element:
        return "binary data", element["BulkDataURI"]
    if "InlineBinary" in element:
        size = len(base64.b64decode(element["InlineBinary"]))
        return f"binary, {size} bytes", ""
    return "binary, empty", ""


def _leaf(described, element):
    kind, value, link = "text", described.get("Value"), ""
    if described["Type"] == "TooLong":
        text = _plain_values(element)
        kind, value = "long", f"{_shortened(text)} ({len(text)} characters)"
    elif value is None:
        if "BulkDataURI" in element or "InlineBinary" in element or element.get("vr") in tags.BINARY_VRS:
            kind = "binary"
            value, link = _binary_value(element)
        else:
            kind, value = "empty", ""
    elif value == "":
        kind = "empty"
    return kind, value, link


def tag_nodes(dataset_json, described=None):
    """The data set (DICOM JSON) as TagNodes in tag order, names from explorer.tags.full_tags."""
    described = tags.full_tags(dataset_json) if described is None else described
    by_key = {key.upper(): element for key, element in dataset_json.items()}
    nodes = []
    for tag_text, info in described.items():
        element = by_key[tag_text.replace(",", "").upper()]
        tag_number = int(tag_text.replace(",", ""), 16)
        node = TagNode(
            tag=tag_text.upper(),
            name=info["Name"],
            vr=_element_vr(element, tag_number),
            value="",
            kind="sequence",
            private=bool((tag_number >> 16) % 2),
            creator=info.get("PrivateCreator", ""),
        )
        if info["Type"] == "Sequence":
            items_json = element.get("Value") or []
            node.items = [tag_nodes(item, item_described) for item, item_described in zip(items_json, info["Value"])]
            node.value = f"{len(node.items)} item{'s' if len(node.items) != 1 else ''}"
        else:
            node.kind, node.value, node.link = _leaf(info, element)
        nodes.append(node)
    return nodes


def file_meta_nodes(instance):
    """The file meta header (group 0002) as TagNodes, read from the start of the stored file
    (the index keeps the data set alone), or None when the file cannot be read."""
    try:
        meta_json = tags.file_meta_json(storage.path_for(instance.file_uuid))
    except Exception as error:  # a missing or damaged file: the data set's tags still show
        logger.warning("The file meta header of %s cannot be read: %s", instance.public_id, error)
        return None
    return tag_nodes(meta_json)


@dataclass
class InstanceView:
    """The picture part of an instance page. The URLs named *_base lack the window preset's
    query, which the page appends (again when the user picks another preset)."""

    preview_url: str
    frames: int
    frame_url_template: str  # "{n}" stands for the frame number
    pdf_url: str = ""  # an encapsulated PDF: where it opens
    preview_base: str = ""
    full_size_url: str = ""
    full_size_base: str = ""
    full_size_template: str = ""


def instance_view(instance, preset=FROM_THE_FILE):
    frames = frame_count(instance.dataset)
    public_id = instance.public_id
    return InstanceView(
        preview_url=preview_url(public_id, window=preset.query),
        frames=frames,
        frame_url_template=preview_url(public_id, frame="{n}"),
        pdf_url=f"/instances/{public_id}/pdf" if dicom.holds_pdf(instance.dataset) else "",
        preview_base=preview_url(public_id),
        full_size_url=full_size_url(public_id, window=preset.query),
        full_size_base=full_size_url(public_id),
        full_size_template=full_size_url(public_id, frame="{n}"),
    )
