"""The files that received C-STORE data sets are written to (wire.config), never left behind.

pynetdicom writes a data set being received to a file it makes with
dimse_messages.NamedTemporaryFile, in its DUL thread, a fragment at a time. That name is
replaced (wire.config) by `opener(folder)`, which makes an IncomingFile in the incoming folder:

- a write that fails (a full disk) is not raised in the DUL thread, where pynetdicom would abort
  the association with no status: the file is removed at once, what follows is dropped, and the
  C-STORE handler, seeing `failure(path)`, answers "out of resources";
- the files are remembered for their association: when it ends, those still in the incoming
  folder are removed (an abort mid-data set, requests queued and never served). pynetdicom
  itself removes a complete one after the C-STORE handler, which has usually moved it into the
  store by then.

No private name of pynetdicom is used here: the DUL thread is found by its public `assoc`.
"""

import logging
import os
import tempfile
import threading
import uuid
import weakref

logger = logging.getLogger("dicomnet")

PRIVATE_NAMES = ()

# The files of each association not yet handed back to pynetdicom (closed), and those whose
# writing failed until the C-STORE handler asks: {association: {path: IncomingFile}}.
_files = weakref.WeakKeyDictionary()
_failures = {}  # path: OSError, for the C-STORE handler
_lock = threading.Lock()


class IncomingFile:
    """What pynetdicom takes for a NamedTemporaryFile(delete=False, mode="wb"): `name`, `file`,
    `write`, `flush`, `close`; its writes never raise."""

    def __init__(self, folder, suffix="", owner=None):
        self.lock = threading.Lock()
        self.error = None
        self.owner = owner
        try:
            self.handle = tempfile.NamedTemporaryFile(delete=False, mode="wb", suffix=suffix, dir=folder)
            self.name = self.handle.name
        except OSError as error:
            self.handle = None
            self.name = os.path.join(str(folder), f"unwritten-{uuid.uuid4().hex}{suffix}")
            self.failed(error)

    @property
    def file(self):
        return self  # pynetdicom flushes `file` after each fragment

    def write(self, data):
        with self.lock:
            if self.handle is not None and self.error is None:
                try:
                    self.handle.write(data)
                except OSError as error:
                    self.failed(error)
        return len(data)

    def flush(self):
        with self.lock:
            if self.handle is not None and self.error is None:
                try:
                    self.handle.flush()
                except OSError as error:
                    self.failed(error)

    def failed(self, error):
        """Remember why, and free the disk at once."""
        self.error = error
        with _lock:
            _failures[self.name] = error
        logger.error("Receiving a data set into %s failed: %s", self.name, error.strerror or error)
        self.discard()

    def close(self):
        if self.handle is not None:
            try:
                self.handle.close()
            except OSError as error:  # the last buffered bytes did not fit
                if self.error is None:
                    self.failed(error)
        if self.error is None and self.owner is not None:
            # Complete, and back with pynetdicom: its handler moves it, pynetdicom removes it.
            with _lock:
                _files.get(self.owner, {}).pop(self.name, None)

    def discard(self):
        """Close and remove the file (a missing one is no error)."""
        self.close()
        self.handle = None
        try:
            os.unlink(self.name)
        except FileNotFoundError:
            pass
        except OSError as error:
            logger.error("Cannot remove %s: %s", self.name, error.strerror)


def opener(folder):
    """The replacement of pynetdicom's NamedTemporaryFile: an IncomingFile in `folder`,
    remembered for the association of the DUL thread that asks for it."""

    def open_incoming(delete=False, mode="wb", suffix="", **_):
        assoc = getattr(threading.current_thread(), "assoc", None)
        received = IncomingFile(folder, suffix, owner=assoc)
        if assoc is not None:
            with _lock:
                _files.setdefault(assoc, {})[received.name] = received
        return received

    return open_incoming


def failure(path):
    """Why receiving into `path` failed (an OSError), or None; asked once, by the C-STORE handler."""
    with _lock:
        return _failures.pop(str(path), None)


def discard(assoc):
    """Remove what the association's data sets left in the incoming folder, once no handler
    of the association runs any more (when it ends)."""
    with _lock:
        received = list(_files.pop(assoc, {}).values())
        for each in received:
            _failures.pop(each.name, None)
    for each in received:
        with each.lock:
            each.owner = None
            each.discard()
