"""How long a connection may wait before it asks for an association, and how many associations
the DICOM server holds at once.

- ARTIM: a connection whose A-ASSOCIATE-RQ has not arrived PHAROS_DICOM_ASSOCIATION_TIMEOUT
  seconds after it opened is closed. pynetdicom's own ARTIM timer runs in the connection's DUL
  thread, between reads: a peer that sends half a PDU and stops holds that thread in a read
  forever, so a watchdog thread shuts such connections down (the read then ends).
- Bounds: PHAROS_DICOM_MAX_ASSOCIATIONS in all and PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE per
  calling AE title. Past one, the association is rejected as PS3.8 names it: rejected-transient,
  source service-provider (presentation related), reason 2 "local limit exceeded". Connections
  that have not asked for an association yet count for neither: a crowd of idle connections
  cannot keep a modality out (ARTIM closes them).

The bounds hold over all the processes sharing the DICOM port (`manage.py dicomserver
--processes`): each association holds a slot, one byte of a lock file in the data folder locked
with a POSIX record lock (fcntl). The kernel frees a process's locks when it ends, even by
kill -9, so no count ever goes stale. POSIX locks belong to a process, not to a thread: the
slots held in this process are remembered here too.
"""

import fcntl
import hashlib
import logging
import os
import socket
import threading
import time

from django.conf import settings

logger = logging.getLogger("dicomnet")

# A-ASSOCIATE-RJ (PS3.8 9.3.4): rejected-transient, DUL service-provider (presentation related),
# local-limit-exceeded.
REJECTED_TRANSIENT = 0x02
SOURCE_PRESENTATION = 0x03
LOCAL_LIMIT_EXCEEDED = 0x02

# Where the slots lie in the lock file: the total's from 0, each AE title's in a range of its
# own further on, chosen by a 40-bit hash of the title (two titles sharing one is unlikely).
AE_REGION = 1 << 32
AE_STRIDE = 1 << 16
AE_HASH_BITS = 40


def ae_offset(aet):
    digest = hashlib.blake2b(aet.encode("ascii", "replace"), digest_size=AE_HASH_BITS // 8).digest()
    return AE_REGION + int.from_bytes(digest, "big") * AE_STRIDE


class Slots:
    """Numbered slots that the processes opening the same lock file share."""

    def __init__(self, path):
        self.path = path
        self.mutex = threading.Lock()
        self.held = {}  # offset: the association (a thread) holding it, in this process
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            # The bounds then hold in this process only.
            logger.warning("Cannot open %s (%s): association bounds are per process", path, error.strerror)
            self.fd = None

    def take(self, offsets, holder):
        """The first of `offsets` free in every process, now held by `holder`; None when all are taken."""
        with self.mutex:
            self._forget_the_dead()
            for offset in offsets:
                if offset in self.held or not self._lock(offset):
                    continue
                self.held[offset] = holder
                return offset
        return None

    def give_back(self, offset, holder):
        """Free the slot if `holder` still holds it (not when it was taken back from a holder
        found dead, and given to another since)."""
        with self.mutex:
            if self.held.get(offset) is not holder:
                return
            del self.held[offset]
            if self.fd is not None:
                fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, offset)

    def _lock(self, offset):
        if self.fd is None:
            return True
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError:  # EACCES or EAGAIN: another process holds it
            return False
        return True

    def _forget_the_dead(self):
        # An association whose thread ended without the events that give its slots back
        # (they come in every path seen, but a leak here would shut a modality out for good).
        for offset, holder in list(self.held.items()):
            if isinstance(holder, threading.Thread) and holder.ident is not None and not holder.is_alive():
                del self.held[offset]
                if self.fd is not None:
                    fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, offset)


_slots = {}
_slots_lock = threading.Lock()


def slots():
    """This process's Slots on the data folder's lock file."""
    path = str(settings.DATA_DIR / "dicom-associations.lock")
    with _slots_lock:
        if path not in _slots:
            _slots[path] = Slots(path)
        return _slots[path]


# --- bounds ------------------------------------------------------------------------------

