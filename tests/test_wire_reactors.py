"""The server's associations sleep until something arrives for them, and send every byte
through one locked Socket.send (dicomnet/wire/reactors.py)."""

import hashlib
import importlib
import inspect
import os
import re
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.transport import AssociationSocket

from dicomnet.wire import reactors
from explorer.config import env_bool
from tests.conftest import CT_SMALL, sample_path
from tests.dicom_peers import dcmtk, free_port, port_of

ROOT = Path(__file__).resolve().parent.parent

# Tests of what the fast paths do skip themselves in a run with PHAROS_FAST_PATHS=off (CI's
# second pass), where the server runs pynetdicom's own classes.
fast_paths_only = pytest.mark.skipif(
    not env_bool("PHAROS_FAST_PATHS", True), reason="PHAROS_FAST_PATHS=off: the stock library runs"
)


def voluntary_switches(thread):
    """How many times the thread has gone to sleep, from /proc."""
    status = open(f"/proc/self/task/{thread.native_id}/status").read()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


def wait_until(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


def open_association(server, ae_title="IDLER"):
    ae = AE(ae_title=ae_title)
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", port_of(server), ae_title="PHAROS")
    assert assoc.is_established
    wait_until(lambda: server.active_associations)
    return assoc


@fast_paths_only
def test_accepted_associations_are_the_waking_kind(dicom_server):
    requestor = open_association(dicom_server)
    try:
        (accepted,) = dicom_server.active_associations
        assert isinstance(accepted, reactors.Association)
        assert isinstance(accepted.dul, reactors.DUL)
        assert isinstance(accepted.dul.socket, reactors.Socket)
    finally:
        requestor.release()


@fast_paths_only
def test_an_idle_association_does_not_poll(dicom_server):
    """pynetdicom's reactors wake every millisecond: some 500 times in half a second each.
    These wake for the timers only, every IDLE_CHECK seconds."""
    requestor = open_association(dicom_server)
    try:
        (accepted,) = dicom_server.active_associations
        threads = [accepted, accepted.dul]
        before = [voluntary_switches(thread) for thread in threads]
        time.sleep(0.5)
        after = [voluntary_switches(thread) for thread in threads]
        turns = 0.5 / reactors.IDLE_CHECK
        for thread, start, end in zip(threads, before, after):
            assert end - start <= 3 * turns, f"{thread.name} woke {end - start} times"
        assert requestor.send_c_echo().Status == 0x0000
    finally:
        requestor.release()


def test_requests_releases_and_aborts_are_served_as_they_arrive(dicom_server):
    requestor = open_association(dicom_server)
    for _ in range(20):
        assert requestor.send_c_echo().Status == 0x0000
    requestor.release()
    assert requestor.is_released
    wait_until(lambda: not dicom_server.active_associations)

    aborting = open_association(dicom_server, "ABORTER")
    aborting.abort()
    wait_until(lambda: not dicom_server.active_associations)
    assert dcmtk("echoscu", "-aec", "PHAROS", "127.0.0.1", port_of(dicom_server)).returncode == 0


def test_the_timeouts_still_end_idle_connections_and_associations(transactional_db, settings):
    from dicomnet import scp
    from tests.dicom_peers import free_port

    settings.PHAROS_DICOM_SCP_TIMEOUT = 1
    server = scp.start(port=free_port(), host="127.0.0.1")
    try:
        requestor = open_association(server)
        wait_until(lambda: not server.active_associations)
        wait_until(lambda: not requestor.is_established)
        # A connection that never asks for an association is closed by the ARTIM timer.
        with socket.create_connection(("127.0.0.1", port_of(server))) as silent:
            silent.settimeout(10)
            assert silent.recv(1) == b""
    finally:
        server.shutdown()


def open_file_descriptors():
    return len(os.listdir("/proc/self/fd"))


@fast_paths_only
def test_the_wake_up_pipes_are_closed_when_associations_end(dicom_server):
    open_association(dicom_server).release()
    wait_until(lambda: not dicom_server.active_associations)
    before = open_file_descriptors()
    requestors = [open_association(dicom_server, f"SCU{n}") for n in range(5)]
    wait_until(lambda: len(dicom_server.active_associations) == 5)
    assert open_file_descriptors() > before
    for requestor in requestors:
        requestor.release()
    wait_until(lambda: not dicom_server.active_associations)
    wait_until(lambda: open_file_descriptors() == before)


@pytest.fixture
def connected_socket():
    """A reactors.Socket on one end of a connected pair; the test writes to the other end."""
    ours, theirs = socket.socketpair()
    assoc = reactors.Association(AE(), "acceptor")
    yield reactors.Socket(assoc, client_socket=ours), theirs
    ours.close()
    theirs.close()


def test_the_socket_reads_exactly_what_is_asked_across_writes(connected_socket):
    sock, peer = connected_socket
    data = os.urandom(300_000)

    def send_in_pieces():
        for start in range(0, len(data), 70_001):
            peer.sendall(data[start : start + 70_001])
            time.sleep(0.01)

    sender = threading.Thread(target=send_in_pieces)
    sender.start()
    first = sock.recv(6)
    rest = sock.recv(len(data) - 6)
    sender.join()
    assert bytes(first + rest) == data
    assert isinstance(rest, bytearray)


def test_the_socket_returns_what_arrived_when_the_peer_closes(connected_socket):
    sock, peer = connected_socket
    peer.sendall(b"only this")
    peer.close()
    assert sock.recv(100) == bytearray(b"only this")


def test_a_huge_announced_length_costs_only_what_arrives(connected_socket):
    """A PDU's length field comes from the peer: 4 GB announced, ten bytes sent."""
    import tracemalloc

    sock, peer = connected_socket
    peer.sendall(b"ten bytes!")
    peer.close()
    tracemalloc.start()
    try:
        assert sock.recv(2**32 - 1) == bytearray(b"ten bytes!")
        assert tracemalloc.get_traced_memory()[1] < 10_000_000
    finally:
        tracemalloc.stop()


def upstream(qualified_name):
    module_name, class_name, method_name = qualified_name.rsplit(".", 2)
    return getattr(getattr(importlib.import_module(module_name), class_name), method_name)


@pytest.mark.parametrize("qualified_name", sorted(reactors.UPSTREAM_SHA256))
def test_the_methods_copied_from_pynetdicom_are_still_the_installed_ones(qualified_name):
    source = inspect.getsource(upstream(qualified_name))
    assert hashlib.sha256(source.encode()).hexdigest() == reactors.UPSTREAM_SHA256[qualified_name], (
        f"{qualified_name} changed upstream: read it again and update dicomnet/wire/reactors.py"
    )


@pytest.fixture(params=[True, False], ids=["fast", "stock"])
def switched_server(request, transactional_db, settings):
    """Our DICOM server with PHAROS_FAST_PATHS on, then off."""
    from dicomnet import scp

    settings.PHAROS_FAST_PATHS = request.param
    server = scp.start(port=free_port(), host="127.0.0.1")
    yield server, request.param
    server.shutdown()


def test_our_association_classes_only_with_the_fast_paths(switched_server):
    from dicomnet.wire.server import SharedContexts

    server, fast = switched_server
    requestor = open_association(server)
    try:
        (accepted,) = server.active_associations
        assert isinstance(accepted, reactors.Association) is fast
        assert isinstance(accepted.dul, reactors.DUL) is fast
        assert isinstance(accepted.dul.socket, reactors.Socket) is fast
        assert isinstance(accepted, PynetdicomAssociation)
        assert isinstance(server.contexts, SharedContexts) is fast
        assert requestor.send_c_echo().Status == 0x0000
    finally:
        requestor.release()


def in_socket_send(thread):
    """Whether the thread waits inside Socket.send (for its send lock)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code is reactors.Socket.send.__code__:
            return True
        frame = frame.f_back
    return False


@fast_paths_only
def test_a_direct_response_waits_for_the_send_lock(dicom_server):
    """A C-STORE success is written by the handler's thread: while another write holds the
    association's send lock, it waits."""
    ae = AE(ae_title="LOCKED")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2")
    requestor = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    wait_until(lambda: dicom_server.active_associations)
    (accepted,) = dicom_server.active_associations
    with ThreadPoolExecutor(1) as pool:
        with accepted.dul.socket.send_lock:
            response = pool.submit(requestor.send_c_store, sample_path(CT_SMALL))
            wait_until(lambda: in_socket_send(accepted))
            assert not response.done()
        assert response.result(timeout=30).Status == 0x0000
    requestor.release()


class RecordingSocket:
    """A connected socket that notes, for every write, whether the send lock was held."""

    def __init__(self, connection, lock, notes):
        self.connection, self.lock, self.notes = connection, lock, notes

    def __getattr__(self, name):
        return getattr(self.connection, name)

    def send(self, data, *flags):
        self.notes.append(self.lock.locked())
        return self.connection.send(data, *flags)

    def sendall(self, data, *flags):
        self.notes.append(self.lock.locked())
        return self.connection.sendall(data, *flags)


@fast_paths_only
def test_every_write_to_an_association_holds_the_send_lock(dicom_server, monkeypatch):
    notes = []
    made = reactors.Socket.__init__

    def recording(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.socket = RecordingSocket(self.socket, self.send_lock, notes)

    monkeypatch.setattr(reactors.Socket, "__init__", recording)
    ae = AE(ae_title="WRITES")
    ae.add_requested_context("1.2.840.10008.1.1")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2")
    requestor = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")  # A-ASSOCIATE-AC
    assert requestor.send_c_echo().Status == 0x0000  # through pynetdicom's DIMSE
    assert requestor.send_c_store(sample_path(CT_SMALL)).Status == 0x0000  # written directly
    requestor.release()  # A-RELEASE-RP
    wait_until(lambda: not dicom_server.active_associations)
    assert len(notes) >= 4 and all(notes)


# Calls that write to a socket. An association's bytes leave through Socket.send alone.
WRITE_CALL = re.compile(r"[\w.()]*\.(?:send|sendall|sendmsg|sendto)\(")
ALLOWED_WRITES = {
    ("dicomnet/wire/reactors.py", "super().send("),  # Socket.send itself, under the lock
    ("dicomnet/wire/store_response.py", "dul.socket.send("),  # the association's Socket.send
    ("dicomnet/wire/pending.py", "self.dul.socket.send("),  # the same
    ("dicomnet/find.py", "responder.send("),  # PendingResponder.send, which buffers
    # DICOM TLS: the SSL socket beneath Socket.send, writing under its own lock.
    ("dicomnet/tls.py", "super().send("),
    ("dicomnet/tls.py", "super().sendall("),
}


def test_no_code_writes_to_a_socket_but_through_socket_send():
    found = set()
    for path in sorted((ROOT / "dicomnet").rglob("*.py")) + sorted((ROOT / "explorer").rglob("*.py")):
        for call in WRITE_CALL.findall(path.read_text()):
            found.add((str(path.relative_to(ROOT)), call))
    assert found <= ALLOWED_WRITES, found - ALLOWED_WRITES
    assert "self.send_lock" in inspect.getsource(reactors.Socket.send)
    assert AssociationSocket.send is not reactors.Socket.send
