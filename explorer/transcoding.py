"""Changing a data set's transfer syntax: for `?transcode=`, archives, sends, `/modify` and
IngestTranscoding.

Every transcode first brings the pixel data to native little endian (pydicom's decoders, then
GDCM: explorer/previews.decompress), then encodes it: pydicom's encoders (RLE, JPEG-LS with
pyjpegls, JPEG 2000 with pylibjpeg-openjpeg), Pillow for 8-bit JPEG Baseline, which no
pydicom encoder writes, and byte swapping for Explicit VR Big Endian. The SOP Instance UID
stays: a change of transfer syntax does not make a new instance (lossy ones are marked with
Lossy Image Compression instead, PS3.3 C.7.6.1.1.5).
"""

import io

import numpy
import pydicom
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.filewriter import correct_ambiguous_vr
from pydicom.pixels.encoders.base import RLELosslessEncoder
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from explorer import previews
from explorer.errors import BadRequest

# GDCM's RLE encoder aborts the process (an uncaught C++ exception) on some odd-sized images;
# pylibjpeg-rle and pydicom's own encoder do the same work.
if "gdcm" in RLELosslessEncoder.available_plugins:
    RLELosslessEncoder.remove_plugin("gdcm")

NATIVE = frozenset(
    {ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian}
)
# The syntaxes whose pixel data is native little endian: only the data set's encoding differs.
LITTLE_ENDIAN_NATIVE = NATIVE - {ExplicitVRBigEndian}
BY_PYDICOM = frozenset({RLELossless, JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000})
ENCODABLE = NATIVE | BY_PYDICOM | {JPEGBaseline8Bit}
LOSSY = frozenset({JPEGBaseline8Bit, JPEGLSNearLossless, JPEG2000})
# PS3.3 C.7.6.1.1.5.1: Lossy Image Compression Method.
LOSSY_METHOD = {JPEGBaseline8Bit: "ISO_10918_1", JPEGLSNearLossless: "ISO_14495_1", JPEG2000: "ISO_15444_1"}
DEFAULT_QUALITY = 90  # Orthanc's DicomLossyTranscodingQuality

# Bytes per value of the VRs whose values are kept as raw bytes in the file's byte order.
SWAPPED_VR_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


class TranscodingError(BadRequest):
    """The transfer syntax is unknown, or no encoder can write this data set in it."""


def transfer_syntax(uid):
    """The UID as a transfer syntax Pharos can write; raises TranscodingError."""
    uid = UID(str(uid or "").strip())
    if not uid.is_transfer_syntax:
        raise TranscodingError(message=f"Unknown transfer syntax: {uid}")
    if uid not in ENCODABLE:
        raise TranscodingError(message=f"Cannot transcode to the transfer syntax: {uid.name} ({uid})")
    return uid


def source_syntax(dataset):
    meta = getattr(dataset, "file_meta", None)
    # A file without one is read by pydicom as Implicit VR Little Endian.
    return UID((meta.get("TransferSyntaxUID") if meta is not None else None) or ImplicitVRLittleEndian)


def transcode(dataset, syntax, *, quality=None):
    """Re-encode the data set in place to the transfer syntax `syntax` and return it; raises
    TranscodingError when the syntax is unknown or the data set cannot be written in it."""
    target = transfer_syntax(syntax)
    source = source_syntax(dataset)
    if source == target:
        return dataset
    if not hasattr(dataset, "file_meta"):
        dataset.file_meta = pydicom.dataset.FileMetaDataset()
    try:
        to_little_endian_native(dataset, source)
        if "PixelData" in dataset and target not in NATIVE:
            _encode_pixels(dataset, target, quality)
        elif target == ExplicitVRBigEndian:
            _swap_bytes(dataset, "<", ">")
    except TranscodingError:
        raise
    except Exception as error:  # encoders and decoders raise anything: ValueError, RuntimeError…
        raise TranscodingError(message=f"Cannot transcode from {source.name} to {target.name}: {error}") from error
    dataset.file_meta.TransferSyntaxUID = target
    if target.is_little_endian != source.is_little_endian:
        # pydicom writes in another byte order only a data set it read in it: every element
        # has been parsed by the byte swap, so the raw ones' encoding no longer matters.
        dataset.set_original_encoding(target.is_implicit_VR, target.is_little_endian, dataset.original_character_set)
    return dataset


