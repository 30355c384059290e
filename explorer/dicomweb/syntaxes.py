"""The media types of WADO-RS's frames and the transfer syntaxes each stands for (PS3.18
table 8.7.3-5), as Orthanc's DICOMweb plugin names them in its answers."""

from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

OCTET_STREAM = "application/octet-stream"
DICOM = "application/dicom"

# media type -> (its default transfer syntax, every one it stands for). The first is what a
# request naming the media type without a transfer-syntax gets.
FRAME_MEDIA_TYPES = {
    OCTET_STREAM: (ExplicitVRLittleEndian, (ExplicitVRLittleEndian, ImplicitVRLittleEndian)),
    "image/jpeg": (
        "1.2.840.10008.1.2.4.70",
        ("1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57"),
    ),
    "image/jls": ("1.2.840.10008.1.2.4.80", ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")),
    "image/jp2": ("1.2.840.10008.1.2.4.90", ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")),
    "image/jpx": ("1.2.840.10008.1.2.4.92", ("1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93")),
    "image/jphc": ("1.2.840.10008.1.2.4.201", ("1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203")),
    "image/dicom-rle": ("1.2.840.10008.1.2.5", ("1.2.840.10008.1.2.5",)),
    "video/mpeg2": ("1.2.840.10008.1.2.4.100", ("1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101")),
    "video/mp4": (
        "1.2.840.10008.1.2.4.102",
        tuple(f"1.2.840.10008.1.2.4.{n}" for n in range(102, 109)),
    ),
}
# Older names clients still send.
ALIASES = {"image/x-dicom-rle": "image/dicom-rle", "image/x-jls": "image/jls"}
# The syntaxes whose frames are the pixels themselves, in little endian (big endian and
# deflated files are read and turned little endian first).
UNCOMPRESSED = frozenset({ExplicitVRLittleEndian, ImplicitVRLittleEndian})
NATIVE = UNCOMPRESSED | {ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian}


def media_type_of(syntax):
    """The media type a frame in this transfer syntax is sent as (Orthanc names stored
    compressed frames by their own type); application/octet-stream for native ones."""
    syntax = UID(syntax)
    if syntax in NATIVE:
        return OCTET_STREAM
    for media_type, (_, syntaxes) in FRAME_MEDIA_TYPES.items():
        if syntax in syntaxes:
            return media_type
    return OCTET_STREAM


def frame_media_type(name):
    """The canonical name of a frame media type, None when it is none of them."""
    name = ALIASES.get(name, name)
    return name if name in FRAME_MEDIA_TYPES else None
