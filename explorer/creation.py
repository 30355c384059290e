"""POST /tools/create-dicom: a new instance built from JSON tags, with an image (PNG, JPEG) or
a PDF as its content, stored through the ingest funnel, as Orthanc 1.10.1 builds it
(OrthancRestAnonymizeModify.cpp, CreateDicom; ParsedDicomFile.cpp, EmbedContent).

What Orthanc adds by itself, and so does this: a PatientID (a UUID) and new Study, Series and
SOP Instance UIDs; the SpecificCharacterSet of the DefaultEncoding; the Instance Creation,
Acquisition and Content date and time (UTC), and the Series and Study ones when no parent
gives them. No SOP Class UID for an image (Orthanc adds none either: give one in Tags, for
example Secondary Capture); Encapsulated PDF Storage, Modality OT and ConversionType WSD for a
PDF unless Tags gave them.
"""

import base64
import copy
import io
import re
import uuid
from datetime import UTC, datetime

import numpy
import pydicom
from PIL import Image, UnidentifiedImageError
from pydicom.charset import python_encoding
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from explorer import character_sets, index, ingest, levels, runtime_settings, storage
from explorer.dicom import ENCAPSULATED_PDF_STORAGE
from explorer.errors import BadFileFormat, BadRequest, ParameterOutOfRange, PharosError
from explorer.matching import orthanc_tag, tag_of
from explorer.tags import BINARY_VRS
from explorer.uploads import upload_answer

# DCMTK's "private generic file" class, which Orthanc writes in the file meta header of an
# instance that has no SOP Class UID (the header's MediaStorageSOPClassUID must hold one).
GENERIC_FILE_SOP_CLASS = "1.2.276.0.7230010.3.1.0.1"
SPECIFIC_CHARACTER_SET = 0x00080005
PIXEL_DATA = 0x7FE00010
# The tags Tags may set over a value already there without Force (InjectTags).
OVERRIDABLE = frozenset(
    tag_of(keyword)
    for keyword in (
        "PatientID",
        "AcquisitionDate",
        "AcquisitionTime",
        "ContentDate",
        "ContentTime",
        "InstanceCreationDate",
        "InstanceCreationTime",
        "SeriesDate",
        "SeriesTime",
        "StudyDate",
        "StudyTime",
    )
)
_DATA_URI = re.compile(r"data:([^;]+);base64,([a-zA-Z0-9=+/]*)")
_NUMBER_PARSERS = {"US": int, "SS": int, "UL": int, "SL": int, "UV": int, "SV": int, "FL": float, "FD": float}
_INTEGER_RANGES = {"US": (0, 0xFFFF), "SS": (-0x8000, 0x7FFF), "UL": (0, 0xFFFFFFFF), "SL": (-(1 << 31), (1 << 31) - 1)}


# --- Orthanc's errors of this route (Enumerations.h, ErrorCode_CreateDicom*) ----------------


class OverrideTag(PharosError):
    http_status, orthanc_status = 400, 2020
    orthanc_error = "Trying to override a value inherited from a parent module"


class UseContent(PharosError):
    http_status, orthanc_status = 400, 2021
    orthanc_error = 'Use "Content" to inject an image into a new DICOM instance'


class NoPayload(PharosError):
    http_status, orthanc_status = 400, 2022
    orthanc_error = "No payload is present for one instance in the series"


class UseDataUriScheme(PharosError):
    http_status, orthanc_status = 400, 2023
    orthanc_error = "The payload of the DICOM instance must be specified according to Data URI scheme"


class BadParent(PharosError):
    http_status, orthanc_status = 400, 2024
    orthanc_error = "Trying to attach a new DICOM instance to an inexistent resource"


class ParentIsInstance(PharosError):
    http_status, orthanc_status = 400, 2025
    orthanc_error = "Trying to attach a new DICOM instance to an instance (must be a series, study or patient)"