def to_explicit_little_endian(dataset):
    """Decompress, or turn big endian little, in place: what any peer takes."""
    return transcode(dataset, ExplicitVRLittleEndian)


def to_little_endian_native(dataset, source=None):
    source = source or source_syntax(dataset)
    if source == ExplicitVRBigEndian:
        _swap_bytes(dataset, ">", "<")
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    elif source not in LITTLE_ENDIAN_NATIVE and "PixelData" in dataset:
        previews.decompress(dataset)  # pydicom's decoders, then GDCM
    return dataset


def _full_colour(dataset):
    """Native YBR_FULL_422 (two chroma values per pair of pixels) as full RGB, which the
    encoders take: what a decoder makes of it too."""
    if dataset.get("PhotometricInterpretation") == "YBR_FULL_422":
        pixels = dataset.pixel_array  # pydicom expands and converts it to RGB
        dataset.PixelData = pixels.tobytes()
        dataset.PhotometricInterpretation = "RGB"
        dataset.PlanarConfiguration = 0
        dataset._pixel_array, dataset._pixel_id = None, {}


def _swap_bytes(dataset, source, target):
    # pydicom re-encodes the values it parses but leaves raw bytes (pixel data, OW/OF…) alone.
    correct_ambiguous_vr(dataset, source == "<")

    def swap(_, element):
        width = SWAPPED_VR_WIDTH.get(element.VR)
        if width and isinstance(element.value, bytes) and element.value:
            element.value = numpy.frombuffer(element.value, f"{source}u{width}").astype(f"{target}u{width}").tobytes()

    dataset.walk(swap)


def _encode_pixels(dataset, target, quality):
    _full_colour(dataset)
    uncompressed_size = len(dataset.PixelData)
    if target == JPEGBaseline8Bit:
        _encode_jpeg_baseline(dataset, quality)
    else:
        dataset.compress(target, generate_instance_uid=False, **_options(target, quality))
    if target in LOSSY:
        _mark_lossy(dataset, target, uncompressed_size / max(len(dataset.PixelData), 1))


def _quality(quality):
    quality = DEFAULT_QUALITY if quality is None else int(quality)
    if not 1 <= quality <= 100:
        raise TranscodingError(message=f"The quality for lossy transcoding must be between 1 and 100, not {quality}")
    return quality


