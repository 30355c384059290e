"""Pixels to pictures: what /preview, /rendered, /image-uint8 and /image-uint16 draw.

Plain functions over a pydicom Dataset, no Django. The grayscale pipeline follows
PS3.3 C.11: stored values → Modality LUT (rescale or LUT) → VOI (window from the
request, else the file's first window, else its VOI LUT, else the frame's min-max
range) → MONOCHROME1 inversion → 8 bits. Colour images come out as RGB: YBR is
converted, palettes are looked up.

Pixel data is decoded by pydicom's plugins (pylibjpeg, Pillow, and GDCM's through pydicom);
when none of them can, by GDCM itself, which also reads what pydicom's GDCM plugin refuses
(12-bit JPEG Extended, as DCMTK and Orthanc do). A file without Pixel Representation is read
as unsigned, as DCMTK reads it.

An instance that cannot be drawn (no pixel data, an undecodable syntax) raises
NoImage with a reason a person can read; placeholder_png() draws that reason.
"""

import io
import textwrap

import gdcm
import numpy as np
import pydicom
import pydicom.uid
from PIL import Image, ImageDraw, ImageFont
from pydicom.encaps import get_frame
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, convert_color_space, get_decoder
from pydicom.uid import ExplicitVRLittleEndian

from explorer import storage

PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
YBR_CONVERTIBLE = ("YBR_FULL", "YBR_FULL_422")
JPEG_QUALITY = 90  # Orthanc's default
# zlib level 3 halves the encoding time of level 6 on large radiographs for ~10% more bytes.
PNG_COMPRESS_LEVEL = 3
# The window that spreads the frame's own value range (min to max) over black to white.
FULL_RANGE = "full-range"


GDCM_PLUGIN = ("pydicom.pixels.decoders.gdcm", "_decode_frame")


def _gdcm_plugin_last():
    """Once python-gdcm is installed pydicom tries its GDCM plugin first; put it last, so that
    pylibjpeg and Pillow decode what they decoded before (and faster) and GDCM only what they
    cannot. pydicom's public plugin API; done once, at import, before any thread decodes."""
    for syntax in pydicom.uid.AllTransferSyntaxes:
        try:
            decoder = get_decoder(syntax)
        except NotImplementedError:
            continue
        if "gdcm" in decoder.available_plugins:
            decoder.remove_plugin("gdcm")
            decoder.add_plugin("gdcm", GDCM_PLUGIN)


_gdcm_plugin_last()


class NoImage(Exception):
    """The instance holds no picture we can draw; `reason` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class NoSuchFrame(Exception):
    """A frame number outside 0..frame_count-1."""


class NotGrayscale(NoImage):
    """Orthanc's /image-uint8 and /image-uint16 draw grayscale frames only."""


# ---------------------------------------------------------------- reading


def load(instance):
    """The instance's data set, read from the storage area (once per request)."""
    path = storage.path_for(instance.file_uuid)
    try:
        return pydicom.dcmread(path)
    except OSError:
        raise  # a missing or unreadable file is the server's fault, not the image's
    except Exception as exc:  # pydicom raises many kinds on damaged files
        raise NoImage(f"The stored file cannot be parsed: {exc}") from exc


