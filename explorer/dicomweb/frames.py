"""WADO-RS frames (PS3.18 10.4.1.1.3): frames of an instance, 1-based, each one part of a
multipart/related answer.

The stored bytes are sent untouched whenever the Accept header allows it: the slice of a
native pixel data, or the fragments of a compressed frame, read from where they lie in the
file (`locate` reads the header only, `pydicom.encaps.get_frame` only the frame's fragments).
That is what OHIF asks for (`type=application/octet-stream; transfer-syntax=*`), one frame per
request. Otherwise the instance is decoded (uncompressed frames of a compressed file, as
Orthanc answers a request without a transfer syntax) or transcoded (another compressed
syntax) by explorer/transcoding.py, and the frame taken from the result.
"""

import functools
import re
import struct
from dataclasses import dataclass

import numpy
import pydicom
from pydicom.encaps import get_frame
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian

from explorer import storage, transcoding
from explorer.dicomweb import syntaxes
from explorer.dicomweb.accept import ANY, NotAcceptable
from explorer.dicomweb.multipart_answers import Part
from explorer.errors import BadRequest, InexistentItem

FRAME_LIST = re.compile(r"^\s*\d+\s*(,\s*\d+\s*)*$")
PIXEL_DATA = 0x7FE00010
UNDEFINED_LENGTH = 0xFFFFFFFF


def frame_numbers(text):
    """The 1-based frame numbers of a `frames/{list}` path ("1", "1,3,5"); 400 otherwise."""
    if not FRAME_LIST.match(text or ""):
        raise BadRequest(f"Not a list of frame numbers: {text[:80]!r}")
    numbers = [int(number) for number in text.split(",")]
    if min(numbers) < 1:
        raise BadRequest(f"Invalid frame number (must be > 0): {min(numbers)}")
    return numbers


@dataclass(frozen=True)
class Location:
    """Where an instance's pixel data lies in its file, and what it is."""

    syntax: UID
    frames: int
    offset: int  # of the value: the first byte of the pixels, or of the Basic Offset Table
    length: int
    frame_size: int | None  # bytes per frame of native pixel data
    bits_allocated: int = 8


@functools.lru_cache(maxsize=4096)
def locate(file_uuid):
    """The Location of a stored file's pixel data (None when it has none). A stored file never
    changes (a changed instance is a new file), so what is read once is kept."""
    with storage.open_file(file_uuid) as handle:
        header = pydicom.dcmread(handle, stop_before_pixels=True, force=True)
        syntax = UID(header.file_meta.get("TransferSyntaxUID") or transcoding.source_syntax(header))
        frames = _frame_count(header)
        if syntax == DeflatedExplicitVRLittleEndian:  # no offsets in a deflated stream
            return Location(syntax, frames, -1, -1, None) if "PixelData" in header else None
        start = handle.tell()
        head = handle.read(12)
    endian = ">" if syntax == ExplicitVRBigEndian else "<"
    if len(head) < 8 or struct.unpack(f"{endian}I", _swapped_tag(head[:4], endian))[0] != PIXEL_DATA:
        return None
    if syntax.is_implicit_VR:
        offset, length = start + 8, struct.unpack(f"{endian}I", head[4:8])[0]
    else:
        offset, length = start + 12, struct.unpack(f"{endian}I", head[8:12])[0]
    bits_allocated = int(header.get("BitsAllocated") or 8)
    frame_size = _frame_size(header) if length != UNDEFINED_LENGTH else None
    return Location(syntax, frames, offset, length, frame_size, bits_allocated)


def _frame_size(dataset):
    """Bytes per frame of native pixel data; None when frames are not whole bytes (1-bit)."""
    bits = int(dataset.get("Rows") or 0) * int(dataset.get("Columns") or 0)
    bits *= int(dataset.get("SamplesPerPixel") or 1) * int(dataset.get("BitsAllocated") or 8)
    return bits // 8 if bits % 8 == 0 and bits else None


def _swapped_tag(raw, endian):
    # A tag is two 16-bit numbers, group first: as one 32-bit number in little endian the
    # halves are swapped.
    return raw[2:4] + raw[0:2] if endian == "<" else raw


