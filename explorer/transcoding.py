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
import os
import tempfile
import threading

import gdcm
import numpy
import pydicom
from django.conf import settings
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
    JPEGLossless,
    JPEGLosslessSV1,
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
# JPEG Lossless (Process 14, and its first-order prediction, the most common): GDCM's encoder.
BY_GDCM = frozenset({JPEGLosslessSV1, JPEGLossless})
ENCODABLE = NATIVE | BY_PYDICOM | BY_GDCM | {JPEGBaseline8Bit}
LOSSY = frozenset({JPEGBaseline8Bit, JPEGLSNearLossless, JPEG2000})
# PS3.3 C.7.6.1.1.5.1: Lossy Image Compression Method.
LOSSY_METHOD = {JPEGBaseline8Bit: "ISO_10918_1", JPEGLSNearLossless: "ISO_14495_1", JPEG2000: "ISO_15444_1"}
# pylibjpeg-openjpeg 2.6's encoder crashes the process when two threads encode at once
# (modifications run in threads): one JPEG 2000 encode at a time.
OPENJPEG_ENCODER = threading.Lock()
DEFAULT_QUALITY = 90  # Orthanc's DicomLossyTranscodingQuality

# Bytes per value of the VRs whose values are kept as raw bytes in the file's byte order.
SWAPPED_VR_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


class TranscodingError(BadRequest):
    """The transfer syntax is unknown, or no encoder can write this data set in it."""


class UnknownTransferSyntax(TranscodingError):
    # Orthanc's answer to `?transcode=1.2.3` and `"Transcode": "1.2.3"`.
    orthanc_status, orthanc_error = 3, "Parameter out of range"


def transfer_syntax(uid):
    """The UID as a transfer syntax; raises UnknownTransferSyntax. (Whether Pharos can write
    a data set in it, transcode says: a file already in it needs no encoder.)"""
    uid = UID(str(uid or "").strip())
    if not uid.is_transfer_syntax:
        raise UnknownTransferSyntax(f"Unknown transfer syntax: {uid}")
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
    if target not in ENCODABLE:
        raise TranscodingError(f"Cannot transcode to {target.name} ({target}): no encoder for it")
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
        raise TranscodingError(f"Cannot transcode from {source.name} to {target.name}: {error}") from error
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
        dataset.set_original_encoding(False, True, dataset.original_character_set)
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
    elif target in BY_GDCM:
        _encode_with_gdcm(dataset, target)
    elif target in (JPEG2000Lossless, JPEG2000):
        with OPENJPEG_ENCODER:
            dataset.compress(target, generate_instance_uid=False, **_options(target, quality))
    else:
        dataset.compress(target, generate_instance_uid=False, **_options(target, quality))
    if target in LOSSY:
        _mark_lossy(dataset, target, uncompressed_size / max(len(dataset.PixelData), 1))


def _quality(quality):
    quality = DEFAULT_QUALITY if quality is None else int(quality)
    if not 1 <= quality <= 100:
        raise TranscodingError(f"The quality for lossy transcoding must be between 1 and 100, not {quality}")
    return quality


