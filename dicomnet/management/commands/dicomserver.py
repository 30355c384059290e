"""`manage.py dicomserver`: the DICOM SCP, until SIGTERM or SIGINT."""

import argparse
import signal
import socket
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dicomnet import scp
from explorer import logs
from explorer.processes import spawn


class Command(BaseCommand):
    help = "Run the DICOM server (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=None, help="default: PHAROS_DICOM_PORT")
        parser.add_argument(
            "--processes", type=int, default=None, help="processes sharing the port; default: PHAROS_DICOM_PROCESSES"
        )
        parser.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)

    def handle(self, *args, port=None, processes=None, listen_fd=None, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        processes = settings.PHAROS_DICOM_PROCESSES if processes is None else processes
        if listen_fd is not None:  # a helper, on its parent's socket
            listener, shared, processes = socket.socket(fileno=listen_fd), True, 1
        else:
            port = settings.PHAROS_DICOM_PORT if port is None else port
            try:
                listener = scp.listening_socket(port)
            except OSError as exc:
                raise CommandError(f"Cannot listen on the DICOM port {port}: {exc.strerror}") from exc
            shared = processes > 1
        # The helpers are copies of this command accepting on the same socket (one process
        # is bound by the GIL to about one core).
        fd = str(listener.fileno())
        helpers = [
            spawn(
                [sys.executable, "manage.py", "dicomserver", "--listen-fd", fd],
                cwd=settings.BASE_DIR,
                pass_fds=[listener.fileno()],
            )
            for _ in range(processes - 1)
        ]
        logs.follow()  # the level set through /tools/log-level, in this process too
        server = scp.start(listener=listener, shared=shared)
        self.stdout.write(f"DICOM server {settings.PHAROS_AET} on port {server.server_address[1]}")
        # The kernel may deliver SIGTERM to any thread, and Python runs the handler in the
        # main thread only once that thread wakes: a wait without a timeout could sleep through
        # it (seen when `manage.py start` was killed and its parent-death signal arrived).
        while not stop.wait(timeout=0.5):
            pass
        # shutdown() stops accepting, then waits for the open associations to end, so an
        # instance being received is stored (or refused) before the process exits.
        for helper in helpers:
            helper.terminate()
        server.shutdown()
        for helper in helpers:
            helper.wait(timeout=60)
        self.stdout.write("DICOM server stopped")
