"""Associations kept open after an operation (Orthanc's DicomAssociationCloseDelay), against
a pynetdicom peer that counts the associations it is asked for and how each one ends."""

import json
import threading

import pytest
from django.db import transaction
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, AllStoragePresentationContexts, build_context, evt
from pynetdicom.sop_class import Verification

from dicomnet import jobs, scu
from dicomnet.contexts import UNCOMPRESSED
from dicomnet.models import Job
from dicomnet.scu import pool
from dicomnet.scu.association import Session
from explorer.ingest import Origin, store_instance
from tests.conftest import dicom_bytes, run_queued_jobs
from tests.dicom_peers import free_port, modality, wait_until
from tests.pharos_server import Server, own_database, request

WAIT = 20  # seconds: a deadline for polls, never a pause


class CountingPeer:
    """A verification and storage SCP that records each association request and its end."""

    def __init__(self, on_echo=None):
        self.port = free_port()
        self.ends = {"requested": [], "released": [], "aborted": []}  # appended from the peer's threads
        self.on_echo = on_echo
        ae = AE(ae_title="COUNTER")
        ae.add_supported_context(Verification, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        handlers = [
            (evt.EVT_REQUESTED, self.ends["requested"].append),
            (evt.EVT_RELEASED, self.ends["released"].append),
            (evt.EVT_ABORTED, self.ends["aborted"].append),
            (evt.EVT_C_ECHO, self._echo),
            (evt.EVT_C_STORE, lambda event: 0x0000),
        ]
        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=handlers)

    @property
    def requested(self):
        return len(self.ends["requested"])

    @property
    def released(self):
        return len(self.ends["released"])

    @property
    def aborted(self):
        return len(self.ends["aborted"])

    def _echo(self, event):
        status = self.on_echo() if self.on_echo is not None else None
        return 0x0000 if status is None else status

    def associations(self):
        return self.server.active_associations


@pytest.fixture
def peer():
    counting = CountingPeer()
    yield counting
    pool.release_all()
    counting.server.shutdown()


@pytest.fixture
def counter(db, peer):
    return modality("COUNTER", peer.port)


def test_two_echoes_in_a_row_share_one_association(settings, peer, counter):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    scu.echo(counter)
    scu.echo(counter)
    assert peer.requested == 1
    assert len(pool.idle()) == 1
    pool.release_all()
    wait_until(lambda: peer.released == 1, WAIT, "the pooled association was never released")
    assert peer.aborted == 0


def test_with_no_delay_each_echo_opens_and_releases_its_own(settings, peer, counter):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 0
    scu.echo(counter)
    scu.echo(counter)
    assert peer.requested == 2
    assert pool.idle() == []
    wait_until(lambda: peer.released == 2, WAIT, "the associations were not released")
    assert peer.aborted == 0


def test_an_idle_association_is_released_after_the_delay(settings, peer, counter):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 1
    scu.echo(counter)
    wait_until(lambda: peer.released == 1, WAIT, "the idle association was never released")
    assert peer.aborted == 0
    assert pool.idle() == []


def test_other_parameters_open_another_association(settings, peer, counter, db):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    scu.echo(counter)
    counter.timeout = 7  # a different timeout is a different association for Orthanc too
    scu.echo(counter)
    assert peer.requested == 2
    assert len(pool.idle()) == 2


def test_an_association_the_peer_aborted_is_not_reused(settings, peer, counter):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    scu.echo(counter)
    [theirs] = peer.associations()
    theirs.abort()
    wait_until(lambda: not any(assoc.is_established for assoc in pool.idle()), WAIT, "the abort went unseen")
    scu.echo(counter)
    assert peer.requested == 2
    assert len(pool.idle()) == 1


def test_an_association_the_peer_released_is_not_reused(settings, peer, counter):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    scu.echo(counter)
    [theirs] = peer.associations()
    theirs.release()
    wait_until(lambda: not any(assoc.is_established for assoc in pool.idle()), WAIT, "the release went unseen")
    scu.echo(counter)
    assert peer.requested == 2
    assert len(pool.idle()) == 1


def test_two_concurrent_operations_never_share_an_association(settings, peer, counter):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    scu.echo(counter)  # one idle association, which only one of the two may borrow
    both_inside = threading.Barrier(2, timeout=WAIT)
    # Each echo is answered only once the other one has arrived too: on a shared association
    # the second could not be sent before the first is answered, and the barrier would break.

    def meet():
        both_inside.wait()

    peer.on_echo = meet
    errors = []

    def echo():
        try:
            scu.echo(counter)
        except Exception as error:  # reported below, with the main thread's assertions
            errors.append(error)

    threads = [threading.Thread(target=echo) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert peer.requested == 2
    assert len(pool.idle()) == 2


def test_an_operation_that_failed_does_not_give_its_association_back(settings, peer, counter):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5

    peer.on_echo = lambda: 0x0122  # SOP class not supported
    with pytest.raises(scu.RemoteFailure):
        scu.echo(counter)
    assert pool.idle() == []
    wait_until(lambda: peer.released == 1, WAIT, "the association was not released")


def test_a_borrowed_association_is_lent_once(settings, peer, counter):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    scu.echo(counter)
    [assoc] = pool.idle()
    session = Session(counter, [build_context(Verification, list(UNCOMPRESSED))])
    entry = pool.borrow(session._key)
    assert entry.assoc is assoc
    assert pool.borrow(session._key) is None
    pool.give_back(session._key, entry)
    assert pool.idle() == [assoc]


@pytest.mark.django_db(transaction=True)
def test_a_job_releases_its_associations_when_it_ends(settings, peer, queue):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    target = modality("COUNTER", peer.port)
    stored = store_instance(dicom_bytes("CT_small.dcm"), Origin(kind="RestApi"))
    with transaction.atomic():
        job = jobs.submit("DicomModalityStore", {"Modality": target.name, "Resources": [stored.ids[1]]})
    run_queued_jobs()
    assert Job.objects.get(pk=job.pk).state == Job.SUCCESS
    assert pool.idle() == []
    wait_until(lambda: peer.released == 1, WAIT, "the job's association was not released")
    assert (peer.requested, peer.aborted) == (1, 0)


def test_the_worker_releases_a_queued_jobs_association_before_its_process_ends(tmp_path, peer):
    """RQ runs the job in a forked process that ends with os._exit: without the release at the
    end of the job, the peer would see the connection dropped (an abort), not an A-RELEASE.
    The delay is long, so that only the end of the job can have released it."""
    password = "password"
    with own_database("pharos_pool") as database_url:
        server = Server(tmp_path / "data", password, database_url, PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY="600")
        try:

            def call(method, path, body):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                status, _, answer = request(server.port, path, password, method, data)
                assert status == 200, answer
                return json.loads(answer or b"null")

            call("PUT", "/modalities/counter", ["COUNTER", "127.0.0.1", peer.port])
            stored = call("POST", "/instances", dicom_bytes("CT_small.dcm"))
            job = call("POST", "/modalities/counter/store", {"Resources": [stored["ID"]], "Asynchronous": True})

            def finished():
                state = json.loads(request(server.port, f"/jobs/{job['ID']}", password)[2])
                return state if state["State"] in ("Success", "Failure") else None

            assert wait_until(finished, 60, "the job never ended")["State"] == "Success"
            wait_until(lambda: peer.released + peer.aborted, WAIT, "the association never ended")
            assert (peer.requested, peer.released, peer.aborted) == (1, 1, 0)
        finally:
            server.stop()
