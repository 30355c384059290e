"""From bytes to what the index needs: a parsed data set, its identifiers, public ids and main tags."""

import hashlib
import io
import json
import logging
import os
import struct
from dataclasses import dataclass, field

import orjson
import pydicom
from pydicom.datadict import dictionary_description, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import correct_ambiguous_vr_element, write_file_meta_info
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import BYTES_VR

from explorer import character_sets, dicom_json, levels, pydicom_compat
from explorer.errors import BadFileFormat

logger = logging.getLogger(__name__)

UNDEFINED_LENGTH = 0xFFFFFFFF
# Orthanc's ORTHANC_MAXIMUM_TAG_LENGTH: a longer value (in UTF-8 bytes) is no main tag.
MAXIMUM_MAIN_TAG_LENGTH = 256
# Binary values larger than this (in base64 characters) are kept as a reference,
# not inline, in the data set saved in the index.
BULK_DATA_THRESHOLD = 1024
IDENTIFIERS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
ENCAPSULATED_DOCUMENT = 0x00420011


def public_id(*identifiers):
    """Orthanc's id: SHA-1 of the identifiers joined by '|', as 5 groups of 8 hex digits."""
    digest = hashlib.sha1("|".join(identifiers).encode("utf-8")).hexdigest()
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


def public_ids(patient_id, study_uid, series_uid, sop_uid):
    """The public ids of the four levels, patient first."""
    chain = (patient_id, study_uid, series_uid, sop_uid)
    return tuple(public_id(*chain[: n + 1]) for n in range(4))


@dataclass
class ParsedInstance:
    dataset: pydicom.Dataset
    identifiers: dict  # keyword -> value, for the four IDENTIFIERS
    ids: tuple  # public ids: patient, study, series, instance
    main_tags: dict  # level name -> {keyword: text}
    transfer_syntax_uid: str
    sop_class_uid: str
    json: dict = field(repr=False)
    json_text: str = field(repr=False)  # the same, as JSON text

    def tag_text(self, keyword):
        return element_text(self.dataset, keyword)


# pydicom puts it for each byte its character set cannot decode, where Orthanc drops the byte.
REPLACEMENT_CHARACTER = "\ufffd"


def clean_text(value):
    # PostgreSQL text and jsonb refuse NUL characters, which some files carry as padding.
    return value.replace("\x00", "").replace(REPLACEMENT_CHARACTER, "").rstrip(" ")


