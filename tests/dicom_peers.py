"""Real DICOM peers for tests: our SCP on a free port, DCMTK command-line tools, pynetdicom SCPs."""

import os
import random
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, AllStoragePresentationContexts, evt

from dicomnet.models import Modality
from tests.conftest import make_dicom, sample_path
from tests.tools import require_tool

DCMTK_ENV = dict(os.environ, TCP_NODELAY="1")


# Each test process (pytest-xdist's gw0, gw1, …) takes its ports from a range of its own, below
# the kernel's ephemeral ports: a port one process gives as "nothing listens there" is never
# one another process listens on.
PORTS_PER_PROCESS = 4000
_given = set()


def free_port():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = 10000 + (int(worker) if worker.isdigit() else 0) % 5 * PORTS_PER_PROCESS
    for port in random.sample(range(first, first + PORTS_PER_PROCESS), PORTS_PER_PROCESS):
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    if not _given:
        raise RuntimeError("no free port left in this test process's range")
    _given.clear()  # every port given once: ports closed since are free again
    return free_port()


def dcmtk(tool, *args, timeout=60):
    """Run a DCMTK tool; returns the CompletedProcess (stdout and stderr merged).
    A missing tool skips the test, or fails it under CI (tests/tools.py)."""
    require_tool(tool)
    return subprocess.run(
        [tool, *map(str, args)], env=DCMTK_ENV, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def dicom_server(transactional_db, settings):
    """Our DICOM server, running in this process on a free port."""
    from dicomnet import scp

    server = scp.start(port=free_port(), host="127.0.0.1")
    yield server
    server.shutdown()


def port_of(server):
    return server.server_address[1]


def modality(aet, port, **options):
    return Modality.objects.create(name=aet.lower(), aet=aet, host="127.0.0.1", port=port, **options)


def child_processes(parent):
    """{pid: command line as bytes} of the processes whose parent is `parent`, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent:
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
    return found


def wait_until(predicate, timeout, message, interval=0.05):
    """Poll `predicate` until it returns a true value (returned) or `timeout` seconds pass
    (an AssertionError saying `message`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{message} (after {timeout} s)"
        time.sleep(interval)


def listening(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port, process, timeout=10):
    """Wait until something listens on `port`; fail at once if `process` stops meanwhile."""

    def up():
        assert process.poll() is None, f"the peer stopped: {process.stdout.read() if process.stdout else ''}"
        return listening(port)

    wait_until(up, timeout, f"nothing listens on port {port}")


# --- Peers ------------------------------------------------------------------------------------


class Collector:
    """A pynetdicom storage SCP in a thread that accepts uncompressed little endian only."""

    def __init__(self):
        self.received = []  # (transfer syntax, data set)
        self.port = free_port()
        ae = AE(ae_title="COLLECTOR")
        ae.require_called_aet = True
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        handlers = [(evt.EVT_C_STORE, self.on_store)]
        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=handlers)

    def on_store(self, event):
        dataset = event.dataset  # read from the received file when our SCP made pynetdicom chunk
        dataset.file_meta = event.file_meta
        self.received.append((event.context.transfer_syntax, dataset))
        return 0x0000

    def by_uid(self):
        return {dataset.SOPInstanceUID: (syntax, dataset) for syntax, dataset in self.received}


@pytest.fixture
def collector():
    peer = Collector()
    yield peer
    peer.server.shutdown()


@pytest.fixture
def storescp(tmp_path):
    """DCMTK's storescp writing what it receives to a folder."""
    require_tool("storescp")
    folder = tmp_path / "storescp"
    folder.mkdir()
    port = free_port()
    process = subprocess.Popen(
        ["storescp", "-aet", "STORESCP", "-od", str(folder), str(port)],
        env=DCMTK_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_port(port, process)
    yield port, folder
    process.terminate()
    process.wait(timeout=10)


QR_CONFIG = """\
NetworkTCPPort  = {port}
MaxPDUSize      = 16384
MaxAssociations = 16

HostTable BEGIN
pharos = (PHAROS, 127.0.0.1, {pharos_port})
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
QRSCP  {folder}  RW  (200, 1024mb)  ANY
AETable END
"""

UTF8_PATIENT = "Müller^Jürgen"


@pytest.fixture
def dcmqrscp(tmp_path, dicom_server):
    """DCMTK's dcmqrscp as a remote PACS holding CT_small, MR_small and a UTF-8 patient;
    it knows our SCP as PHAROS, for moves. (Forking mode: single-process mode crashes
    after the first association.)"""
    require_tool("dcmqrscp")
    folder = tmp_path / "qrscp"
    folder.mkdir()
    port = free_port()
    config = tmp_path / "dcmqrscp.cfg"
    config.write_text(QR_CONFIG.format(port=port, pharos_port=port_of(dicom_server), folder=folder))
    process = subprocess.Popen(
        ["dcmqrscp", "-c", str(config), str(port)],
        env=DCMTK_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_port(port, process)
    utf8 = tmp_path / "utf8.dcm"
    utf8.write_bytes(make_dicom(SpecificCharacterSet="ISO_IR 192", PatientName=UTF8_PATIENT, PatientID="UTF8"))
    files = [sample_path("CT_small.dcm"), sample_path("MR_small.dcm"), utf8]
    loaded = dcmtk("storescu", "-aec", "QRSCP", "127.0.0.1", port, *files)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    yield modality("QRSCP", port)
    process.terminate()
    process.wait(timeout=10)


