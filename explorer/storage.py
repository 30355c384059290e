"""The file area: DICOM files kept byte-for-byte under DATA_DIR/storage.

A file is named by a random UUID, as Orthanc does (`ab/cd/abcd….dcm`), so that no
value from a request or a DICOM header ever becomes part of a path.
"""

import functools
import os
import uuid
from pathlib import Path

from django.conf import settings

from explorer.errors import StorageFailure


def root():
    return Path(settings.STORAGE_DIR)


def path_for(file_uuid):
    name = str(uuid.UUID(str(file_uuid)))  # refuses anything that is not a UUID
    return root() / name[:2] / name[2:4] / f"{name}.dcm"


_known_folders = set()


def _ensure_folder(path, again=False):
    # 65,536 folders at most: remembering them saves two system calls per file.
    if again or path not in _known_folders:
        path.mkdir(parents=True, exist_ok=True)
        _known_folders.add(path)


# A new file of our own, never one that exists: a random name, created exclusively.
_NEW_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def new_temporary(folder, prefix=".incoming-"):
    """(fd, path) of a new empty file in one of the storage area's folders, readable by its
    owner alone (as tempfile.mkstemp makes it; a UUID names it, which costs less than
    tempfile's name generator on the path of every arriving instance)."""
    path = os.path.join(folder, f"{prefix}{uuid.uuid4().hex}")
    try:
        return os.open(path, _NEW_FILE_FLAGS, 0o600), path
    except FileNotFoundError:  # the folder was removed since we made it
        _ensure_folder(Path(folder), again=True)
        return os.open(path, _NEW_FILE_FLAGS, 0o600), path


def _fsync(path):
    """fsync a file or a folder (its names) by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(data):
    """Write bytes atomically (temporary file, fsync, rename) and return the new file's UUID."""
    file_uuid = uuid.uuid4()
    target = path_for(file_uuid)
    try:
        _ensure_folder(target.parent)
        fd, temporary = new_temporary(target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync(target.parent)
    except OSError as exc:
        raise StorageFailure(f"Cannot write the file to the storage area: {exc.strerror}") from exc
    return file_uuid


def adopt(source_path):
    """Move a complete file already written under the storage area into place (no copy),
    then make it and its name durable: the caller indexes it only after this returns.

    The file is renamed before its fsync, not after: on a journalling file system (ext4,
    XFS) the fsync then commits the new name in the same journal transaction as the
    content, and the folder's fsync finds nothing left to wait for; one disk flush per
    file instead of two. Until the fsync returns nothing refers to the file, so a crash
    between the two leaves at most an unindexed file, as a crash before the index's commit
    always could (manage.py check_storage reports it)."""
    file_uuid = uuid.uuid4()
    target = path_for(file_uuid)
    try:
        _move(source_path, target)
    except OSError as exc:
        raise StorageFailure(f"Cannot move the file into the storage area: {exc.strerror}") from exc
    try:
        _fsync(target)
        _fsync(target.parent)
    except BaseException as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StorageFailure(f"Cannot write the file to the storage area: {exc.strerror}") from exc
        raise
    return file_uuid


def _move(source_path, target):
    try:
        os.replace(source_path, target)
    except FileNotFoundError:
        if not os.path.exists(source_path):
            raise
        # The target's folder is new, or was removed since we made it.
        _ensure_folder(target.parent, again=True)
        os.replace(source_path, target)


def read(file_uuid):
    return path_for(file_uuid).read_bytes()


def open_file(file_uuid):
    return open(path_for(file_uuid), "rb")


# What is derived from a stored file and cached beside the storage area, named by the file's
# UUID (explorer/dicomweb/metadata.py): it goes when the file goes.
DERIVED_KINDS = ("dicomweb-metadata",)


def derived_path(kind, file_uuid):
    """Where a cache of `kind` keeps what it derives from a stored file: cache/<kind>/ab/….json
    beside the storage area (DATA_DIR/cache by default)."""
    name = str(uuid.UUID(str(file_uuid)))
    return derived_root(kind) / name[:2] / f"{name}.json"


def derived_root(kind):
    """The folder of a cache of `kind`: cache/<kind>/ beside the storage area."""
    return _derived_root(settings.STORAGE_DIR, kind)


@functools.cache
def _derived_root(storage_dir, kind):
    # Asked at every arrival (the DICOMweb metadata cache): made once per storage area.
    return Path(storage_dir).parent / "cache" / kind


def delete(file_uuid):
    path_for(file_uuid).unlink(missing_ok=True)
    # After the file: a cache entry written meanwhile sees the file gone and removes itself.
    for kind in DERIVED_KINDS:
        derived_path(kind, file_uuid).unlink(missing_ok=True)


def incoming_dir():
    """A folder on the same file system as the store, for files being received."""
    path = root() / "incoming"
    _ensure_folder(path)
    return path