def element_text(dataset, keyword, converted=None):
    """A tag's value as Orthanc shows a main tag: a string, multiple values joined by '\\',
    trailing spaces removed, "" when empty, None when the tag is absent. `converted` holds
    the (VR, value) of elements already converted (dicom_json.to_json_dict's)."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        return None
    if converted and tag in converted:
        vr, value = converted[tag]
    else:
        element = pydicom_compat.raw_elements(dataset).get(tag)
        if element is None:
            return None
        fast = None
        if pydicom_compat.fast_paths():
            fast = dicom_json.fast_conversion(tag, element, dicom_json.character_sets(dataset))
        if fast is not None:
            _, vr, value = fast
        else:
            element = dataset[tag]
            vr, value = element.VR, element.value
    if vr == "SQ" or vr in BYTES_VR:
        return None
    if value is None or value == "":
        return ""
    if isinstance(value, (MultiValue, list, tuple)):
        text = "\\".join("" if v is None else dicom_json.written_text(v) for v in value)
    else:
        text = dicom_json.written_text(value)
    return clean_text(text)


def _check_not_truncated(dataset, size):
    """pydicom reads a value cut short by the end of the file without complaint, and skips
    a value it leaves on disk (DEFER_SIZE) without looking whether the file holds it (`size`:
    the file's, None when its positions are not the file's, in a deflated data set)."""
    elements = pydicom_compat.raw_elements(dataset)
    for tag in list(dataset.keys()):
        raw = elements.get(tag)
        if isinstance(raw, RawDataElement) and raw.length != UNDEFINED_LENGTH:
            if raw.value is not None:
                present = len(raw.value)
            elif size is not None:
                present = max(0, min(raw.length, size - raw.value_tell))
            else:
                continue
            if present < raw.length:
                if size is None:  # a deflated data set: no size of the file to compare with
                    raise BadFileFormat(f"The file is cut short: it ends inside {_part_named(tag)}")
                raise cut_short(size, raw.value_tell + raw.length, _part_named(tag), last=tag == 0x7FE00010)


def _strip_nul(node):
    if isinstance(node, str):
        return node.replace("\x00", "").replace(REPLACEMENT_CHARACTER, "")
    if isinstance(node, list):
        return [_strip_nul(item) for item in node]
    if isinstance(node, dict):
        return {key: _strip_nul(value) for key, value in node.items()}
    return node


def dataset_json(dataset, instance_id):
    """The data set as DICOM JSON (PS3.18 F), bulk values replaced by a URI of ours, and
    that JSON as text (what the index stores), both without NUL characters nor the
    replacement characters of undecodable bytes; and the
    (VR, value) of the elements converted on the way."""

    def bulk_uri(elem):
        return f"/instances/{instance_id}/content/{elem.tag.group:04x}-{elem.tag.element:04x}"

    on_disk = _binary_values_on_disk(dataset)
    held = {tag: dataset.get_item(tag, keep_deferred=True) for tag in on_disk}
    for tag in on_disk:
        del dataset[tag]
    try:
        as_json, converted = dicom_json.to_json_dict(dataset, bulk_uri, BULK_DATA_THRESHOLD)
    finally:
        for tag, raw in held.items():
            dataset[tag] = raw
    if on_disk:
        for tag, vr in on_disk.items():
            as_json[dicom_json.json_key(int(tag))] = {"vr": vr, "BulkDataURI": bulk_uri(DataElement(tag, vr, b""))}
        as_json = dict(sorted(as_json.items()))
    # Walking the whole tree costs more than writing it out: only a data set whose JSON
    # shows a NUL somewhere is walked.
    text = json_bytes(as_json)
    if b"\\u0000" in text or REPLACEMENT_CHARACTER.encode() in text:
        as_json = _strip_nul(as_json)
        text = json_bytes(as_json)
    return as_json, text.decode(), converted


def _binary_values_on_disk(dataset):
    """{tag: VR} of the binary values (pixel data above all) pydicom left in the file when it
    was parsed from a path (DEFER_SIZE). Their JSON is a bulk data reference, written without
    reading them: pydicom would read each one whole into memory to write it."""
    on_disk = {}
    for tag, raw in list(pydicom_compat.raw_elements(dataset).items()):
        if not isinstance(raw, RawDataElement) or raw.value is not None:
            continue
        vr = raw.VR
        if vr is None:  # implicit VR: the dictionary's, resolved as pydicom resolves it
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                vr = "UN"
        if " or " in vr:
            vr = correct_ambiguous_vr_element(DataElement(tag, vr, b""), dataset, raw.is_little_endian).VR
        if vr in BYTES_VR:
            on_disk[tag] = vr
    return on_disk


def json_bytes(as_json):
    """The JSON as text: by orjson, which also writes an infinite DS as null (PostgreSQL
    refuses Infinity); by the json module for an integer beyond 64 bits (a malformed IS,
    kept as read), which orjson refuses and both databases take."""
    try:
        return orjson.dumps(as_json)
    except orjson.JSONEncodeError:
        return json.dumps(as_json).encode()


# Values larger than this stay on disk when a file is parsed from a path.
DEFER_SIZE = "256 KB"

PREAMBLE = b"\x00" * 128
MAGIC = b"DICM"
# The transfer syntax of a data set without one, from how it is encoded: pydicom's guess
# (is_implicit_VR, is_little_endian) from its first element.
GUESSED_SYNTAXES = {
    (True, True): ImplicitVRLittleEndian,
    (False, True): ExplicitVRLittleEndian,
    (False, False): ExplicitVRBigEndian,
}


def is_part10(data):
    return data[128:132] == MAGIC


# --- why a file is refused, in a user's words ------------------------------------------
# The upload page shows these as they are (the REST API's "Details"): what is wrong with the
# file, never the text a library raised, which is logged instead.

# What a file that is no DICOM file may be, from its first bytes.
KNOWN_KINDS = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)


def readable_size(size):
    """13000 -> "13 kB": the sizes a user reads in a file manager (powers of 1000)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{size} byte{'s' if size != 1 else ''}"


def cut_short(size, needed, where, last=False):
    """A file that ends before its structure does: what came against what it needs, which is
    the whole file when the value cut short is the `last` one (the pixel data), else at least."""
    received, wanted = readable_size(size), readable_size(needed)
    if received == wanted:  # too close for rounded sizes to tell apart
        received, wanted = f"{size:,} bytes", f"{needed:,} bytes"
    of = "of" if last else "of at least"
    return BadFileFormat(f"The file is cut short: {received} {of} {wanted} (it ends inside {where})")


