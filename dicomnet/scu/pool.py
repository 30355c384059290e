"""Associations kept open after an SCU operation, as Orthanc's DicomAssociationCloseDelay
keeps them: the next operation to the same modality with the same parameters reuses one
instead of opening another.

An association is keyed by all that its negotiation depends on (`key`). It is lent to one
operation at a time (`borrow` takes it out of the pool), given back when the operation
ended cleanly (`give_back`), and released (A-RELEASE) by a daemon thread once idle for
PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY seconds; with 0 it is released at once. Whatever is
no longer established when lent (the peer released or aborted it, the connection was
lost) is dropped, never reused.

`release_all` releases every idle association: a job's forked RQ process calls it before
it exits (os._exit skips atexit), any other process at exit, so that a peer sees an
A-RELEASE rather than a dropped connection. A forked child forgets its parent's
associations: their sockets and threads belong to the parent.
"""

import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger("dicomnet")


@dataclass
class Idle:
    """A pooled association, with the event observer (`_Link`) opened with it."""

    assoc: object
    link: object
    until: float = 0.0


def key(calling_aet, called_aet, host, port, contexts, roles, max_pdu, timeout, use_tls=False):
    """What makes an association reusable: the same parties, address, negotiation, timeouts and
    transport (TLS or not)."""
    return (
        calling_aet,
        called_aet,
        host,
        port,
        tuple((str(cx.abstract_syntax), tuple(map(str, cx.transfer_syntax))) for cx in contexts),
        tuple((str(role.sop_class_uid), role.scu_role, role.scp_role) for role in roles),
        max_pdu,
        timeout,
        use_tls,
    )


def close_delay():
    return settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY


class Pool:
    """The idle associations of this process, and the daemon thread that releases them."""

    def __init__(self):
        self._idle = {}  # key -> [Idle], the most recently given back last
        self._changed = threading.Condition()
        self._reaper = None

    def borrow(self, pool_key):
        """An established idle association for the key, now lent to the caller, or None.
        Those no longer established (released or aborted by the peer, connection lost) are
        dropped on the way: they have nothing left to release."""
        with self._changed:
            entries = self._idle.get(pool_key, [])
            found = None
            while entries and found is None:
                entry = entries.pop()
                if entry.assoc.is_established:
                    found = entry
            if not entries:
                self._idle.pop(pool_key, None)
        return found

    def give_back(self, pool_key, entry):
        """Keep an association that ended its operation cleanly, or release it now (delay 0)."""
        delay = close_delay()
        if delay <= 0 or not entry.assoc.is_established:
            _end(entry)
            return
        entry.until = time.monotonic() + delay
        with self._changed:
            self._idle.setdefault(pool_key, []).append(entry)
            self._start_reaper()
            self._changed.notify()

    def idle(self):
        """The associations waiting in the pool (for tests and diagnostics)."""
        with self._changed:
            return [entry.assoc for entries in self._idle.values() for entry in entries]

    def release_all(self):
        with self._changed:
            entries = [entry for entries in self._idle.values() for entry in entries]
            self._idle.clear()
        for entry in entries:
            _end(entry)

    def forget(self):
        """In a forked child: the parent's associations are not ours to release."""
        self._idle = {}
        self._changed = threading.Condition()
        self._reaper = None

    def _start_reaper(self):
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="scu-association-pool", daemon=True)
            self._reaper.start()

    def _reap(self):
        while True:
            with self._changed:
                expired = self._take_expired()
                while not expired:
                    deadlines = [entry.until for entries in self._idle.values() for entry in entries]
                    self._changed.wait(max(0.0, min(deadlines) - time.monotonic()) if deadlines else None)
                    expired = self._take_expired()
            for entry in expired:
                _end(entry)

    def _take_expired(self):
        now = time.monotonic()
        expired = []
        for pool_key in list(self._idle):
            kept = []
            for entry in self._idle[pool_key]:
                (expired if entry.until <= now or not entry.assoc.is_established else kept).append(entry)
            if kept:
                self._idle[pool_key] = kept
            else:
                del self._idle[pool_key]
        return expired


def _end(entry):
    assoc = entry.assoc
    if assoc.is_established:
        try:
            assoc.release()
        except Exception as error:  # the peer went away meanwhile: nothing left to release
            logger.debug("Releasing an idle association failed: %s", error)


POOL = Pool()
borrow = POOL.borrow
give_back = POOL.give_back
idle = POOL.idle
release_all = POOL.release_all

atexit.register(release_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=POOL.forget)
