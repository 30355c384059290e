"""`manage.py install_viewer [--from ARCHIVE]`: fetch the OHIF viewer once with npm (explorer/viewer_files.py).

Already installed: nothing is done. npm missing or the registry out of reach: one line says
the viewer is left out, and the exit code is still 0, so that `make run` and `make test` go on
with everything else. A machine without the registry installs from an archive of @ohif/app
copied to it (--from)."""

from django.core.management.base import BaseCommand

from explorer import viewer_files


class Command(BaseCommand):
    help = "Fetch the OHIF viewer (npm pack @ohif/app) into the data folder, once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="source",
            default=None,
            help=f"what npm pack is given instead of {viewer_files.PACKAGE}@{viewer_files.VERSION}: "
            "a .tgz of the package, or its folder",
        )

    def handle(self, *args, source, **options):
        try:
            self.stdout.write(viewer_files.install(source))
        except viewer_files.InstallFailed as reason:
            self.stdout.write(f"The OHIF viewer is left out (/viewer/ will say so): {reason}")
