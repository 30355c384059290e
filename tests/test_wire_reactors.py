"""The server's associations sleep until something arrives for them (dicomnet/wire/reactors.py)."""

import os
import socket
import threading
import time

import pytest
from pynetdicom import AE

from dicomnet.wire import reactors
from tests.dicom_peers import dcmtk, port_of


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


def test_accepted_associations_are_the_waking_kind(dicom_server):
    requestor = open_association(dicom_server)
    try:
        (accepted,) = dicom_server.active_associations
        assert isinstance(accepted, reactors.Association)
        assert isinstance(accepted.dul, reactors.DUL)
        assert isinstance(accepted.dul.socket, reactors.Socket)
    finally:
        requestor.release()


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