class BadParameterType(PharosError):
    http_status, orthanc_status, orthanc_error = 400, 5, "Bad type for a parameter"


class UnsupportedContent(PharosError):
    # Orthanc answers 500 "Not implemented yet"; a MIME type it cannot embed is the client's mistake.
    http_status, orthanc_status, orthanc_error = 415, 2, "Not implemented yet"


# --- the route ----------------------------------------------------------------------------


def create(body, origin):
    """Build and store what a create-dicom body asks for; Orthanc's answer: the stored
    instance's upload answer, or {ID, Path, Status} of the series a Content list made."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object")
    if "Tags" not in body:
        return upload_answer(_store(_legacy_dataset(body), origin))
    dataset, options = _base_dataset(body)
    content = body.get("Content")
    if isinstance(content, list) and content:
        return _create_series(dataset, content, options, origin)
    if content is not None and not isinstance(content, (str, list)):
        raise UseDataUriScheme()
    if isinstance(content, str):
        embed_content(dataset, content)
    return upload_answer(_store(dataset, origin))


def _legacy_dataset(body):
    """Orthanc 0.9.3's body, still taken: the members are the tags, PixelData a data URI."""
    dataset = _new_dataset(_default_character_set())
    for name, value in body.items():
        if not isinstance(value, str):
            raise BadRequest("Only string values are supported when creating DICOM instances")
        tag = tag_of(name)
        if tag == PIXEL_DATA:
            embed_content(dataset, value)
        else:
            set_value(dataset, tag, value, decode_binary=False)
    return dataset


def _base_dataset(body):
    tags = body["Tags"]
    if not isinstance(tags, dict):
        raise BadRequest('"Tags" must be a JSON object')
    character_set = tags.get("SpecificCharacterSet")
    if character_set is None:
        character_set = _default_character_set()
    elif not _known_character_set(character_set):
        raise ParameterOutOfRange(f"Unknown specific character set: {character_set}")
    dataset = _new_dataset(character_set)
    parent_level = levels.INSTANCE  # Orthanc's way of saying "no parent"
    if "Parent" in body:
        parent_level = _copy_parent_tags(dataset, body["Parent"])
    options = {
        "decode_binary": _boolean(body, "InterpretBinaryTags", True),
        "force": _boolean(body, "Force", False),
    }
    if not isinstance(body.get("PrivateCreator", ""), str):
        raise BadRequest('"PrivateCreator" must be a string')
    _stamp_times(dataset, parent_level)
    inject_tags(dataset, tags, **options)
    return dataset, options


def _boolean(body, name, default):
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f'"{name}" must be true or false')
    return value


def _default_character_set():
    return character_sets.dicom_term(runtime_settings.current("DefaultEncoding")) or "ISO_IR 100"


def _known_character_set(value):
    if not isinstance(value, str) or not value.strip():
        return False
    terms = [term.strip() for term in value.split("\\")]
    return all(term in python_encoding for term in terms if term) and any(terms)


def _new_dataset(character_set):
    dataset = Dataset()
    dataset.SpecificCharacterSet = character_set
    dataset.PatientID = str(uuid.uuid4())
    dataset.StudyInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    dataset.SOPInstanceUID = generate_uid()
    return dataset


def _stamp_times(dataset, parent_level):
    now = datetime.now(UTC)
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S.000000")
    stamped = ["Acquisition", "Content", "InstanceCreation"]
    if parent_level in (levels.PATIENT, levels.STUDY, levels.INSTANCE):
        stamped.append("Series")
    if parent_level in (levels.PATIENT, levels.INSTANCE):
        stamped.append("Study")
    for prefix in stamped:
        setattr(dataset, f"{prefix}Date", date)
        setattr(dataset, f"{prefix}Time", time)


# --- Parent: the tags of the parent's modules, from one of its instances -----------------


