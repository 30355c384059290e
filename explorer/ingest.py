"""store_instance(data, origin): the one funnel every arriving DICOM file goes through.

REST upload, the import command, C-STORE and retrieval all call it. The file
is written atomically before it is indexed; if indexing fails the file is
removed again, so a failure never leaves a half-stored instance.
"""

import hashlib
import io
import logging
import os
from dataclasses import dataclass

import pydicom
from django.conf import settings
from django.db import DatabaseError, DataError
from pydicom.filereader import _read_file_meta_info
from pydicom.uid import UID

from explorer import dicom, index, storage, transcoding
from explorer.dicomweb import metadata as dicomweb_metadata
from explorer.errors import BadFileFormat, BadRequest, DatabaseFailure

logger = logging.getLogger(__name__)

SUCCESS = "Success"
ALREADY_STORED = "AlreadyStored"


@dataclass(frozen=True)
class Origin:
    """Where an instance came from, recorded on it (Orthanc's Origin metadata)."""

    kind: str = "Unknown"  # RestApi, DicomProtocol, Import
    remote_ip: str = ""
    remote_aet: str = ""
    called_aet: str = ""
    username: str = ""


@dataclass(frozen=True)
class StoreResult:
    status: str
    ids: tuple  # public ids: patient, study, series, instance
    # StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, SOPClassUID: what a STOW-RS answer
    # names, taken from the parse that stored it rather than asked of the index again.
    uids: tuple = ()

    @property
    def instance_id(self):
        return self.ids[3]


class OtherStudy(BadRequest):
    """An instance refused, before anything of it is written, because it belongs to another
    study than the one the sender named (STOW-RS to /dicom-web/studies/{uid})."""

    def __init__(self, details, uids):
        super().__init__(details)
        self.uids = uids


def store_instance(data, origin, overwrite=None, link=None, skip_ingest_transcoding=False, study_uid=None):
    """Store and index one DICOM file given as bytes.

    A file without the preamble or without a file meta header is stored as a Part 10 file,
    its data set bytes unchanged (dicom.as_part10). `link` (index.Link) records what a
    modified or anonymized instance was made from. With IngestTranscoding it is stored in
    that transfer syntax (ingest_transcoded) unless `skip_ingest_transcoding`, as Orthanc
    skips it for a file a `/modify` with "Transcode" made. Raises BadFileFormat for input
    that cannot be indexed, StorageFailure or DatabaseFailure when the server cannot keep it;
    with `study_uid`, OtherStudy for an instance of another study.
    """
    data = dicom.as_part10(data)
    if not skip_ingest_transcoding:
        data = ingest_transcoded(data) or data
    write, md5 = (lambda: storage.write(data)), (lambda: hashlib.md5(data).hexdigest())
    return _store(data, origin, overwrite, write, len(data), md5, link, study_uid)


def store_instance_file(path, origin, overwrite=None, skip_ingest_transcoding=False, study_uid=None):
    """Store and index a received file that lies in the storage area's incoming folder.

    The file is moved into place, not copied; it is removed when it is not kept. With
    `study_uid`, an instance of another study is refused (OtherStudy) and not kept.
    """
    transcoded = None if skip_ingest_transcoding else ingest_transcoded(path)
    if transcoded is not None:
        os.unlink(path)
        return store_instance(transcoded, origin, overwrite, skip_ingest_transcoding=True, study_uid=study_uid)
    # Parsed from the bytes received when they were kept (explorer/incoming.py), else read back.
    data = getattr(path, "data", None)
    try:
        return _store(
            path if data is None else data,
            origin,
            overwrite,
            lambda: storage.adopt(path),
            os.path.getsize(path) if data is None else len(data),
            # Taken as the file was written here (explorer/incoming.py), else read again.
            lambda: getattr(path, "md5", None) or _md5_of_file(path),
            study_uid=study_uid,
        )
    finally:
        if os.path.exists(path):
            os.unlink(path)


