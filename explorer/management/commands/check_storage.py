"""`manage.py check_storage [--repair]`: the storage area against the index (explorer/storage_check.py).

Old temporary files are removed in any case; files without an index row and rows without a
file are listed, and removed with --repair. The exit code is 1 when the two disagree and
nothing was repaired, for a monitoring script."""

from django.core.management.base import BaseCommand

from explorer import storage_check


class Command(BaseCommand):
    help = "Compare the storage area with the index; remove old temporary files (and, with --repair, orphans)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--repair",
            action="store_true",
            help="remove files without an index row, and delete from the index the instances whose file is missing",
        )

    def handle(self, *args, repair, **options):
        report = storage_check.check(repair=repair)
        for line in report.summary():
            self.stdout.write(line)
        if not report.consistent and not repair:
            raise SystemExit(1)