def _copy_parent_tags(dataset, parent):
    if not isinstance(parent, str):
        raise BadRequest('"Parent" must be the public id of a patient, study or series')
    level, resource = index.resolve(parent)
    if resource is None:
        raise BadParent()
    if level is levels.INSTANCE:
        raise ParentIsInstance()
    sibling = index.instances_below(level, resource).only("file_uuid").order_by("id").first()
    if sibling is None:
        raise BadParent()
    source = pydicom.dcmread(storage.path_for(sibling.file_uuid), stop_before_pixels=True)
    character_sets.apply_default_encoding(source)
    character_set = source.get("SpecificCharacterSet")
    if character_set and _known_character_set(str(character_set)):
        dataset.SpecificCharacterSet = character_set
    for tag in _module_tags(level):
        element = source.get(tag)
        # As Orthanc: values that read as text (or as nothing) only, no sequence or binary.
        if element is not None and element.VR != "SQ" and element.VR not in BINARY_VRS:
            dataset.add(copy.deepcopy(element))
    return level


def _module_tags(level):
    """The tags of the modules from the patient's down to the parent's (DicomTag.cpp)."""
    tags = set(PATIENT_MODULE)
    if level in (levels.STUDY, levels.SERIES):
        tags |= STUDY_MODULE
    if level is levels.SERIES:
        tags |= SERIES_MODULE
    return sorted(tags)


def _tags(*pairs):
    return frozenset((group << 16) | element for group, element in pairs)


# DicomTag::AddTagsForModule, Orthanc 1.10.1.
PATIENT_MODULE = _tags(
    (0x0010, 0x0010), (0x0010, 0x0020), (0x0010, 0x0030), (0x0010, 0x0040), (0x0008, 0x1120),
    (0x0010, 0x0032), (0x0010, 0x1000), (0x0010, 0x1002), (0x0010, 0x1001), (0x0010, 0x2160),
    (0x0010, 0x4000), (0x0010, 0x2201), (0x0010, 0x2202), (0x0010, 0x2292), (0x0010, 0x2293),
    (0x0010, 0x2294), (0x0010, 0x2297), (0x0010, 0x2298), (0x0010, 0x2299), (0x0012, 0x0062),
    (0x0012, 0x0063), (0x0012, 0x0064), (0x0010, 0x0021), (0x0010, 0x0024),
)  # fmt: skip
STUDY_MODULE = _tags(
    (0x0020, 0x000D), (0x0008, 0x0020), (0x0008, 0x0030), (0x0008, 0x0090), (0x0008, 0x0096),
    (0x0020, 0x0010), (0x0008, 0x0050), (0x0008, 0x0051), (0x0008, 0x1030), (0x0008, 0x1048),
    (0x0008, 0x1049), (0x0008, 0x1060), (0x0008, 0x1062), (0x0032, 0x1034), (0x0008, 0x1110),
    (0x0008, 0x1032), (0x0040, 0x1012),
)  # fmt: skip
SERIES_MODULE = _tags(
    (0x0008, 0x0060), (0x0020, 0x000E), (0x0020, 0x0011), (0x0020, 0x0060), (0x0008, 0x0021),
    (0x0008, 0x0031), (0x0008, 0x1050), (0x0008, 0x1052), (0x0018, 0x1030), (0x0008, 0x103E),
    (0x0008, 0x103F), (0x0008, 0x1070), (0x0008, 0x1072), (0x0008, 0x1111), (0x0008, 0x1250),
    (0x0018, 0x0015), (0x0018, 0x5100), (0x0028, 0x0108), (0x0029, 0x0109), (0x0040, 0x0275),
    (0x0010, 0x2210), (0x0040, 0x0253), (0x0040, 0x0244), (0x0040, 0x0245), (0x0040, 0x0254),
    (0x0040, 0x0260), (0x0040, 0x0280),
)  # fmt: skip


# --- Tags: JSON values to elements --------------------------------------------------------