def _part_named(tag):
    if tag == 0x7FE00010:
        return "the pixel data"
    name = dictionary_description(tag) if keyword_for_tag(tag) else ""
    return f"the {name} element" if name else f"element {tag}"


def identifier_names(keywords):
    """["StudyInstanceUID"] -> "Study Instance UID", as the DICOM Standard names it."""
    return [dictionary_description(tag_for_keyword(keyword)) for keyword in keywords]


def kind_of(head):
    """What the first bytes of a file that is no DICOM file look like, or ""."""
    for magic, kind in KNOWN_KINDS:
        if head.startswith(magic):
            return kind
    sample = head[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 3:  # not a character cut by the end of the sample
            return ""
        text = sample[: error.start].decode("utf-8")
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "a text file"
    return ""


def not_dicom(head):
    kind = kind_of(head)
    return BadFileFormat("Not a DICOM file" + (f": it looks like {kind}" if kind else ""))


def _meta_end(head):
    """Where the file meta header of a Part 10 file ends, from its group length, or None."""
    if len(head) < 144 or not is_part10(head) or head[132:136] != b"\x02\x00\x00\x00" or head[136:138] != b"UL":
        return None
    return 144 + int.from_bytes(head[140:144], "little")


def unreadable(exc, head, size):
    """The BadFileFormat for a file pydicom could not read (`exc`), from its first bytes."""
    logger.info("A file of %d bytes cannot be read: %s: %s", size, type(exc).__name__, exc)
    if isinstance(exc, InvalidDicomError) or not is_part10(head):
        return not_dicom(head)
    meta_end = _meta_end(head)
    if size < 144:  # "DICM", then not even the file meta header's group length
        return BadFileFormat(f"The file is cut short: it ends after {size} bytes, inside its file meta header")
    if meta_end is not None and meta_end > size:
        return cut_short(size, meta_end, "its file meta header")
    if isinstance(exc, (struct.error, EOFError)) or "truncated" in str(exc) or "incomplete" in str(exc):
        return BadFileFormat(f"The file is cut short: it ends after {readable_size(size)}, inside a DICOM element")
    return BadFileFormat("The DICOM file is damaged: its contents cannot be read")


def _head(source):
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:1024])
    with open(source, "rb") as handle:
        return handle.read(1024)


def _meta_then_data_set(source):
    """The file meta elements at the start of `source` (a file; none for a bare data set) and
    where the data set begins. The meta group is always explicit VR little endian (PS3.10 7.1)."""
    source.seek(0)
    meta = read_dataset(
        source, is_implicit_VR=False, is_little_endian=True, stop_when=lambda tag, vr, length: tag.group != 2
    )
    return meta, source.tell()


def as_part10(data):
    """`data` as a Part 10 file: unchanged when it is one; otherwise (a file without the
    preamble, or a bare data set without a file meta header, as old devices write them)
    a preamble, a file meta header built from the data set, then its bytes unchanged.

    The transfer syntax is the meta header's when there is one, else the one pydicom deduces
    from the data set's first element. Raises BadFileFormat when the bytes are no data set.
    """
    if is_part10(data) or not data:
        return data
    header, start = part10_header(io.BytesIO(data), len(data))
    return header + data[start:]


def part10_header(source, size):
    """(the preamble and file meta header that make a Part 10 file of a data set that has
    neither, where its data set begins) for `source`, a file holding no Part 10 file (see
    as_part10): the file is then the header followed by the source from that position on,
    which is never read whole."""
    try:
        meta, start = _meta_then_data_set(source)
        source.seek(0)
        dataset = pydicom.dcmread(source, force=True, stop_before_pixels=True, defer_size=DEFER_SIZE)
        syntax = meta.get("TransferSyntaxUID") or GUESSED_SYNTAXES[dataset.original_encoding]
        sop_class, sop_instance = dataset.get("SOPClassUID"), dataset.get("SOPInstanceUID")
    except Exception as exc:  # pydicom raises many kinds on bytes that are no data set
        logger.info("Neither a DICOM file nor a DICOM data set: %s: %s", type(exc).__name__, exc)
        source.seek(0)
        raise not_dicom(source.read(1024)) from exc
    if not sop_class or not sop_instance:
        # No "DICM" at byte 128, and no SOP Class UID and SOP Instance UID as a bare data set.
        source.seek(0)
        raise not_dicom(source.read(1024))
    file_meta = FileMetaDataset()
    file_meta.MediaStorageSOPClassUID = sop_class
    file_meta.MediaStorageSOPInstanceUID = sop_instance
    file_meta.TransferSyntaxUID = syntax
    for keyword in ("ImplementationClassUID", "ImplementationVersionName", "SourceApplicationEntityTitle"):
        if keyword in meta:
            file_meta[keyword] = meta[keyword]
    header = DicomBytesIO()
    write_file_meta_info(header, file_meta, enforce_standard=True)
    return PREAMBLE + MAGIC + header.getvalue(), start