def _options(target, quality):
    # One quality scale (1–100, Orthanc's) for every lossy encoder: 90 → JPEG-LS NEAR 1,
    # JPEG 2000 6:1; 50 → NEAR 5, 26:1.
    if target == JPEGLSNearLossless:
        return {"jls_error": max(1, (100 - _quality(quality)) // 10)}
    if target == JPEG2000:
        return {"j2k_cr": [1 + (100 - _quality(quality)) / 2]}
    return {}


# What GDCM's JPEG Lossless encoder takes; it aborts the process (an uncaught C++ exception)
# on some other input (1-bit pixel data), so nothing else reaches it.
GDCM_PHOTOMETRICS = {1: ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR"), 3: ("RGB", "YBR_FULL")}


def _encode_with_gdcm(dataset, target):
    """JPEG Lossless by GDCM, through files (its Python binding reads and writes no buffers);
    only the pixel data of its result is taken, the data set keeps every other element."""
    samples, bits_allocated = int(dataset.get("SamplesPerPixel") or 1), int(dataset.get("BitsAllocated") or 0)
    bits_stored = int(dataset.get("BitsStored") or 0)
    photometric = str(dataset.get("PhotometricInterpretation") or "")
    if (
        bits_allocated not in (8, 16)
        or not 2 <= bits_stored <= 16
        or photometric not in GDCM_PHOTOMETRICS.get(samples, ())
    ):
        raise TranscodingError(f"{target.name} encodes 8 or 16-bit grey, palette or RGB pixel data only")
    with tempfile.TemporaryDirectory(prefix="pharos-transcode-") as folder:
        source, result = os.path.join(folder, "source.dcm"), os.path.join(folder, "result.dcm")
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.save_as(source, enforce_file_format=True)
        reader = gdcm.ImageReader()
        reader.SetFileName(source)
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(str(target))))
        if not reader.Read():
            raise TranscodingError("GDCM cannot read the pixel data")
        change.SetInput(reader.GetImage())
        if not change.Change():
            raise TranscodingError(f"GDCM cannot encode this pixel data in {target.name}")
        writer = gdcm.ImageWriter()
        writer.SetFileName(result)
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        if not writer.Write():
            raise TranscodingError(f"GDCM cannot write {target.name}")
        encoded = pydicom.dcmread(result)
    dataset.PixelData = encoded.PixelData
    element = dataset["PixelData"]
    element.is_undefined_length, element.VR = True, "OB"
    dataset._pixel_array, dataset._pixel_id = None, {}


def _encode_jpeg_baseline(dataset, quality):
    """JPEG Baseline (Process 1) by Pillow: 8-bit grayscale or colour, as DCMTK allows it."""
    bits_stored, samples = int(dataset.get("BitsStored") or 0), int(dataset.get("SamplesPerPixel") or 1)
    photometric = str(dataset.get("PhotometricInterpretation") or "")
    if int(dataset.get("BitsAllocated") or 0) != 8 or bits_stored != 8 or int(dataset.get("PixelRepresentation") or 0):
        raise TranscodingError("JPEG Baseline only encodes unsigned 8-bit pixel data")
    if not (samples == 1 and photometric.startswith("MONOCHROME") or samples == 3 and photometric == "RGB"):
        raise TranscodingError(f"JPEG Baseline cannot encode {photometric} pixel data")
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


def transcoded_file(path, syntax, quality=None):
    """The bytes of the stored file at `path` in the transfer syntax `syntax` (checked with
    transfer_syntax first); the file itself when it already is in it."""
    dataset = pydicom.dcmread(path, force=True)
    if source_syntax(dataset) == syntax:
        with open(path, "rb") as handle:
            return handle.read()
    return to_bytes(transcode(dataset, syntax, quality=quality))


def to_bytes(dataset):
    """The data set as a Part 10 file in its file meta's transfer syntax."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def transcoding_allowed(modality_allows=True):
    """Whether a send may transcode: the modality's AllowTranscoding and Orthanc's global
    TranscodeDicomProtocol (PHAROS_DICOM_TRANSCODE)."""
    return bool(modality_allows) and settings.PHAROS_DICOM_TRANSCODE


def preferred_syntax():
    """DicomScuPreferredTransferSyntax (PHAROS_DICOM_SCU_PREFERRED_TRANSFER_SYNTAX), when set to
    a syntax Pharos writes."""
    preferred = settings.PHAROS_DICOM_SCU_PREFERRED_TRANSFER_SYNTAX
    return UID(preferred) if preferred in ENCODABLE else None


def proposed_targets():
    """The syntaxes proposed to a peer, besides the stored and the uncompressed ones, so that a
    peer that takes only compressed data gets something."""
    return tuple(dict.fromkeys(uid for uid in (preferred_syntax(), *TRANSCODING_TARGETS) if uid))


def best_syntax(stored, accepted, allow_transcoding=True):
    """What to send an instance stored in `stored` as, to a peer that accepted the transfer
    syntaxes `accepted` for its SOP class; None when it cannot travel.

    As stored when the peer takes it. Otherwise, with transcoding allowed: the preferred
    syntax if one is configured and accepted, else a lossless compressed syntax if the stored
    one is compressed (keeping the file small), then Explicit and Implicit VR Little Endian,
    then any other syntax Pharos writes, never a lossy one from a lossless source when a
    lossless one is accepted."""
    stored, accepted = UID(stored or ImplicitVRLittleEndian), {UID(uid) for uid in accepted}
    if stored in accepted:
        return stored
    if stored in LITTLE_ENDIAN_NATIVE and accepted & LITTLE_ENDIAN_NATIVE and not allow_transcoding:
        # pynetdicom re-encodes the data set between these without touching the pixel data.
        return next(uid for uid in PREFERENCE if uid in accepted & LITTLE_ENDIAN_NATIVE)
    if not allow_transcoding:
        return None
    if preferred_syntax() in accepted:
        return preferred_syntax()
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
LOSSLESS_COMPRESSED = (JPEGLSLossless, JPEG2000Lossless, RLELossless, JPEGLosslessSV1, JPEGLossless)
LOSSY_COMPRESSED = (JPEGLSNearLossless, JPEG2000, JPEGBaseline8Bit)
# Proposed to a peer besides the stored syntax and the uncompressed ones, so that a peer that
# takes only compressed data gets something: the lossless syntaxes, in order of preference.
TRANSCODING_TARGETS = LOSSLESS_COMPRESSED[:3]
PREFERENCE = UNCOMPRESSED_PREFERENCE + LOSSLESS_COMPRESSED + LOSSY_COMPRESSED
PREFERENCE_COMPRESSED = LOSSLESS_COMPRESSED + UNCOMPRESSED_PREFERENCE + LOSSY_COMPRESSED