def inject_tags(dataset, tags, *, decode_binary=True, force=False):
    """Set the Tags of a body; a tag already there (from a parent, or made) is refused
    unless Force, but for PatientID and the dates and times Orthanc stamps."""
    if not isinstance(tags, dict):
        raise BadRequest('"Tags" must be a JSON object')
    for name, value in tags.items():
        tag = tag_of(name)
        if tag == SPECIFIC_CHARACTER_SET:
            continue
        if not force and tag not in OVERRIDABLE and tag in dataset:
            raise OverrideTag(name)
        if tag == PIXEL_DATA:
            raise UseContent()
        set_value(dataset, tag, value, decode_binary)


def _vr(tag):
    try:
        vr = pydicom.datadict.dictionary_VR(tag)
    except KeyError:
        return "UN"  # private and unknown tags, written as Orthanc writes them
    return vr.split(" or ")[0]


def set_value(dataset, tag, value, decode_binary):
    """One JSON value into an element: null makes it empty, a list of objects a sequence,
    a string the value (a data URI read as its bytes when decode_binary)."""
    vr = _vr(tag)
    if value is None:
        dataset.add_new(tag, vr, None)
        return
    if vr == "SQ":
        dataset.add_new(tag, vr, _sequence_items(tag, value, decode_binary))
        return
    if not isinstance(value, str):
        raise BadParameterType(f"Bad Parameter type for tag {orthanc_tag(tag)}")
    data = _decoded_data_uri(value)[1] if decode_binary and value.startswith("data:") else None
    if vr in BINARY_VRS:
        if data is None:
            data = value.encode(_codec(dataset))
        dataset.add_new(tag, vr, data + b"\0" * (len(data) % 2))
    elif vr in _NUMBER_PARSERS:
        dataset.add_new(tag, vr, _numbers(tag, vr, value))
    else:
        dataset.add_new(tag, vr, value if data is None else data.decode(_codec(dataset), errors="replace"))


def _sequence_items(tag, value, decode_binary):
    if isinstance(value, str):
        raise _out_of_range(tag, value)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BadParameterType(f"Bad Parameter type for tag {orthanc_tag(tag)}")
    items = []
    for item_tags in value:
        item = Dataset()
        for name, item_value in item_tags.items():
            set_value(item, tag_of(name), item_value, decode_binary)
        items.append(item)
    return items


def _numbers(tag, vr, text):
    parse = _NUMBER_PARSERS[vr]
    low, high = _INTEGER_RANGES.get(vr, (None, None))
    values = []
    for part in text.split("\\"):
        try:
            number = parse(part.strip())
        except ValueError:
            raise _out_of_range(tag, text) from None
        if low is not None and not low <= number <= high:
            raise _out_of_range(tag, text)
        values.append(number)
    return values[0] if len(values) == 1 else values


def _out_of_range(tag, text):
    where = f"({tag >> 16:04x},{tag & 0xFFFF:04x})"
    return BadFileFormat(f'While creating a DICOM instance, tag {where} has out-of-range value: "{text}"')


def _codec(dataset):
    character_set = str(dataset.get("SpecificCharacterSet", "") or "").split("\\")[-1].strip()
    return python_encoding.get(character_set, "latin_1")


def _decoded_data_uri(text):
    """(MIME type in lower case, bytes) of a data URI, or BadFileFormat (Toolbox.cpp,
    DecodeDataUriScheme: base64 only, nothing around it)."""
    match = _DATA_URI.fullmatch(text)
    if match is None:
        raise BadFileFormat()
    try:
        return match.group(1).lower(), base64.b64decode(match.group(2), validate=True)
    except ValueError:
        raise BadFileFormat("The base64 payload of the data URI cannot be decoded") from None


# --- Content: an image's pixels or an encapsulated PDF ------------------------------------


