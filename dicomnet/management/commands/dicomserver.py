"""`manage.py dicomserver`: the DICOM SCP, until SIGTERM or SIGINT."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from dicomnet import scp


class Command(BaseCommand):
    help = "Run the DICOM server (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=None, help="default: PHAROS_DICOM_PORT")

    def handle(self, *args, port=None, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        server = scp.start(port=port)
        self.stdout.write(f"DICOM server {settings.PHAROS_AET} on port {server.server_address[1]}")
        stop.wait()
        # shutdown() stops accepting, then waits for the open associations to end, so an
        # instance being received is stored (or refused) before the process exits.
        server.shutdown()
        self.stdout.write("DICOM server stopped")
