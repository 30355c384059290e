"""Where files come from in bulk: ZIP archives and folder trees, as (name, bytes) pairs."""

import io
import os
import zipfile

from explorer.errors import BadFileFormat

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def looks_like_zip(head):
    return head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC)


def zip_members(source):
    """Yield (name, bytes) for each file in a ZIP given as bytes, a path or a file object."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadFileFormat(f"Cannot read the ZIP archive: {exc}") from exc
    with archive:
        for info in archive.infolist():
            if info.is_dir() or os.path.basename(info.filename).startswith("._"):
                continue
            try:
                yield info.filename, archive.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
                yield info.filename, BadFileFormat(f"Cannot extract this member of the ZIP archive: {exc}")


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
    """Yield (path, name, bytes) for every file under the paths, ZIP archives opened.

    `name` is the path, or `archive.zip/member` inside an archive. A value that
    cannot be read is yielded as the exception instead of bytes.
    """
    for path in files_under(paths):
        try:
            with open(path, "rb") as handle:
                head = handle.read(4)
            if looks_like_zip(head):
                for name, data in zip_members(path):
                    yield path, f"{path}/{name}", data
                continue
            with open(path, "rb") as handle:
                yield path, path, handle.read()
        except BadFileFormat as exc:
            yield path, path, exc
        except OSError as exc:
            yield path, path, BadFileFormat(f"Cannot read the file: {exc.strerror}")