def _options(target, quality):
    # One quality scale (1–100, Orthanc's) for every lossy encoder: 90 → JPEG-LS NEAR 1,
    # JPEG 2000 6:1; 50 → NEAR 5, 26:1.
    if target == JPEGLSNearLossless:
        return {"jls_error": max(1, (100 - _quality(quality)) // 10)}
    if target == JPEG2000:
        return {"j2k_cr": [1 + (100 - _quality(quality)) / 2]}
    return {}


def _encode_jpeg_baseline(dataset, quality):
    """JPEG Baseline (Process 1) by Pillow: 8-bit grayscale or colour, as DCMTK allows it."""
    bits_stored, samples = int(dataset.get("BitsStored") or 0), int(dataset.get("SamplesPerPixel") or 1)
    photometric = str(dataset.get("PhotometricInterpretation") or "")
    if int(dataset.get("BitsAllocated") or 0) != 8 or bits_stored != 8 or int(dataset.get("PixelRepresentation") or 0):
        raise TranscodingError(message="JPEG Baseline only encodes unsigned 8-bit pixel data")
    if not (samples == 1 and photometric.startswith("MONOCHROME") or samples == 3 and photometric == "RGB"):
        raise TranscodingError(message=f"JPEG Baseline cannot encode {photometric} pixel data")
    pixels = dataset.pixel_array
    frames = pixels if previews.frame_count(dataset) > 1 else [pixels]
    encoded = []
    for frame in frames:
        buffer = io.BytesIO()
        # 4:2:2 chroma subsampling is what YBR_FULL_422 names (PS3.3 C.7.6.3.1.2).
        Image.fromarray(frame, "RGB" if samples == 3 else "L").save(
            buffer, "JPEG", quality=_quality(quality), subsampling=1
        )
        encoded.append(buffer.getvalue())
    dataset.PixelData = encapsulate(encoded)
    element = dataset["PixelData"]
    element.is_undefined_length, element.VR = True, "OB"
    if samples == 3:
        dataset.PhotometricInterpretation = "YBR_FULL_422"
        dataset.PlanarConfiguration = 0
    dataset._pixel_array, dataset._pixel_id = None, {}


def _mark_lossy(dataset, target, ratio):
    """PS3.3 C.7.6.1.1.5: a lossy result says so, with each compression applied so far."""
    methods = [str(value) for value in _as_list(dataset.get("LossyImageCompressionMethod"))]
    ratios = [str(value) for value in _as_list(dataset.get("LossyImageCompressionRatio"))]
    if dataset.get("LossyImageCompression") != "01":
        methods, ratios = [], []  # values of an earlier lossless state mean nothing
    dataset.LossyImageCompression = "01"
    dataset.LossyImageCompressionRatio = [*ratios, f"{ratio:.4g}"[:16]]
    dataset.LossyImageCompressionMethod = [*methods, LOSSY_METHOD[target]]


def _as_list(value):
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]


def is_lossy(syntax):
    return UID(syntax) in LOSSY or (UID(syntax).is_transfer_syntax and not UID(syntax).is_lossless)


def to_bytes(dataset):
    """The data set as a Part 10 file in its file meta's transfer syntax."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def best_syntax(stored, accepted, allow_transcoding=True):
    """What to send an instance stored in `stored` as, to a peer that accepted the transfer
    syntaxes `accepted` for its SOP class; None when it cannot travel.

    As stored when the peer takes it. Otherwise, with transcoding allowed: a lossless
    compressed syntax if the stored one is compressed (keeping the file small), then Explicit
    and Implicit VR Little Endian, then any other syntax Pharos writes, never a lossy one from
    a lossless source when a lossless one is accepted."""
    stored, accepted = UID(stored or ImplicitVRLittleEndian), {UID(uid) for uid in accepted}
    if stored in accepted:
        return stored
    if stored in LITTLE_ENDIAN_NATIVE and accepted & LITTLE_ENDIAN_NATIVE and not allow_transcoding:
        # pynetdicom re-encodes the data set between these without touching the pixel data.
        return next(uid for uid in PREFERENCE if uid in accepted & LITTLE_ENDIAN_NATIVE)
    if not allow_transcoding:
        return None
    preference = PREFERENCE_COMPRESSED if stored not in NATIVE else PREFERENCE
    lossless = [uid for uid in preference if uid in accepted and uid not in LOSSY]
    if lossless:
        return lossless[0]
    return next((uid for uid in preference if uid in accepted), None)


# Lossless first, uncompressed before compressed for an uncompressed source (the peer asked
# for it, and it costs no encoding), compressed first for a compressed one.
UNCOMPRESSED_PREFERENCE = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
)
COMPRESSED_PREFERENCE = (JPEGLSLossless, JPEG2000Lossless, RLELossless, JPEGLSNearLossless, JPEG2000, JPEGBaseline8Bit)
# Proposed to a peer besides the stored syntax and the uncompressed ones, so that a peer that
# takes only compressed data gets something: the lossless syntaxes, in order of preference.
TRANSCODING_TARGETS = COMPRESSED_PREFERENCE[:3]
PREFERENCE = UNCOMPRESSED_PREFERENCE + COMPRESSED_PREFERENCE
PREFERENCE_COMPRESSED = COMPRESSED_PREFERENCE[:3] + UNCOMPRESSED_PREFERENCE + COMPRESSED_PREFERENCE[3:]
