"""A real Orthanc (Debian's packages orthanc, orthanc-dicomweb and orthanc-gdcm) for the tests
that talk to one: its DICOMweb plugin as the server Pharos's DICOMweb client sends to and
retrieves from, and Orthanc as a peer of Pharos and Pharos as a peer of Orthanc.

    with ReferenceOrthanc(tmp_path, {"OrthancPeers": {...}}) as orthanc:
        orthanc.url, orthanc.dicom_port, orthanc.get("/system")

Each one runs on free ports of this test process with its own folder and no authentication
unless `configuration` turns it on. A missing Orthanc skips the test, or fails it under CI.
"""

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.dicom_peers import free_port
from tests.tools import require_tool

ORTHANC = "/usr/sbin/Orthanc"
PLUGINS = Path("/usr/share/orthanc/plugins")
PLUGIN_FILES = ("libOrthancDicomWeb.so", "libOrthancGdcm.so")


class ReferenceOrthanc:
    def __init__(self, folder, configuration=None, aet="ORTHANC"):
        require_tool(ORTHANC)
        self.folder = Path(folder)
        self.http_port, self.dicom_port, self.aet = free_port(), free_port(), aet
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.credentials = None
        plugins = self.folder / "plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        for name in PLUGIN_FILES:
            if (PLUGINS / name).exists() and not (plugins / name).exists():
                (plugins / name).symlink_to(PLUGINS / name)
        options = {
            "Name": "reference",
            "StorageDirectory": str(self.folder / "db"),
            "IndexDirectory": str(self.folder / "db"),
            "Plugins": [str(plugins)],
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": aet,
            "RemoteAccessAllowed": True,
            "AuthenticationEnabled": False,
            "DicomModalities": {},
            "StableAge": 5,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        options.update(configuration or {})
        users = options.get("RegisteredUsers")
        if options.get("AuthenticationEnabled") and users:
            self.credentials = next(iter(users.items()))
        (self.folder / "orthanc.json").write_text(json.dumps(options, indent=2))
        self.log_path = self.folder / "orthanc.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [ORTHANC, str(self.folder / "orthanc.json")], stdout=self._log, stderr=subprocess.STDOUT
        )
        self._await_start()

    def _await_start(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc stopped at start:\n{self.log()}")
            try:
                self.get("/system")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer in {timeout} s:\n{self.log()}")

    def request(self, path, method="GET", data=None, headers=None):
        """(status, headers, body) of one request to this Orthanc's REST API."""
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if self.credentials:
            token = base64.b64encode(":".join(self.credentials).encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def get(self, path):
        """The JSON answer of a GET that succeeds."""
        status, _, body = self.request(path)
        if status != 200:
            raise AssertionError(f"GET {path} on Orthanc answered {status}: {body[:500]!r}")
        return json.loads(body)

    def post(self, path, body, content_type="application/json"):
        """(status, JSON or raw answer) of a POST; a dict or list body is sent as JSON."""
        data = json.dumps(body).encode() if isinstance(body, dict | list) else body
        status, _, answer = self.request(path, "POST", data, {"Content-Type": content_type})
        try:
            return status, json.loads(answer)
        except ValueError:
            return status, answer

    def upload(self, data):
        """Store a DICOM file's bytes in this Orthanc; its answer (ID, ParentStudy, …)."""
        status, answer = self.post("/instances", data, "application/dicom")
        assert status == 200, answer
        return answer

    def log(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
