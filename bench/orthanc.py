"""Debian's Orthanc, started by the benchmarks beside Pharos when it is installed, so that
its figures are measured in the same run on the same files."""

import json
import subprocess
from pathlib import Path

from harness import DCMTK_ENV, Client, create_database, drop_database, free_port, stop_process, wait_for_port

MAX_PDU = 131072  # the largest Orthanc 1.10 accepts


PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc/plugins")


def postgresql_plugin():
    return plugin("libOrthancPostgreSQLIndex*.so*")


def plugin(pattern):
    """The path of an installed Orthanc plugin whose file name matches, or None."""
    for folder in PLUGIN_DIRS:
        for path in sorted(Path(folder).glob(pattern)) if Path(folder).is_dir() else ():
            return path
    return None


class Orthanc:
    """Debian's Orthanc with its own configuration, folders and ports (PostgreSQL index when
    the plugin is installed, SQLite otherwise), no authentication."""

    def __init__(self, binary, folder, log_path, db_name, modalities=None, plugins=(), config=None):
        self.binary = binary
        self.folder = Path(folder)
        self.log_path = Path(log_path)
        self.http_port = free_port()
        self.port = free_port()
        self.aet = "ORTHANC"
        self.plugin = postgresql_plugin()
        self.db_name = db_name if self.plugin else None
        self.modalities = modalities or {}
        self.extra_plugins = [str(p) for p in plugins]  # e.g. GDCM's, for JPEG 2000
        self.extra_config = config or {}
        self.process = None

    @property
    def pids(self):
        return [self.process.pid] if self.process else []

    @property
    def index(self):
        return "PostgreSQL" if self.plugin else "SQLite"

    @property
    def name(self):
        return f"Orthanc ({self.index})"

    def version(self):
        result = subprocess.run([self.binary, "--version"], capture_output=True, text=True)
        return (result.stdout or result.stderr).splitlines()[0].strip() if (result.stdout or result.stderr) else "?"

    def start(self):
        self.folder.mkdir(parents=True)
        config = {
            "Name": "bench",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "StorageCompression": False,
            "MaximumPduLength": MAX_PDU,
            "DicomModalities": self.modalities,
            "Plugins": [],
        }
        if self.plugin:
            create_database(self.db_name)
            config["Plugins"] = [str(self.plugin)]
            config["PostgreSQL"] = {
                "EnableIndex": True,
                "EnableStorage": False,
                "Host": "127.0.0.1",
                "Port": 5432,
                "Database": self.db_name,
                "Username": "postgres",
                "Password": "",
            }
        config["Plugins"] += self.extra_plugins
        config |= self.extra_config
        self.config_path.write_text(json.dumps(config, indent=2))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")  # a restart appends to this run's log
        self._launch()

    @property
    def config_path(self):
        return self.folder / "orthanc.json"

    def restart(self):
        """Stop and start again on the same index and storage (its caches lost)."""
        stop_process(self.process)
        self._launch()

    def _launch(self):
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [self.binary, str(self.config_path)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=DCMTK_ENV,  # Orthanc's DICOM sockets are DCMTK's: TCP_NODELAY=1 spares them Nagle's stalls
            )
        wait_for_port(self.http_port, self.process, self.name)
        wait_for_port(self.port, self.process, self.name)

    def stop(self):
        stop_process(self.process)
        if self.db_name:
            drop_database(self.db_name)

    def client(self):
        """A keep-alive HTTP client (Orthanc ignores its credentials: authentication is off)."""
        return Client(self.http_port, "bench", "bench")

    def count(self):
        client = self.client()
        try:
            return client.json("GET", "/statistics")["CountInstances"]
        finally:
            client.close()

    def clear(self):
        client = self.client()
        try:
            for patient in client.json("GET", "/patients"):
                client.json("DELETE", f"/patients/{patient}")
        finally:
            client.close()
