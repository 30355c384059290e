"""Where files come from in bulk: ZIP archives and folder trees, each file handed out as a
temporary file in the incoming folder (explorer/incoming.py), never read whole in memory.

A ZIP archive is checked before anything of it is expanded: at most PHAROS_MAX_ZIP_MEMBERS
entries, expanding to at most PHAROS_MAX_ZIP_EXPANSION bytes, or PayloadTooLarge (a ZIP
bomb). The sizes its central directory declares are the sizes expanded: zipfile stops a
member at its declared size and then checks its CRC.
"""

import logging
import os
import struct
import zipfile
import zlib

from django.conf import settings

from explorer import incoming
from explorer.errors import BadFileFormat, PayloadTooLarge

logger = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
END_RECORD = struct.Struct("<4s4H2LH")  # PKWARE APPNOTE 4.3.16, the end of central directory
ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 4.3.15
ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")  # 4.3.14
# Central directory bytes per entry allowed: zipfile reads the directory whole.
DIRECTORY_BYTES_PER_MEMBER = 1024
MEMBER_UNREADABLE = (
    "This file of the ZIP archive cannot be extracted: it is damaged, encrypted or compressed in an unknown way"
)
# Errors zipfile raises on a member it cannot expand (damaged, encrypted, an unknown method).
MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, RuntimeError, EOFError, NotImplementedError)


def looks_like_zip(head):
    return head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC)


def file_looks_like_zip(path):
    with open(path, "rb") as handle:
        return looks_like_zip(handle.read(4))


def zip_members(path):
    """Yield (name, path of a temporary file holding it) for each file in the ZIP archive at
    `path`, or (name, BadFileFormat) for a member that cannot be expanded. The caller may move
    the temporary file away (ingest.store_instance_file); what is left is removed as soon as
    the caller asks for the next member.

    Raises BadFileFormat for a file that is no ZIP archive, and PayloadTooLarge, before
    expanding anything, for one beyond the limits."""
    with open(path, "rb") as handle:
        check_directory(handle)
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError) as exc:
            logger.info("Cannot read a ZIP archive: %s", exc)
            raise BadFileFormat("The ZIP archive cannot be opened: it is damaged or cut short") from exc
        with archive:
            files = [info for info in archive.infolist() if not _skipped(info)]
            check_expansion(files)
            for info in files:
                try:
                    expanded = incoming.write_chunks(_member_chunks(archive, info), keep=True)
                except MEMBER_ERRORS as exc:
                    logger.info("Cannot extract %s from a ZIP archive: %s", info.filename, exc)
                    yield info.filename, BadFileFormat(MEMBER_UNREADABLE)
                    continue
                try:
                    yield info.filename, expanded
                finally:
                    incoming.remove(expanded)


def _skipped(info):
    return info.is_dir() or os.path.basename(info.filename).startswith("._")  # macOS metadata


def _member_chunks(archive, info):
    with archive.open(info) as member:
        yield from iter(lambda: member.read(incoming.CHUNK), b"")


def check_directory(handle):
    """PayloadTooLarge for an archive declaring more entries than PHAROS_MAX_ZIP_MEMBERS, or a
    central directory larger than they need, before zipfile reads it into memory."""
    declared = declared_directory(handle)
    if declared is None:
        return  # no end record: zipfile says what is wrong
    entries, size = declared
    most = settings.PHAROS_MAX_ZIP_MEMBERS
    if entries > most:
        raise PayloadTooLarge(f"The ZIP archive has {entries} entries, more than PHAROS_MAX_ZIP_MEMBERS ({most})")
    if size > most * DIRECTORY_BYTES_PER_MEMBER:
        raise PayloadTooLarge(f"The ZIP archive's central directory is too large ({size} bytes)")


def declared_directory(handle):
    """(entries, size in bytes) of the central directory the archive's end record declares,
    its ZIP64 record's when it has one; None without an end record."""
    handle.seek(0, os.SEEK_END)
    length = handle.tell()
    start = max(0, length - END_RECORD.size - 0xFFFF)  # the record, then a comment of 64 KiB at most
    handle.seek(start)
    tail = handle.read()
    at = tail.rfind(EMPTY_ZIP_MAGIC)
    if at < 0 or len(tail) - at < END_RECORD.size:
        return None
    _, _, _, _, entries, size, _, _ = END_RECORD.unpack_from(tail, at)
    locator_at = at - ZIP64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
        _, _, record_offset, _ = ZIP64_LOCATOR.unpack_from(tail, locator_at)
        handle.seek(record_offset)
        record = handle.read(ZIP64_END_RECORD.size)
        if len(record) == ZIP64_END_RECORD.size and record.startswith(b"PK\x06\x06"):
            fields = ZIP64_END_RECORD.unpack(record)
            entries, size = fields[7], fields[8]
    return entries, size


def check_expansion(files):
    total, most = sum(info.file_size for info in files), settings.PHAROS_MAX_ZIP_EXPANSION
    if total > most:
        raise PayloadTooLarge(
            f"The ZIP archive would expand to {total} bytes, more than PHAROS_MAX_ZIP_EXPANSION ({most} bytes)"
        )


def files_under(paths):
    """Every file path below the given files and folders, in a stable order."""
    for path in paths:
        if os.path.isdir(path):
            for folder, subfolders, names in os.walk(path):
                subfolders.sort()
                for name in sorted(names):
                    yield os.path.join(folder, name)
        else:
            yield path


def read_files(paths):
    """Yield (path, name, temporary file or error) for every file under the paths, ZIP
    archives opened (the import command's source).

    `name` is the path, or `archive.zip/member` inside an archive. The temporary file is a
    copy in the incoming folder, which the caller may move away (what is left is removed when
    the next is asked for); a file that cannot be read is yielded as a BadFileFormat, an
    archive beyond the limits as a PayloadTooLarge.
    """
    for path in files_under(paths):
        try:
            if file_looks_like_zip(path):
                for name, member in zip_members(path):
                    yield path, f"{path}/{name}", member
                continue
            copy = incoming.copy_in(path)
        except (BadFileFormat, PayloadTooLarge) as exc:
            yield path, path, exc
            continue
        except OSError as exc:
            yield path, path, BadFileFormat(f"Cannot read the file: {exc.strerror}")
            continue
        try:
            yield path, path, copy
        finally:
            incoming.remove(copy)
