"""`manage.py install_viewer`: fetch the OHIF viewer once with npm (explorer/viewer_files.py).

Already installed: nothing is done. npm missing or the registry out of reach: one line says
the viewer is left out, and the exit code is still 0, so that `make run` and `make test` go on
with everything else."""

from django.core.management.base import BaseCommand

from explorer import viewer_files


class Command(BaseCommand):
    help = "Fetch the OHIF viewer (npm pack @ohif/app) into the data folder, once."

    def handle(self, *args, **options):
        try:
            self.stdout.write(viewer_files.install())
        except viewer_files.InstallFailed as reason:
            self.stdout.write(f"The OHIF viewer is left out (/viewer/ will say so): {reason}")
