"""Files being received, kept in the storage area's incoming folder until they are stored.

A body, a part of a multipart body, a ZIP member or a file being imported is written here
in chunks, never held whole in memory, then moved into place by
ingest.store_instance_file (same file system: a rename, no copy). Whatever is not moved is
removed: by the code that made it when it fails (try/finally), and, as a last resort, when
the request that made it ends (removed_at_end, which explorer.bodies' middleware opens
around every request): a client that goes away in the middle of a body leaves nothing.
"""

import contextlib
import contextvars
import hashlib
import os

from explorer import dicom, storage
from explorer.errors import StorageFailure

CHUNK = 1 << 20
PREFIX = "upload-"
# A received file this small is kept in memory too, as ReceivedPath.data: it is parsed from
# there instead of being read back from the file.
KEPT_IN_MEMORY = 1 << 20

# The files made during the current request, removed when it ends (None: no request).
_made_here = contextvars.ContextVar("incoming_files", default=None)


def new_file():
    """(an open binary file, its path): a new empty file in the incoming folder."""
    try:
        fd, path = storage.new_temporary(storage.incoming_dir(), PREFIX)
    except OSError as exc:
        raise StorageFailure(f"Cannot create a file in the storage area: {exc.strerror}") from exc
    made = _made_here.get()
    if made is not None:
        made.add(path)
    return os.fdopen(fd, "w+b"), path


def remove(path):
    # Most often already moved into place: the plain call spares pathlib's work per upload.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class ReceivedPath(str):
    """The path of a file written here, with the MD5 of its bytes (hex), taken as they were
    written, and the bytes themselves when there are at most KEPT_IN_MEMORY of them (else
    None): ingest.store_instance_file need not read the file again for either."""

    md5 = None
    data = None


def write_chunks(chunks, keep=False):
    """The path of a new file holding the chunks, written as they come; removed if they fail.
    With `keep` its bytes are also kept in memory (ReceivedPath.data) when there are few: for a
    file stored before the next is received, never for files gathered in a list."""
    out, path = new_file()
    digest = hashlib.md5()
    kept, size = ([] if keep else None), 0
    try:
        for chunk in chunks:
            _write(out, chunk)
            digest.update(chunk)
            size += len(chunk)
            if size > KEPT_IN_MEMORY:
                kept = None
            elif kept is not None:
                kept.append(chunk)
        _close(out)
    except BaseException:
        _abandon(out, path)
        raise
    received = ReceivedPath(path)
    received.md5 = digest.hexdigest()
    received.data = b"".join(kept) if kept is not None else None
    return received


def receive(read):
    """The path of a new file holding everything `read(size)` gives until it gives b"" (kept
    in memory too when small: each caller stores it before it receives another)."""
    return write_chunks(iter(lambda: read(CHUNK), b""), keep=True)


def copy_in(source_path):
    """A copy of a file from elsewhere (the import command's), made in chunks."""
    with open(source_path, "rb") as source:
        return receive(source.read)


def as_part10(path):
    """The path of the file as a Part 10 file: itself when it is one; otherwise a new file,
    the header dicom.part10_header makes then the data set copied in chunks, and the old one
    removed. Raises BadFileFormat when it holds no data set."""
    data = getattr(path, "data", None)
    if data is not None and dicom.is_part10(data[:132]):
        return path
    with open(path, "rb") as source:
        head = source.read(132)
        if not head or dicom.is_part10(head):
            return path
        header, start = dicom.part10_header(source, os.path.getsize(path))
        source.seek(start)
        out, converted = new_file()
        try:
            _write(out, header)
            for chunk in iter(lambda: source.read(CHUNK), b""):
                _write(out, chunk)
            _close(out)
        except BaseException:
            _abandon(out, converted)
            raise
    remove(path)
    return converted


def _write(out, data):
    try:
        out.write(data)
    except OSError as exc:
        raise StorageFailure(f"Cannot write the file to the storage area: {exc.strerror}") from exc


def _abandon(out, path):
    with contextlib.suppress(OSError):  # the error that brought us here is the one to tell
        out.close()
    remove(path)


def _close(out):
    try:
        out.close()
    except OSError as exc:  # the last buffered bytes did not fit
        raise StorageFailure(f"Cannot write the file to the storage area: {exc.strerror}") from exc


@contextlib.contextmanager
def removed_at_end():
    """Remove, when the block ends, every file new_file() made inside it and left behind."""
    made = set()
    token = _made_here.set(made)
    try:
        yield made
    finally:
        _made_here.reset(token)
        for path in made:
            remove(path)