def _frame_count(dataset):
    try:
        return max(int(dataset.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def choose(location, choices):
    """(transfer syntax to send, its media type, whether the stored bytes serve) for the
    first of the Accept header's choices (accept.frame_choices) this instance can meet."""
    stored = location.syntax
    stored_type = syntaxes.media_type_of(stored)
    for media_type, asked in choices:
        # `transfer-syntax=*` leaves the choice to the server: as stored, compressed or not,
        # even under application/octet-stream (OHIF's request; Orthanc answers it so).
        if asked == "*" and media_type in (ANY, syntaxes.OCTET_STREAM, stored_type):
            target = ExplicitVRLittleEndian if stored in syntaxes.NATIVE else stored
        elif media_type == ANY:
            continue
        elif asked in (None, "*"):
            target = UID(syntaxes.FRAME_MEDIA_TYPES[media_type][0])
        else:
            target = UID(asked)
        if target in syntaxes.UNCOMPRESSED:
            return target, syntaxes.OCTET_STREAM, stored in syntaxes.NATIVE
        if target == stored:
            return target, stored_type, True
        if target in transcoding.ENCODABLE:
            return target, syntaxes.media_type_of(target), False
    raise NotAcceptable("None of the media types and transfer syntaxes asked for can be made of these frames")


def frame_parts(instance, numbers, choices, location_url):
    """(The answer's type, [Part] of the frames `numbers`) of an instance; `location_url(n)` is
    frame n's URL. 404 for a frame beyond the instance's, 406 when Accept cannot be met."""
    location = locate(instance.file_uuid)
    if location is None:
        raise InexistentItem("This instance has no pixel data")
    beyond = [number for number in numbers if number > location.frames]
    if beyond:
        raise InexistentItem(f"Frame {beyond[0]} is beyond the {location.frames} frame(s) of this instance")
    target, media_type, as_stored = choose(location, choices)
    content_type = f"{media_type}; transfer-syntax={target}"
    if as_stored and location.offset >= 0 and (location.frame_size or location.length == UNDEFINED_LENGTH):
        frames = _stored_frames(instance.file_uuid, location, numbers)
    else:
        frames = _made_frames(instance.file_uuid, location, numbers, target)
    parts = [Part.of_bytes(content_type, data, location_url(number)) for number, data in zip(numbers, frames)]
    return content_type, parts


def _stored_frames(file_uuid, location, numbers):
    frames = []
    with storage.open_file(file_uuid) as handle:
        for number in numbers:
            if location.frame_size:
                handle.seek(location.offset + (number - 1) * location.frame_size)
                data = handle.read(location.frame_size)
                if location.syntax == ExplicitVRBigEndian and location.bits_allocated > 8:
                    width = (location.bits_allocated + 7) // 8
                    data = numpy.frombuffer(data, f">u{width}").astype(f"<u{width}").tobytes()
            else:
                handle.seek(location.offset)
                data = get_frame(handle, number - 1, number_of_frames=location.frames)
            frames.append(data)
    return frames


def _made_frames(file_uuid, location, numbers, target):
    """The frames decoded (target uncompressed) or transcoded to `target`, from the whole file."""
    dataset = pydicom.dcmread(storage.path_for(file_uuid), force=True)
    try:
        if target in syntaxes.UNCOMPRESSED:
            transcoding.to_explicit_little_endian(dataset)
        else:
            transcoding.transcode(dataset, target)
    except transcoding.TranscodingError as error:
        raise NotAcceptable(f"These frames cannot be sent as {target}: {error.details}") from error
    pixels = dataset.PixelData
    if target in syntaxes.UNCOMPRESSED:
        frame_size = _frame_size(dataset)
        if frame_size is None:
            raise NotAcceptable("Frames of less than a byte per pixel are not sent uncompressed one by one")
        return [pixels[(number - 1) * frame_size : number * frame_size] for number in numbers]
    return [get_frame(pixels, number - 1, number_of_frames=location.frames) for number in numbers]