def frame_count(dataset):
    try:
        return max(int(dataset.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def _check_has_pixels(dataset):
    if not any(keyword in dataset for keyword in PIXEL_DATA_KEYWORDS):
        sop_class = dataset.get("SOPClassUID")
        kind = f" ({sop_class.name})" if sop_class else ""
        raise NoImage(f"This instance{kind} has no pixel data")


def _check_frame(dataset, frame):
    count = frame_count(dataset)
    if not 0 <= frame < count:
        raise NoSuchFrame(f"Frame {frame} does not exist: this instance has {count} frame(s), numbered from 0")


def _transfer_syntax(dataset):
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is None:
        raise NoImage("The file has no transfer syntax: its pixel data cannot be decoded")
    return syntax


def decode_frame(dataset, frame=0):
    """One frame as a numpy array and the photometric interpretation it now has.

    Decoding a single frame (not `ds.pixel_array`) keeps multi-frame previews cheap;
    pydicom converts YBR to RGB while decoding and says so in the returned metadata,
    which is why the interpretation comes from there and not from the header.
    """
    _check_has_pixels(dataset)
    _check_frame(dataset, frame)
    syntax = _transfer_syntax(dataset)
    if "PixelRepresentation" not in dataset and "PixelData" in dataset:
        dataset.PixelRepresentation = 0  # what DCMTK assumes; pydicom refuses to decode without it
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        pixels, photometric = _decode_with_gdcm(dataset, frame, f"no decoder for {syntax.name} ({syntax})")
    else:
        try:
            pixels, meta = decoder.as_array(dataset, index=frame, as_rgb=True)
            photometric = str(meta.get("photometric_interpretation") or dataset.get("PhotometricInterpretation", ""))
        except Exception as exc:  # missing plugin, corrupt stream, inconsistent header…
            pixels, photometric = _decode_with_gdcm(dataset, frame, f"{syntax.name}: {exc}")
    if photometric in YBR_CONVERTIBLE:
        pixels = convert_color_space(pixels, photometric, "RGB")
        photometric = "RGB"
    return pixels, photometric


def _decode_with_gdcm(dataset, frame, pydicom_failure):
    """One frame decoded by GDCM itself: what pydicom's plugins could not decode."""
    try:
        return gdcm_frame(dataset, frame)
    except Exception as exc:  # GDCM cannot either: say why both failed
        raise NoImage(f"Cannot decode the pixel data ({pydicom_failure}; GDCM: {exc})") from exc


def gdcm_frame(dataset, frame):
    """(pixels, photometric interpretation) of one frame of encapsulated pixel data, decoded
    by GDCM as pydicom's GDCM plugin does it, without the plugin's refusal of 12-bit JPEG
    Extended (GDCM reads it, to the value, as DCMTK does)."""
    element = dataset["PixelData"]
    if not element.is_undefined_length:
        raise ValueError("the pixel data is not encapsulated: there is nothing for GDCM to decode")
    syntax = _transfer_syntax(dataset)
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    samples = int(dataset.get("SamplesPerPixel") or 1)
    bits_allocated, bits_stored = int(dataset.BitsAllocated), int(dataset.get("BitsStored") or dataset.BitsAllocated)
    signed = int(dataset.get("PixelRepresentation") or 0)
    photometric = str(dataset.get("PhotometricInterpretation", "")).strip()

    fragment = gdcm.Fragment()
    fragment.SetByteStringValue(get_frame(element.value, frame, number_of_frames=frame_count(dataset)))
    fragments = gdcm.SequenceOfFragments.New()
    fragments.AddFragment(fragment)
    pixel_data = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    pixel_data.SetValue(fragments.__ref__())
    image = gdcm.Image()
    image.SetNumberOfDimensions(2)
    image.SetDimensions((columns, rows, 1))
    image.SetDataElement(pixel_data)
    image.SetPhotometricInterpretation(
        gdcm.PhotometricInterpretation(gdcm.PhotometricInterpretation.GetPIType(photometric))
    )
    if samples > 1:
        image.SetPlanarConfiguration(int(dataset.get("PlanarConfiguration") or 0))
    image.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(str(syntax))))
    image.SetPixelFormat(gdcm.PixelFormat(samples, bits_allocated, bits_stored, bits_stored - 1, signed))
    # GDCM's Python binding hands the buffer out as a str of the raw bytes, None on failure.
    decoded = (image.GetBuffer() or "").encode("utf-8", "surrogateescape")
    dtype = np.dtype(f"{'i' if signed else 'u'}{max(bits_allocated // 8, 1)}")
    size = rows * columns * samples
    if len(decoded) != size * dtype.itemsize:
        raise ValueError(f"GDCM cannot decode {syntax.name}")
    pixels = np.frombuffer(decoded, dtype=dtype)
    if samples == 1:
        return pixels.reshape(rows, columns), photometric
    if photometric in ("YBR_ICT", "YBR_RCT"):  # JPEG 2000's colour transform, undone by GDCM
        photometric = "RGB"
    return pixels.reshape(rows, columns, samples), photometric