def parse(data):
    """Parse a Part 10 file, given as bytes or as a path, without decoding pixel data.

    Raises BadFileFormat, with a message saying why, for anything that cannot be indexed.
    """
    if isinstance(data, (bytes, bytearray)):
        size = len(data)
        source = io.BytesIO(data)
    else:
        size = os.path.getsize(data)
        source = data
    if not size:
        raise BadFileFormat("The file is empty")
    # Read before the file: a runtime setting that cannot be read is no bad file.
    default_codec = character_sets.default_codec()
    try:
        # Values beyond DEFER_SIZE (pixel data) are left where they are, in the file or in
        # the bytes: read only if asked for, which indexing never does.
        dataset = pydicom.dcmread(source, defer_size=DEFER_SIZE)
        character_sets.apply_default_encoding(dataset, default_codec)
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        _check_not_truncated(dataset, None if syntax and syntax.is_deflated else size)
        _check_not_truncated(dataset.file_meta, size)
        identifiers = {keyword: element_text(dataset, keyword) for keyword in IDENTIFIERS}
    except BadFileFormat:
        raise
    except Exception as exc:  # pydicom raises many kinds on damaged input
        raise unreadable(exc, _head(data), size) from exc

    missing = [k for k in IDENTIFIERS[1:] if not identifiers[k]]
    if not len(dataset):
        raise BadFileFormat(f"The file is cut short: it ends after {readable_size(size)}, before its data set")
    if missing:
        names = identifier_names(missing)
        raise BadFileFormat("No " + ", no ".join(names) + ": the file cannot be stored without it")
    identifiers["PatientID"] = identifiers["PatientID"] or ""
    ids = public_ids(*(identifiers[k] for k in IDENTIFIERS))

    meta = dataset.file_meta
    try:
        as_json, json_text, converted = dataset_json(dataset, ids[3])
    except Exception as exc:
        logger.info("The values of %s cannot be read: %s: %s", ids[3], type(exc).__name__, exc)
        raise BadFileFormat("The DICOM file is damaged: some of its values cannot be read") from exc
    main_tags = {}
    for level in levels.LEVELS:
        tags = {}
        for keyword in level.main_tags:
            text = element_text(dataset, keyword, converted)
            if text is not None and len(text.encode("utf-8")) <= MAXIMUM_MAIN_TAG_LENGTH:
                tags[keyword] = text
        main_tags[level.name] = tags
    return ParsedInstance(
        dataset=dataset,
        identifiers=identifiers,
        ids=ids,
        main_tags=main_tags,
        transfer_syntax_uid=str(meta.get("TransferSyntaxUID", "")),
        sop_class_uid=element_text(dataset, "SOPClassUID", converted) or str(meta.get("MediaStorageSOPClassUID", "")),
        json=as_json,
        json_text=json_text,
    )


def _first_value(dataset_json, tag):
    values = (dataset_json.get(tag) or {}).get("Value") or [""]
    return str(values[0]).strip()


def holds_pdf(dataset_json):
    """Whether an instance (its DICOM JSON, as the index keeps it) is an encapsulated PDF:
    Orthanc's test, the SOP class and the MIME type of the document."""
    return (
        _first_value(dataset_json, "00080016") == ENCAPSULATED_PDF_STORAGE
        and _first_value(dataset_json, "00420012") == "application/pdf"
    )


def encapsulated_document(path):
    """The document an encapsulated PDF file holds, without the pad byte that makes an odd
    length even. Orthanc drops any last byte that is not CR or LF, which cuts a PDF ending
    in "%%EOF" with no line end and even length; only a NUL pad is dropped here."""
    element = pydicom.dcmread(path, specific_tags=[ENCAPSULATED_DOCUMENT]).get(ENCAPSULATED_DOCUMENT)
    document = bytes(element.value or b"") if element is not None else b""
    return document[:-1] if document.endswith(b"\x00") else document