def embed_content(dataset, data_uri):
    mime, content = _decoded_data_uri(data_uri)
    if mime in ("image/png", "image/jpeg"):
        embed_image(dataset, _read_image(content, mime))
    elif mime == "application/pdf":
        if not content.startswith(b"%PDF-"):
            raise BadFileFormat("Not a PDF file")
        dataset.MIMETypeOfEncapsulatedDocument = "application/pdf"
        dataset.add_new(0x00420011, "OB", content + b"\0" * (len(content) % 2))
        for keyword, value in (
            ("SOPClassUID", ENCAPSULATED_PDF_STORAGE),
            ("Modality", "OT"),
            ("ConversionType", "WSD"),
        ):
            if keyword not in dataset:
                setattr(dataset, keyword, value)
    else:
        raise UnsupportedContent(f"Unsupported MIME type for the content of a new DICOM file: {mime}")


def _read_image(content, mime):
    """The decoded image as a numpy array: (rows, columns) grey, 8 or 16 bits, or
    (rows, columns, 3) RGB; an alpha channel dropped, a palette expanded, as Orthanc."""
    try:
        image = Image.open(io.BytesIO(content))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        kind = "PNG" if mime == "image/png" else "JPEG"
        raise BadFileFormat(f"Cannot decode the {kind} image: {exc}") from None
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return numpy.asarray(image).astype(numpy.uint16)
    if image.mode in ("1", "L", "LA"):
        return numpy.asarray(image.convert("L"))
    return numpy.asarray(image.convert("RGB"))


def embed_image(dataset, pixels):
    """Pixel data and the Image Pixel module of an array (ParsedDicomFile::EmbedImage)."""
    if PIXEL_DATA in dataset:
        del dataset[PIXEL_DATA]
    rows, columns = pixels.shape[:2]
    dataset.Columns, dataset.Rows = columns, rows
    dataset.PixelRepresentation = 0
    if pixels.ndim == 3:
        dataset.PhotometricInterpretation = "RGB"
        dataset.SamplesPerPixel = 3
        dataset.PlanarConfiguration = 0  # the channels interleaved
    else:
        dataset.SamplesPerPixel = 1
        if "PhotometricInterpretation" not in dataset:
            dataset.PhotometricInterpretation = "MONOCHROME2"
    bits = pixels.dtype.itemsize * 8
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = bits, bits, bits - 1
    data = numpy.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<")).tobytes()
    dataset.add_new(PIXEL_DATA, "OW", data + b"\0" * (len(data) % 2))


# --- Content as a list: a series of one instance per item --------------------------------


def _create_series(base, content, options, origin):
    base.ImagesInAcquisition = len(content)
    base.NumberOfTemporalPositions = 1
    stored = None
    try:
        for number, item in enumerate(content, start=1):
            dataset = copy.deepcopy(base)
            dataset.SOPInstanceUID = generate_uid()
            payload = item
            if isinstance(item, dict):
                if "Content" not in item:
                    raise NoPayload()
                payload = item["Content"]
                if "Tags" in item:
                    inject_tags(dataset, item["Tags"], **options)
            if not isinstance(payload, str):
                raise UseDataUriScheme()
            embed_content(dataset, payload)
            dataset.InstanceNumber = number
            dataset.ImageIndex = number
            stored = _store(dataset, origin)
    except BaseException:
        # As Orthanc: the series made so far goes away with the failure.
        series = stored and index.get(levels.SERIES, stored.ids[2])
        if series is not None:
            index.delete(levels.SERIES, series)
        raise
    series_id = stored.ids[2]
    return {"ID": series_id, "Path": f"/series/{series_id}", "Status": "Success"}


# --- to the ingest funnel -----------------------------------------------------------------


def part10_bytes(dataset):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.get("SOPClassUID") or GENERIC_FILE_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta = meta
    dataset.preamble = b"\0" * 128
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _store(dataset, origin):
    return ingest.store_instance(part10_bytes(dataset), origin)
