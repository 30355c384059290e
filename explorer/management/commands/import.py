"""`manage.py import PATH…`: store files, folders (recursively) and ZIP archives through the one ingest funnel.

Each file is copied in chunks into the storage area's incoming folder, and each ZIP member
expanded there in chunks within the ZIP limits (explorer/sources.py), then moved into
place: no file is read whole in memory."""

import os
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from explorer import sources
from explorer.errors import PharosError
from explorer.ingest import Origin
from explorer.uploads import store_received_file


class Command(BaseCommand):
    help = "Import DICOM files, folders (recursively) and ZIP archives."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="files, folders or ZIP archives")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, paths, quiet, **options):
        counts, rejected = Counter(), []
        origin = Origin(kind="Import")
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise CommandError("No such file or folder: " + ", ".join(missing))
        files = list(sources.files_under(paths))
        with tqdm(total=len(files), unit="file", disable=quiet, file=self.stderr) as bar:
            last_path = None
            for path, name, received in sources.read_files(files):
                try:
                    if isinstance(received, PharosError):
                        raise received
                    counts[store_received_file(received, origin).status] += 1
                except PharosError as error:
                    rejected.append((name, error.details or error.message))
                    counts["Rejected"] += 1
                if path != last_path:
                    bar.update(1)
                    last_path = path
        self.stdout.write(
            f"Stored: {counts['Success']}, already stored: {counts['AlreadyStored']}, rejected: {counts['Rejected']}"
        )
        for name, reason in rejected:
            self.stdout.write(f"  rejected {name}: {reason}")
        if rejected:
            raise CommandError(f"{len(rejected)} file(s) were rejected", returncode=2)