def decompress(dataset):
    """Decompress the data set in place (pixel data native, Explicit VR Little Endian), by
    pydicom's plugins or, when they cannot, by GDCM frame by frame. For transcoding."""
    try:
        dataset.decompress(generate_instance_uid=False)
        return dataset
    except Exception as exc:  # decoders raise anything: ValueError, RuntimeError, NotImplementedError…
        pydicom_failure = exc
    try:
        frames = [gdcm_frame(dataset, number) for number in range(frame_count(dataset))]
    except Exception as exc:
        raise ValueError(f"{pydicom_failure}; GDCM: {exc}") from exc
    native = b"".join(pixels.astype(pixels.dtype.newbyteorder("<")).tobytes() for pixels, _ in frames)
    element = dataset["PixelData"]
    element.value = native + (b"\x00" if len(native) % 2 else b"")
    element.is_undefined_length = False
    element.VR = "OB" if int(dataset.BitsAllocated) <= 8 else "OW"
    dataset.PhotometricInterpretation = frames[0][1]
    if int(dataset.get("SamplesPerPixel") or 1) > 1:
        dataset.PlanarConfiguration = 0
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return dataset


# ---------------------------------------------------------------- grayscale


def _first(value):
    """The first of a multi-valued element (a file may list several windows)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        return value[0] if len(value) else None
    return value


def frame_attribute(dataset, frame, macro_keyword, keyword):
    """An attribute from the frame's functional group, the shared one, or the top level.

    Enhanced multi-frame objects keep rescale and window in functional groups.
    """
    for groups_keyword, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        groups = dataset.get(groups_keyword)
        if groups is not None and index < len(groups):
            macro = groups[index].get(macro_keyword)
            if macro is not None and len(macro) and keyword in macro[0]:
                return macro[0][keyword].value
    return dataset.get(keyword)


def _as_float(value):
    try:
        return float(_first(value))
    except (TypeError, ValueError):
        return None


def modality_values(dataset, frame, stored):
    """Stored values → modality values (Hounsfield units for CT)."""
    if "ModalityLUTSequence" in dataset:
        return apply_modality_lut(stored, dataset).astype(np.float64)
    slope = _as_float(frame_attribute(dataset, frame, "PixelValueTransformationSequence", "RescaleSlope"))
    intercept = _as_float(frame_attribute(dataset, frame, "PixelValueTransformationSequence", "RescaleIntercept"))
    values = stored.astype(np.float64)
    if slope is not None and slope != 0:
        values = values * slope
    if intercept:
        values = values + intercept
    return values


def file_window(dataset, frame):
    """The file's first window as (center, width, function), or None."""
    center = _as_float(frame_attribute(dataset, frame, "FrameVOILUTSequence", "WindowCenter"))
    width = _as_float(frame_attribute(dataset, frame, "FrameVOILUTSequence", "WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    function = frame_attribute(dataset, frame, "FrameVOILUTSequence", "VOILUTFunction") or "LINEAR"
    return center, width, str(function).upper()


def min_max_window(values):
    """DCMTK's min-max window: maps the smallest value to black and the largest to white."""
    low, high = float(np.min(values)), float(np.max(values))
    return (low + high + 1) / 2, high - low + 1, "LINEAR"


def apply_window(values, center, width, function="LINEAR"):
    """PS3.3 C.11.2.1.2: modality values → 0..255 (float)."""
    if function == "SIGMOID":
        return 255.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR_EXACT":
        scaled = (values - center) / width + 0.5
    elif width <= 1:
        scaled = (values > center - 0.5).astype(np.float64)  # a LINEAR window of width 1 is a threshold
    else:
        scaled = (values - (center - 0.5)) / (width - 1) + 0.5
    return np.clip(scaled, 0.0, 1.0) * 255.0


def _voi_lut_values(dataset, values):
    """A VOI LUT (rather than a window) scaled to 0..255 by the LUT's own bit depth."""
    item = dataset.VOILUTSequence[0]
    bits = int(item.LUTDescriptor[2]) or 16
    looked_up = apply_voi_lut(values.astype(np.int64), dataset, prefer_lut=True)
    return np.clip(looked_up.astype(np.float64) * 255.0 / (2**bits - 1), 0.0, 255.0)


def _windowed(dataset, frame, values, window):
    """Choose the window (request, file, VOI LUT, min-max) and apply it."""
    if window == FULL_RANGE:
        return apply_window(values, *min_max_window(values))
    chosen = file_window(dataset, frame)
    if window is not None:
        default_center, default_width, _ = chosen or min_max_window(values)
        center, width, *function = window
        center = default_center if center is None else center
        width = default_width if width is None else width
        return apply_window(values, center, width, function[0] if function else "LINEAR")
    if chosen is None and "VOILUTSequence" in dataset:
        try:
            return _voi_lut_values(dataset, values)
        except Exception:  # a malformed LUT: fall back to the value range
            pass
    return apply_window(values, *(chosen or min_max_window(values)))


def render_grayscale(dataset, frame, stored, photometric, window=None):
    values = modality_values(dataset, frame, stored)
    shown = _windowed(dataset, frame, values, window)
    if photometric == "MONOCHROME1":
        shown = 255.0 - shown  # MONOCHROME1: the lowest value is white
    # Truncating (not rounding) to 8 bits gives DCMTK's output to the gray level.
    return Image.fromarray(np.floor(shown).astype(np.uint8), mode="L")


# ---------------------------------------------------------------- colour


def _to_eight_bits(array, bits):
    """Keep the top 8 bits of a deeper colour sample (what DCMTK shows)."""
    if bits <= 8:
        return array.astype(np.uint8)
    return (array.astype(np.uint32) >> (bits - 8)).astype(np.uint8)


def render_palette(dataset, stored):
    rgb = apply_color_lut(stored, dataset)
    bits = 16 if rgb.dtype == np.uint16 else 8
    return Image.fromarray(_to_eight_bits(rgb, bits), mode="RGB")


def render_rgb(dataset, stored):
    bits = int(dataset.get("BitsStored") or 8)
    return Image.fromarray(_to_eight_bits(stored, bits), mode="RGB")


# ---------------------------------------------------------------- public


def render_frame(dataset, frame=0, window=None):
    """One frame drawn for a person: an 8-bit "L" or "RGB" image.

    `window` is (center, width), either part None to keep the file's, or (center, width,
    function) with a VOI LUT function of apply_window (DICOMweb's `window`), or FULL_RANGE
    for the frame's own value range; it only applies to grayscale images.
    """
    stored, photometric = decode_frame(dataset, frame)
    if photometric == "PALETTE COLOR":
        return render_palette(dataset, stored)
    if stored.ndim == 3 and stored.shape[-1] == 3:
        if photometric != "RGB":
            raise NoImage(f"The colour space {photometric} is not supported")
        return render_rgb(dataset, stored)
    if stored.ndim != 2:
        raise NoImage(f"Unexpected pixel layout {stored.shape} for {photometric}")
    return render_grayscale(dataset, frame, stored, photometric, window)


def _grayscale_frame(dataset, frame, bits):
    stored, photometric = decode_frame(dataset, frame)
    if photometric == "PALETTE COLOR" or stored.ndim != 2:
        raise NotGrayscale(f"A {bits}-bit image needs a grayscale frame; this one is {photometric}")
    return stored


def image_uint8(dataset, frame=0):
    """Orthanc's /image-uint8: the stored values clipped to 0..255, no rescale, no window;
    grayscale only (Orthanc refuses colour images here)."""
    stored = _grayscale_frame(dataset, frame, 8)
    return Image.fromarray(np.clip(stored, 0, 255).astype(np.uint8), mode="L")


def image_uint16(dataset, frame=0):
    """Orthanc's /image-uint16: the stored values clipped to 0..65535 ("I;16"), grayscale only."""
    stored = _grayscale_frame(dataset, frame, 16)
    return Image.fromarray(np.clip(stored, 0, 65535).astype(np.uint16))


def fit_within(image, width=None, height=None, smooth=False, enlarge=True):
    """Orthanc's /rendered ?width=&height=: scale to fit, keeping the aspect ratio; with
    enlarge=False an image that fits already is left as it is (the explorer's previews)."""
    if not width and not height:
        return image
    scales = [limit / size for limit, size in ((width, image.width), (height, image.height)) if limit]
    scale = min(scales)
    if scale >= 1 and not enlarge:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST)


def png_bytes(image, sixteen_bit=False):
    if sixteen_bit and image.mode != "I;16":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 65535).astype(np.uint16))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def jpeg_bytes(image, quality=JPEG_QUALITY):
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def placeholder_png(reason, size=256):
    """A grey square that says the image could not be shown, and why."""
    image = Image.new("L", (size, size), color=128)
    draw = ImageDraw.Draw(image)
    title_font, text_font = ImageFont.load_default(size=18), ImageFont.load_default(size=12)
    draw.rectangle((0, 0, size - 1, size - 1), outline=80, width=3)
    draw.text((size // 2, 40), "No preview", fill=255, font=title_font, anchor="mm")
    lines = textwrap.wrap(reason, width=34)[:12]
    draw.multiline_text((14, 70), "\n".join(lines), fill=20, font=text_font, spacing=4)
    return png_bytes(image)
