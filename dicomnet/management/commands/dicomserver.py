"""`manage.py dicomserver`: the DICOM SCP, until SIGTERM or SIGINT."""

import signal
import subprocess
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from dicomnet import scp


class Command(BaseCommand):
    help = "Run the DICOM server (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=None, help="default: PHAROS_DICOM_PORT")
        parser.add_argument(
            "--processes", type=int, default=None, help="processes sharing the port; default: PHAROS_DICOM_PROCESSES"
        )

    def handle(self, *args, port=None, processes=None, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        processes = settings.PHAROS_DICOM_PROCESSES if processes is None else processes
        # The others are copies of this command on the same port (one process is bound by
        # the GIL to about one core).
        helpers = [
            subprocess.Popen([sys.executable, "manage.py", "dicomserver", "--processes", "1"]
                             + (["--port", str(port)] if port else []), cwd=settings.BASE_DIR)
            for _ in range(processes - 1)
        ]
        server = scp.start(port=port)
        self.stdout.write(f"DICOM server {settings.PHAROS_AET} on port {server.server_address[1]}")
        stop.wait()
        # shutdown() stops accepting, then waits for the open associations to end, so an
        # instance being received is stored (or refused) before the process exits.
        for helper in helpers:
            helper.terminate()
        server.shutdown()
        for helper in helpers:
            helper.wait(timeout=60)
        self.stdout.write("DICOM server stopped")