# {association: (slots, total offset, AE offset)}
_admitted = {}
_admitted_lock = threading.Lock()


def admit(assoc, calling_aet):
    """Take a slot in all and one for the calling AE title for this association; False (both
    left free) when either bound is reached."""
    with _admitted_lock:
        ended = [held for held in _admitted if held.ident is not None and not held.is_alive()]
    for held in ended:  # missed by the events that end an association
        leave(held)
    shared = slots()
    total = shared.take(range(settings.PHAROS_DICOM_MAX_ASSOCIATIONS), assoc)
    if total is None:
        logger.warning(
            "Association from %s rejected: %d associations already (PHAROS_DICOM_MAX_ASSOCIATIONS)",
            calling_aet,
            settings.PHAROS_DICOM_MAX_ASSOCIATIONS,
        )
        return False
    base = ae_offset(calling_aet)
    own = shared.take(range(base, base + settings.PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE), assoc)
    if own is None:
        shared.give_back(total, assoc)
        logger.warning(
            "Association from %s rejected: it holds %d associations already (PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE)",
            calling_aet,
            settings.PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE,
        )
        return False
    with _admitted_lock:
        _admitted[assoc] = (shared, total, own)
    return True


def leave(assoc):
    """Give back the slots of an association that ends (again: nothing happens)."""
    with _admitted_lock:
        held = _admitted.pop(assoc, None)
    if held is not None:
        shared, total, own = held
        shared.give_back(own, assoc)
        shared.give_back(total, assoc)


def reject(assoc):
    """Answer the A-ASSOCIATE-RQ with A-ASSOCIATE-RJ "local limit exceeded" (from an
    EVT_REQUESTED handler, as pynetdicom lets one: it then skips its negotiation) and wait
    until the rejection has left, before pynetdicom closes the connection."""
    assoc.acse.send_reject(REJECTED_TRANSIENT, SOURCE_PRESENTATION, LOCAL_LIMIT_EXCEEDED)
    assoc.kill()


# --- ARTIM -------------------------------------------------------------------------------


class Watchdog:
    """Shuts down the connections still waiting for their A-ASSOCIATE-RQ at their deadline."""

    def __init__(self):
        self.changed = threading.Condition()
        self.deadlines = {}  # socket: time.monotonic() deadline
        self.thread = None

    def watch(self, connection, seconds):
        with self.changed:
            self.deadlines[connection] = time.monotonic() + seconds
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="DICOM ARTIM", daemon=True)
                self.thread.start()
            self.changed.notify()

    def forget(self, connection):
        with self.changed:
            self.deadlines.pop(connection, None)

    def run(self):
        while True:
            with self.changed:
                now = time.monotonic()
                expired = [connection for connection, deadline in self.deadlines.items() if deadline <= now]
                for connection in expired:
                    del self.deadlines[connection]
                if not expired:
                    self.changed.wait(min(self.deadlines.values(), default=now + 60) - now)
                    continue
            for connection in expired:
                close_waiting(connection)


def close_waiting(connection):
    try:
        address = connection.getpeername()
        connection.shutdown(socket.SHUT_RDWR)  # a read blocked in the DUL thread ends
    except OSError:
        return  # closed already
    logger.info(
        "Connection from %s closed: no A-ASSOCIATE-RQ within %s s (PHAROS_DICOM_ASSOCIATION_TIMEOUT)",
        address[0],
        settings.PHAROS_DICOM_ASSOCIATION_TIMEOUT,
    )


watchdog = Watchdog()


def connection_opened(assoc, connection):
    """A connection was accepted: its A-ASSOCIATE-RQ is awaited for the association timeout
    (pynetdicom's ARTIM timer and its wait for the request both follow acse_timeout)."""
    seconds = settings.PHAROS_DICOM_ASSOCIATION_TIMEOUT
    assoc.acse_timeout = seconds
    watchdog.watch(connection, seconds)


def association_requested(assoc, connection):
    """The A-ASSOCIATE-RQ arrived: the DICOM server's timeout applies from now on."""
    watchdog.forget(connection)
    assoc.acse_timeout = settings.PHAROS_DICOM_SCP_TIMEOUT
