"""Changing a data set's transfer syntax for a peer that does not accept the stored one."""

import numpy
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

from explorer import previews

# Bytes per value of the VRs whose values are stored as raw bytes in the file's byte order.
SWAPPED_VR_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def to_explicit_little_endian(dataset):
    """Decompress, or turn big endian little, in place; the SOP Instance UID stays, since a
    change of transfer syntax does not make a new instance."""
    if dataset.file_meta.TransferSyntaxUID == ExplicitVRBigEndian:
        _swap_to_little_endian(dataset)
    else:
        previews.decompress(dataset)  # pydicom's decoders, then GDCM
    return dataset


def _swap_to_little_endian(dataset):
    # pydicom re-encodes values it has parsed but leaves raw bytes (pixel data, OW/OF…) alone.
    def swap_bytes(_, element):
        width = SWAPPED_VR_WIDTH.get(element.VR)
        if width and element.value:
            element.value = numpy.frombuffer(element.value, f">u{width}").astype(f"<u{width}").tobytes()

    dataset.walk(swap_bytes)
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.set_original_encoding(False, True, dataset.original_character_set)
