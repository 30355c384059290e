"""`manage.py import PATH…`: store files, folders (recursively) and ZIP archives through the one ingest funnel.

Each file is copied in chunks into the storage area's incoming folder, and each ZIP member
expanded there in chunks within the ZIP limits (explorer/sources.py), then moved into
place: no file is read whole in memory.

What a file warns of (a rejection, a duplicate, a warning pydicom or the server logs while
reading it) is printed once, above the progress bar, as it happens; the counts follow on
standard output."""

import contextlib
import logging
import os
import warnings
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from explorer import sources
from explorer.errors import PharosError
from explorer.ingest import ALREADY_STORED, Origin
from explorer.uploads import store_received_file

NAMED_FILES_KEPT = 100_000


class Report:
    """Lines written above the progress bar (tqdm clears it, writes, draws it again), each
    text once: pydicom says the same thing as a log record and as a Python warning, and
    again for every file that has the same fault."""

    def __init__(self, stream, bar):
        self.stream, self.bar = stream, bar  # the raw stream the bar draws on
        self.current = ""  # the file being read, whose name a warning is given with
        self.seen, self.repeated = set(), 0

    def line(self, text):
        if self.bar.disable:
            self.stream.write(text + "\n")
        else:
            tqdm.write(text, file=self.stream)

    def warn(self, text):
        text = " ".join(str(text).split())
        if text in self.seen:
            self.repeated += 1
            return
        self.seen.add(text)
        self.line(f"warning {self.current}: {text}" if self.current else f"warning: {text}")


class ToReport(logging.Handler):
    def __init__(self, report):
        super().__init__(logging.WARNING)
        self.report = report

    def emit(self, record):
        self.report.warn(record.getMessage())


@contextlib.contextmanager
def warnings_to(report):
    """Log records of WARNING and above, and Python warnings, go to the report while the
    import runs; the log's own handlers are set aside meanwhile (they would write through
    the bar) and lesser records, which concern the server's own workings, are left out."""
    root = logging.getLogger()
    handlers = root.handlers[:]
    root.handlers = [ToReport(report)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *args, **kwargs: report.warn(message)
            yield
    finally:
        root.handlers = handlers


class Command(BaseCommand):
    help = "Import DICOM files, folders (recursively) and ZIP archives."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="files, folders or ZIP archives")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, paths, quiet, **options):
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise CommandError("No such file or folder: " + ", ".join(missing))
        files = list(sources.files_under(paths))
        # The stream itself, not Django's OutputWrapper: that one ends every write with a new
        # line (and colours it), which would print each step of the bar on a line of its own.
        stream = getattr(self.stderr, "_out", self.stderr)
        with tqdm(total=len(files), unit="file", disable=quiet, file=stream) as bar:
            report = Report(stream, bar)
            with warnings_to(report):
                counts = self.import_files(files, bar, report)
        self.stdout.write(
            f"Stored: {counts['Success']}, already stored: {counts['AlreadyStored']}, rejected: {counts['Rejected']}"
        )
        if report.repeated:
            self.stdout.write(f"{report.repeated} repeated warning(s) not shown again")
        if counts["Rejected"]:
            raise CommandError(f"{counts['Rejected']} file(s) were rejected", returncode=2)

    def import_files(self, files, bar, report):
        counts, origin = Counter(), Origin(kind="Import")
        # instance public id -> the file of this import that brought it, for the last
        # NAMED_FILES_KEPT files: memory stays bounded on an archive of millions. A copy of an
        # instance brought further back counts as already stored, unnamed.
        first_named = {}
        last_path = None
        for path, name, received in sources.read_files(files):
            report.current = name
            try:
                if isinstance(received, PharosError):
                    raise received
                result = store_received_file(received, origin)
            except PharosError as error:
                report.line(f"rejected {name}: {error.details or error.message}")
                counts["Rejected"] += 1
            else:
                counts[result.status] += 1
                first = first_named.setdefault(result.ids[3], name)
                if len(first_named) > NAMED_FILES_KEPT:
                    del first_named[next(iter(first_named))]  # the oldest
                if result.status == ALREADY_STORED and first != name:
                    report.line(f"duplicate {name}: the same instance as {first}, stored once")
            if path != last_path:
                bar.update(1)
                last_path = path
        report.current = ""
        return counts
