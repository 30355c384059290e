"""The storage area against the index: temporary files swept, orphans found.

A process killed while it writes (kill -9 of a web worker, a C-STORE cut off, a full disk)
leaves a temporary file behind: `.incoming-*` beside the stored files (explorer/storage.py
`write`) or a received file in `storage/incoming/`. `check()` removes those older than
TEMPORARY_AGE, and compares the stored files with the index:

- a file without an index row (an orphan: a process killed between writing the file and
  committing its row) is reported, and removed with `repair`;
- an index row whose file is missing (a file deleted by hand, a disk restored from an
  older copy) is reported, and with `repair` the instance is deleted from the index, as
  `DELETE /instances/{id}` would, since its data is gone.

Files younger than TEMPORARY_AGE are left alone either way: they may belong to a write in
progress, whose row is not committed yet. The files (sorted by name, one folder at a time)
and the rows (sorted by file UUID) are compared as two sorted streams, in bounded memory
whatever the size of the archive.

`manage.py start` calls `sweep()` before it starts the servers, and rq's cron scheduler
(explorer/cron.py) every SWEEP_SECONDS; `manage.py check_storage [--repair]` on demand.
"""

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.db import close_old_connections

from explorer import index, levels, storage
from explorer.models import Instance

logger = logging.getLogger(__name__)

TEMPORARY_PREFIX = ".incoming-"
TEMPORARY_AGE = 3600  # seconds
SWEEP_SECONDS = 3600
# Examples kept of each kind of finding, for the summary.
SHOWN = 10
HEX = set("0123456789abcdef")
# When the last sweep ran: the cron's first sweep, right after `manage.py start` swept, is skipped.
LAST_SWEEP_FILE = ".last-sweep"


@dataclass
class Finding:
    """How many of one kind were found, and the first few of them."""

    count: int = 0
    examples: list = field(default_factory=list)

    def add(self, example):
        self.count += 1
        if len(self.examples) < SHOWN:
            self.examples.append(example)


@dataclass
class Report:
    repaired: bool = False
    files: int = 0  # stored files seen
    rows: int = 0  # index rows seen
    temporaries: Finding = field(default_factory=Finding)  # removed
    orphan_files: Finding = field(default_factory=Finding)  # paths
    missing_files: Finding = field(default_factory=Finding)  # instance public ids

    @property
    def consistent(self):
        return not self.orphan_files.count and not self.missing_files.count

    def summary(self):
        """The report as lines of text."""
        lines = [f"Storage area {storage.root()}: {self.files} stored files, {self.rows} index rows."]
        hours = TEMPORARY_AGE // 3600
        sections = [
            (self.temporaries, f"Temporary files older than {hours} hour(s), removed", str),
            (
                self.orphan_files,
                "Files without an index row" + (", removed" if self.repaired else " (--repair removes them)"),
                str,
            ),
            (
                self.missing_files,
                "Index rows without a file"
                + (", deleted from the index" if self.repaired else " (--repair deletes them from the index)"),
                lambda example: "instance {} (file {})".format(*example),
            ),
        ]
        for finding, title, shown in sections:
            lines.append(f"{title}: {finding.count}")
            lines += [f"  {shown(example)}" for example in finding.examples]
            if finding.count > len(finding.examples):
                lines.append(f"  … and {finding.count - len(finding.examples)} more")
        return lines


def check(repair=False, now=None):
    """Sweep the old temporary files and compare the stored files with the index."""
    now = time.time() if now is None else now
    report = Report(repaired=repair)
    root = storage.root()
    if not root.is_dir():
        return report
    _sweep_incoming(root / "incoming", now, report)
    rows = _rows_by_file()
    row = next(rows, None)
    for path, file_uuid in _stored_files(root, now, report):
        report.files += 1
        while row is not None and row[0] < file_uuid:
            _missing(row, report, repair)
            row = next(rows, None)
        if row is not None and row[0] == file_uuid:
            report.rows += 1
            row = next(rows, None)
        else:
            _orphan(path, now, report, repair)
    while row is not None:
        _missing(row, report, repair)
        row = next(rows, None)
    return report