def ingest_transcoded(source):
    """The file (bytes or a path) in the IngestTranscoding transfer syntax, or None when it
    stays as it is: Orthanc's rules (ServerContext::TranscodeAndStore): not when it already is
    in that syntax or holds a video, uncompressed ones only with
    IngestTranscodingOfUncompressed, compressed ones only with IngestTranscodingOfCompressed,
    and the file as received when it cannot be transcoded."""
    target = settings.PHAROS_INGEST_TRANSCODING
    if not target:
        return None
    try:
        syntax = _transfer_syntax_of(source)
    except Exception:  # no file meta, or a damaged one: dicom.parse says what is wrong with it
        return None
    if syntax is None or syntax == target or syntax.name.startswith(NOT_TRANSCODED):
        return None
    wanted = (
        settings.PHAROS_INGEST_TRANSCODING_OF_UNCOMPRESSED
        if syntax in transcoding.NATIVE
        else settings.PHAROS_INGEST_TRANSCODING_OF_COMPRESSED
    )
    if not wanted:
        return None
    try:
        dataset = pydicom.dcmread(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
        return transcoding.to_bytes(transcoding.transcode(dataset, target))
    except Exception as error:  # TranscodingError, or pydicom's own kinds on odd input
        logger.info("IngestTranscoding: stored as received (%s): %s", syntax.name, error)
        return None


# Videos, and the special syntaxes Orthanc never transcodes at ingest.
NOT_TRANSCODED = ("MPEG", "HEVC", "RFC 2557", "XML")


def _transfer_syntax_of(source):
    with io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb") as handle:
        handle.seek(128)
        if handle.read(4) != b"DICM":
            return None
        syntax = _read_file_meta_info(handle).get("TransferSyntaxUID")
    return UID(syntax) if syntax else None


def _md5_of_file(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _store(source, origin, overwrite, write_file, size, md5, link=None, study_uid=None):
    if overwrite is None:
        overwrite = settings.PHAROS_OVERWRITE_INSTANCES
    parsed = dicom.parse(source)
    identifiers = parsed.identifiers
    uids = (
        identifiers["StudyInstanceUID"],
        identifiers["SeriesInstanceUID"],
        identifiers["SOPInstanceUID"],
        parsed.sop_class_uid,
    )
    if study_uid is not None and uids[0] != study_uid:
        raise OtherStudy(f"The instance belongs to study {uids[0]}, not to study {study_uid}", uids)
    already = StoreResult(ALREADY_STORED, parsed.ids, uids)

    file_md5 = md5()
    file_uuid = write_file()
    try:
        index.add_instance(parsed, file_uuid, size, file_md5, origin, overwrite=overwrite, link=link)
    except index.DuplicateInstance:
        storage.delete(file_uuid)
        return already
    except DataError as exc:  # a value the index cannot hold (a UID longer than its column)
        storage.delete(file_uuid)
        logger.info("Cannot index %s: %s", parsed.ids[3], exc)
        raise BadFileFormat(_too_long(parsed.identifiers)) from exc
    except DatabaseError as exc:
        storage.delete(file_uuid)
        logger.exception("Indexing %s failed", parsed.ids[3])
        raise DatabaseFailure(f"Cannot index the instance: {exc}") from exc
    except BaseException:
        storage.delete(file_uuid)
        raise
    _cache_dicomweb_metadata(parsed, file_uuid)
    return StoreResult(SUCCESS, parsed.ids, uids)


def _too_long(identifiers):
    """Why the index refused a value, in words: DICOM allows 64 characters to an identifier."""
    too_long = [keyword for keyword, value in identifiers.items() if len(value) > 64]
    if not too_long:
        return "A value in the file is too long to be stored"
    names = dicom.identifier_names(too_long)
    lengths = [len(identifiers[keyword]) for keyword in too_long]
    parts = [f"the {name} has {length} characters" for name, length in zip(names, lengths)]
    return "An identifier is longer than DICOM allows (64 characters): " + ", ".join(parts)


def _cache_dicomweb_metadata(parsed, file_uuid):
    """The instance's DICOMweb metadata, cached as it is stored: a viewer asks for a whole
    series' at once (explorer/dicomweb/metadata.py). One that cannot be written is made at
    the first request instead."""
    try:
        dicomweb_metadata.remember(parsed.json, parsed.identifiers, file_uuid)
    except Exception:  # a cache never fails an arrival
        logger.warning("The DICOMweb metadata of %s is not cached", parsed.ids[3], exc_info=True)
