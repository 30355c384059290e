"""WADO-RS bulk data (PS3.18 10.4.1.1.5): the value of one element, named by the BulkDataURI of
the metadata (explorer/dicomweb/metadata.py): `…/bulk/7fe00010`, or inside sequences
`…/bulk/54000100/2/54001010` (items counted from 1).

As Orthanc answers it: one application/octet-stream part holding the value as stored, any
element's (not only binary ones); compressed pixel data as one part per item, the Basic
Offset Table first, then each fragment. A value larger than DEFER_SIZE stays in the file
until it is sent, a megabyte at a time.
"""

import re

import numpy
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.encaps import generate_fragments
from pydicom.uid import ExplicitVRBigEndian

from explorer import storage
from explorer.dicomweb.multipart_answers import CHUNK, Part
from explorer.dicomweb.syntaxes import OCTET_STREAM
from explorer.errors import BadRequest, InexistentItem

TAG = re.compile(r"^[0-9a-fA-F]{8}$")
DEFER_SIZE = 64 * 1024
UNDEFINED_LENGTH = 0xFFFFFFFF
SWAPPED_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def tag_path(text):
    """[tag, item number, tag, …, tag] of a bulk path; 400 when it is not one."""
    pieces = [piece for piece in (text or "").strip("/").split("/")]
    if len(pieces) % 2 == 0:
        raise BadRequest(f"A bulk data path is tags and item numbers, ending with a tag: {text[:120]!r}")
    path = []
    for position, piece in enumerate(pieces):
        if position % 2 == 0:
            if not TAG.match(piece):
                raise BadRequest(f"Not a DICOM tag: {piece[:20]!r}")
            path.append(int(piece, 16))
        else:
            if not piece.isdigit() or int(piece) < 1:
                raise BadRequest(f"Not an item number (counted from 1): {piece[:20]!r}")
            path.append(int(piece))
    return path


def bulk_parts(instance, path):
    """The Parts of the value at `path` (tag_path's) of a stored instance; 404 if none."""
    file_path = storage.path_for(instance.file_uuid)
    dataset = pydicom.dcmread(file_path, defer_size=DEFER_SIZE, force=True)
    big_endian = dataset.file_meta.get("TransferSyntaxUID") == ExplicitVRBigEndian
    *parents, tag = path
    for position in range(0, len(parents), 2):
        sequence, number = parents[position], parents[position + 1]
        if sequence not in dataset or dataset[sequence].VR != "SQ" or number > len(dataset[sequence].value):
            raise InexistentItem(f"No item {number} in the sequence {sequence:08x}")
        dataset = dataset[sequence].value[number - 1]
    if tag not in dataset:
        raise InexistentItem(f"No element {tag:08x} in this instance")
    element = dataset.get_item(tag, keep_deferred=True)
    if isinstance(element, RawDataElement) and element.value is None:  # left in the file
        if element.length == UNDEFINED_LENGTH:
            return _fragments(file_path, element.value_tell)
        if not big_endian:
            return [Part(OCTET_STREAM, element.length, _file_range(file_path, element.value_tell, element.length))]
        element = dataset[tag]
    value = _raw_value(dataset, tag, element)
    width = SWAPPED_WIDTH.get(dataset[tag].VR) if big_endian else None
    if width and len(value) % width == 0:
        value = numpy.frombuffer(value, f">u{width}").astype(f"<u{width}").tobytes()
    return [Part.of_bytes(OCTET_STREAM, value)]


def _raw_value(dataset, tag, element):
    if isinstance(element, RawDataElement):
        return bytes(element.value or b"")
    value = dataset[tag].value
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return "\\".join(str(item) for item in value).encode()
    return b"" if value is None else str(value).encode()


def _file_range(path, offset, length):
    with open(path, "rb") as handle:
        handle.seek(offset)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def _fragments(path, offset):
    with open(path, "rb") as handle:
        handle.seek(offset)
        for fragment in generate_fragments(handle):
            yield Part.of_bytes(OCTET_STREAM, fragment)
