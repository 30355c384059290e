"""Real parts that fail on demand: a PostgreSQL cluster and a Redis of the test's own, which it
stops and starts again, and a small tmpfs that fills up.

The suite's shared PostgreSQL and Redis are never stopped: other tests (and other suites on the
same machine) use them. A private cluster costs about two seconds to create. A tmpfs needs root
and mount(8): without them the test is skipped on a developer's machine and fails under CI,
where `.ci/run` runs as root.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.dicom_peers import free_port
from tests.tools import under_ci

POSTGRES_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def _missing(message):
    if under_ci():
        pytest.fail(f"{message}: CI must provide it (.ci/run)", pytrace=False)
    pytest.skip(message)


def _as_postgres(command):
    """PostgreSQL refuses to run as root: its programs run as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary folder, on a free port, that a test may stop."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.data = self.folder / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        subprocess.run(
            _as_postgres([str(POSTGRES_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]),
            check=True,
            capture_output=True,
        )

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self):
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "log")
        subprocess.run(
            _as_postgres([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"]),
            check=True,
            capture_output=True,
        )

    def stop(self):
        """Stopped at once (fast mode): open connections are cut, as when the server dies."""
        subprocess.run(
            _as_postgres([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )


@contextlib.contextmanager
def private_postgres():
    """A running PrivatePostgres, removed at the end."""
    if POSTGRES_BIN is None:
        _missing("PostgreSQL's server programs are not installed (Debian package postgresql)")
    folder = tempfile.mkdtemp(prefix="pharos-pg-")
    os.chmod(folder, 0o755)
    cluster = PrivatePostgres(folder)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


class PrivateRedis:
    """redis-server on a free port, keeping nothing on disk, that a test may stop and start."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server")
        if binary is None:
            _missing("redis-server is not installed (Debian package redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        import redis

        while True:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def private_redis():
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def small_tmpfs(size="8m"):
    """A tmpfs of `size` mounted on a temporary folder (root only), unmounted at the end."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        _missing("mounting a tmpfs needs root")
    folder = tempfile.mkdtemp(prefix="pharos-tmpfs-")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder], capture_output=True)
    if result.returncode != 0:
        os.rmdir(folder)
        _missing(f"cannot mount a tmpfs: {result.stderr.decode(errors='replace').strip()}")
    try:
        yield Path(folder)
    finally:
        subprocess.run(["umount", "-l", folder], check=False)
        os.rmdir(folder)
