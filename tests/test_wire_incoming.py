"""The files received data sets are written to (dicomnet/wire/incoming.py): a write that fails
removes the file and is told to the C-STORE handler, never raised in pynetdicom's DUL thread;
what an association leaves is removed when it ends."""

import errno
import threading

from dicomnet.wire import incoming
from tests.outages import small_tmpfs


class Association:
    """Stands for the association whose DUL thread opens the files (its public `assoc`)."""


def opened_in_a_dul_thread(open_incoming, assoc):
    opened = []
    thread = threading.Thread(target=lambda: opened.append(open_incoming()))
    thread.assoc = assoc
    thread.start()
    thread.join()
    return opened[0]


def test_a_full_disk_removes_the_file_at_once_and_tells_the_handler():
    with small_tmpfs("1m") as folder:
        received = incoming.opener(str(folder))()
        for _ in range(32):  # 2 MB, in 64 kB fragments, as pynetdicom writes them
            received.write(b"\0" * 65536)
            received.file.flush()
        assert list(folder.iterdir()) == []
        error = incoming.failure(received.name)
        assert error.errno == errno.ENOSPC
        assert incoming.failure(received.name) is None  # told once
        received.close()  # as pynetdicom does after the handler


def test_what_an_association_leaves_is_removed_when_it_ends(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    open_incoming = incoming.opener(str(folder))
    assoc, other = Association(), Association()
    unfinished = opened_in_a_dul_thread(open_incoming, assoc)
    unfinished.write(b"half a data set")
    unfinished.flush()
    handed_over = opened_in_a_dul_thread(open_incoming, assoc)
    handed_over.close()  # complete: pynetdicom's to move or remove
    kept = opened_in_a_dul_thread(open_incoming, other)

    def left():
        return sorted(str(path) for path in folder.iterdir())

    incoming.discard(assoc)
    assert left() == sorted([handed_over.name, kept.name])
    unfinished.write(b"more")  # the DUL thread writing late: dropped
    assert left() == sorted([handed_over.name, kept.name])
    incoming.discard(other)
    assert left() == [handed_over.name]