def sweep(now=None):
    """What runs at start and periodically: temporary files removed, orphans logged (not
    removed: that is for `check_storage --repair`, after a person has looked)."""
    started = time.monotonic()
    report = check(repair=False, now=now)
    _remember_sweep()
    if report.temporaries.count:
        logger.info("Removed %d temporary file(s) left in the storage area", report.temporaries.count)
    if not report.consistent:
        logger.warning(
            "The storage area and the index disagree: %d file(s) without an index row, %d row(s) without a file "
            "(manage.py check_storage shows them; --repair removes them)",
            report.orphan_files.count,
            report.missing_files.count,
        )
    logger.debug("Storage sweep: %s in %.1f s", report, time.monotonic() - started)
    return report


def periodic_sweep():
    """The RQ job of rq's cron scheduler."""
    close_old_connections()
    sweep_if_due()


def sweep_if_due():
    """A sweep, unless one ran within half the interval (the cron's first one comes right
    after `manage.py start` swept)."""
    marker = storage.root() / LAST_SWEEP_FILE
    try:
        if time.time() - marker.stat().st_mtime < SWEEP_SECONDS / 2:
            return
    except FileNotFoundError:
        pass
    sweep()


def _remember_sweep():
    try:
        (storage.root() / LAST_SWEEP_FILE).touch()
    except OSError:
        pass


def _is_old(path, now):
    try:
        return now - path.stat().st_mtime > TEMPORARY_AGE
    except FileNotFoundError:  # removed meanwhile: renamed into place, or swept by another
        return False


def _remove_temporary(path, now, report):
    if _is_old(path, now):
        path.unlink(missing_ok=True)
        report.temporaries.add(path)


def _sweep_incoming(folder, now, report):
    """Everything under storage/incoming older than TEMPORARY_AGE: files being received
    are moved out of it once complete."""
    if not folder.is_dir():
        return
    for dirpath, _, names in os.walk(folder):
        for name in names:
            _remove_temporary(Path(dirpath) / name, now, report)


def _hex_folders(folder):
    """The two-hex-digit folders of the storage layout (ab/cd/abcd….dcm), sorted."""
    try:
        entries = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []
    return [folder / name for name in entries if len(name) == 2 and set(name) <= HEX]


def _stored_files(root, now, report):
    """(path, file UUID as text) of the stored files, in the order of their UUIDs; old
    temporary files are removed on the way, and other strangers reported as orphans."""
    for top in _hex_folders(root):
        for folder in _hex_folders(top):
            try:
                names = sorted(entry.name for entry in os.scandir(folder) if entry.is_file(follow_symlinks=False))
            except FileNotFoundError:
                continue
            for name in names:
                path = folder / name
                if name.startswith(TEMPORARY_PREFIX):
                    _remove_temporary(path, now, report)
                    continue
                file_uuid = _uuid_of(name)
                if file_uuid is None or not file_uuid.startswith(top.name + folder.name):
                    _orphan(path, now, report, repair=False)
                else:
                    yield path, file_uuid


def _uuid_of(name):
    """The UUID (lowercase text) a stored file's name holds, or None."""
    if not name.endswith(".dcm"):
        return None
    try:
        parsed = uuid.UUID(name[: -len(".dcm")])
    except ValueError:
        return None
    text = str(parsed)
    return text if name == f"{text}.dcm" else None


def _rows_by_file():
    """(file UUID as text, public id) of every instance, in the order of their UUIDs
    (a UUID's text sorts as its bytes, which is how PostgreSQL and SQLite sort them)."""
    rows = Instance.objects.order_by("file_uuid").values_list("file_uuid", "public_id")
    for file_uuid, public_id in rows.iterator(chunk_size=2000):
        yield str(file_uuid), public_id


def _orphan(path, now, report, repair):
    if not _is_old(path, now):
        return
    report.orphan_files.add(path)
    if repair:
        path.unlink(missing_ok=True)


def _missing(row, report, repair):
    file_uuid, public_id = row
    if storage.path_for(file_uuid).exists():  # written since the folder was listed
        return
    instance = Instance.objects.filter(file_uuid=file_uuid).first()
    if instance is None:  # deleted since the rows were read
        return
    report.missing_files.add((public_id, file_uuid))
    if repair:
        logger.warning("Deleting instance %s from the index: its file %s is missing", public_id, file_uuid)
        index.delete(levels.INSTANCE, instance)
