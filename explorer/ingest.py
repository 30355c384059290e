"""store_instance(data, origin): the one funnel every arriving DICOM file goes through.

REST upload, the import command, C-STORE and retrieval all call it. The file
is written atomically before it is indexed; if indexing fails the file is
removed again, so a failure never leaves a half-stored instance.
"""

import hashlib
import logging
import os
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, DataError

from explorer import dicom, index, storage
from explorer.errors import BadFileFormat, DatabaseFailure

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

    @property
    def instance_id(self):
        return self.ids[3]


def store_instance(data, origin, overwrite=None, link=None):
    """Store and index one DICOM file given as bytes.

    A file without the preamble or without a file meta header is stored as a Part 10 file,
    its data set bytes unchanged (dicom.as_part10). `link` (index.Link) records what a
    modified or anonymized instance was made from. Raises BadFileFormat for input that
    cannot be indexed, StorageFailure or DatabaseFailure when the server cannot keep it.
    """
    data = dicom.as_part10(data)
    write, md5 = (lambda: storage.write(data)), (lambda: hashlib.md5(data).hexdigest())
    return _store(data, origin, overwrite, write, len(data), md5, link)


def store_instance_file(path, origin, overwrite=None):
    """Store and index a received file that lies in the storage area's incoming folder.

    The file is moved into place, not copied; it is removed when it is not kept.
    """
    try:
        return _store(
            path,
            origin,
            overwrite,
            lambda: storage.adopt(path),
            os.path.getsize(path),
            # Taken as the file was written here (explorer/incoming.py), else read again.
            lambda: getattr(path, "md5", None) or _md5_of_file(path),
        )
    finally:
        if os.path.exists(path):
            os.unlink(path)


def _md5_of_file(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _store(source, origin, overwrite, write_file, size, md5, link=None):
    if overwrite is None:
        overwrite = settings.PHAROS_OVERWRITE_INSTANCES
    parsed = dicom.parse(source)
    already = StoreResult(ALREADY_STORED, parsed.ids)

    file_md5 = md5()
    file_uuid = write_file()
    try:
        index.add_instance(parsed, file_uuid, size, file_md5, origin, overwrite=overwrite, link=link)
    except index.DuplicateInstance:
        storage.delete(file_uuid)
        return already
    except DataError as exc:  # a value the index cannot hold (a UID longer than its column)
        storage.delete(file_uuid)
        raise BadFileFormat(f"Cannot index the instance: {exc}") from exc
    except DatabaseError as exc:
        storage.delete(file_uuid)
        logger.exception("Indexing %s failed", parsed.ids[3])
        raise DatabaseFailure(f"Cannot index the instance: {exc}") from exc
    except BaseException:
        storage.delete(file_uuid)
        raise
    return StoreResult(SUCCESS, parsed.ids)
