"""The DICOM server under abuse (dicomnet/limits.py): connections that never associate are
closed (ARTIM) and keep no one out; associations are bounded in all and per calling AE title,
over every process sharing the port."""

import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from dicomnet import limits
from tests.dicom_peers import dcmtk, port_of, wait_until
from tests.pharos_server import Server

ROOT = Path(__file__).resolve().parent.parent
LOCAL_LIMIT_EXCEEDED = (0x02, 0x03, 0x02)  # rejected-transient, service-provider (presentation), reason 2


def associate(port, aet):
    ae = AE(ae_title=aet)
    ae.acse_timeout = ae.network_timeout = 30
    ae.add_requested_context(Verification)
    return ae.associate("127.0.0.1", port, ae_title="PHAROS")


def rejection(assoc):
    """(result, source, reason) of an A-ASSOCIATE-RJ, None when the association was not rejected."""
    if not assoc.is_rejected:
        return None
    answer = assoc.acceptor.primitive
    return answer.result, answer.result_source, answer.diagnostic


def closed_by_the_server(connection, seconds=30):
    """Whether the server closes this connection within `seconds` (a read then ends)."""
    connection.settimeout(seconds)
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# --- ARTIM ---------------------------------------------------------------------------------


def test_idle_connections_keep_no_peer_out_and_are_closed(dicom_server, settings):
    settings.PHAROS_DICOM_ASSOCIATION_TIMEOUT = 2
    port = port_of(dicom_server)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(150)]
    try:
        # A real peer is served meanwhile (more idle connections than PHAROS_DICOM_MAX_ASSOCIATIONS).
        result = dcmtk("echoscu", "-to", "20", "-ta", "20", "-td", "20", "-aec", "PHAROS", "127.0.0.1", port)
        assert result.returncode == 0, result.stdout + result.stderr
        assoc = associate(port, "ECHOER")
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        assert closed_by_the_server(idle[0])
        assert closed_by_the_server(idle[-1])
    finally:
        for connection in idle:
            connection.close()


def test_a_connection_stalled_inside_its_first_pdu_is_closed(dicom_server, settings):
    """A peer that sends part of an A-ASSOCIATE-RQ and stops is closed all the same
    (pynetdicom's own ARTIM timer is not checked while its DUL thread waits for the rest)."""
    settings.PHAROS_DICOM_ASSOCIATION_TIMEOUT = 1
    with socket.create_connection(("127.0.0.1", port_of(dicom_server))) as connection:
        connection.sendall(b"\x01\x00\x00\x00\x01\x00" + b"\x00\x01" + b"\x00" * 10)  # 256 bytes announced
        assert closed_by_the_server(connection)
    result = dcmtk("echoscu", "-aec", "PHAROS", "127.0.0.1", port_of(dicom_server))
    assert result.returncode == 0, result.stdout + result.stderr


# --- bounds --------------------------------------------------------------------------------


def test_associations_past_a_bound_are_rejected_and_the_others_keep_working(dicom_server, settings):
    settings.PHAROS_DICOM_MAX_ASSOCIATIONS = 3
    settings.PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE = 2
    port = port_of(dicom_server)
    held = [associate(port, "MODALITY_A"), associate(port, "MODALITY_A")]
    try:
        assert all(assoc.is_established for assoc in held)
        assert rejection(associate(port, "MODALITY_A")) == LOCAL_LIMIT_EXCEEDED  # per AE title
        held.append(associate(port, "MODALITY_B"))
        assert held[-1].is_established
        assert rejection(associate(port, "MODALITY_C")) == LOCAL_LIMIT_EXCEEDED  # in all
        result = dcmtk("echoscu", "-aet", "MODALITY_D", "-aec", "PHAROS", "127.0.0.1", port)
        assert result.returncode != 0 and "Local Limit Exceeded" in result.stdout + result.stderr
        assert [assoc.send_c_echo().Status for assoc in held] == [0, 0, 0]
        held.pop(0).release()

        def admitted():
            assoc = associate(port, "MODALITY_C")
            if assoc.is_established:
                held.append(assoc)
            return assoc.is_established

        wait_until(admitted, 10, "the slot of a released association was not given back")
    finally:
        for assoc in held:
            assoc.release()


def test_a_slot_is_shared_by_processes_and_freed_when_its_process_is_killed(tmp_path):
    path = str(tmp_path / "slots.lock")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, threading, time\n"
            "from dicomnet.limits import Slots\n"
            "assert Slots(sys.argv[1]).take(range(1), threading.current_thread()) == 0\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
            path,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        here = limits.Slots(path)
        me = threading.current_thread()
        assert here.take(range(1), me) is None
        assert here.take(range(2), me) == 1
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        assert wait_until(lambda: here.take(range(1), me) == 0, 10, "the killed process's slot stayed taken")
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """`manage.py start` with two DICOM server processes and small bounds."""
    server = Server(
        tmp_path_factory.mktemp("limits"),
        "password",
        PHAROS_DICOM_PROCESSES="2",
        PHAROS_DICOM_MAX_ASSOCIATIONS="3",
        PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE="2",
    )
    yield server
    server.stop()


def test_the_bounds_hold_over_the_processes_sharing_the_port(two_processes):
    port = two_processes.dicom_port
    with ThreadPoolExecutor(4) as pool:  # arriving together: the processes share them
        first = list(pool.map(lambda _: associate(port, "MODALITY_A"), range(4)))
    held = [assoc for assoc in first if assoc.is_established]
    try:
        assert len(held) == 2
        assert [rejection(assoc) for assoc in first if not assoc.is_established] == [LOCAL_LIMIT_EXCEEDED] * 2
        held.append(associate(port, "MODALITY_B"))
        assert held[-1].is_established
        assert rejection(associate(port, "MODALITY_C")) == LOCAL_LIMIT_EXCEEDED
        assert [assoc.send_c_echo().Status for assoc in held] == [0, 0, 0]
    finally:
        for assoc in held:
            assoc.release()
