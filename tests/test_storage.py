"""The file area: new files, adoption of a received file, deletion."""

import os
import stat

import pytest

from explorer import incoming, storage
from explorer.errors import StorageFailure


def test_a_new_temporary_file_is_the_owners_alone_and_never_an_existing_one(storage_dir):
    folder = storage.incoming_dir()
    fd, path = storage.new_temporary(folder, "upload-")
    os.close(fd)
    assert os.path.dirname(path) == str(folder)
    assert os.path.basename(path).startswith("upload-")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    fd, other = storage.new_temporary(folder, "upload-")
    os.close(fd)
    assert other != path


def test_a_new_temporary_file_remakes_a_folder_removed_meanwhile(storage_dir):
    folder = storage.incoming_dir()
    os.rmdir(folder)
    fd, path = storage.new_temporary(folder, "upload-")
    os.close(fd)
    assert os.path.exists(path)


def test_adopting_moves_the_received_file_into_place(storage_dir):
    received = incoming.write_chunks([b"DICM", b"-bytes"])
    file_uuid = storage.adopt(received)
    assert not os.path.exists(received)
    assert storage.read(file_uuid) == b"DICM-bytes"
    assert storage.path_for(file_uuid).parent.parent.parent == storage_dir


def test_adopting_into_a_folder_removed_meanwhile_makes_it_again(storage_dir):
    first = storage.adopt(incoming.write_chunks([b"one"]))
    storage.delete(first)
    folder = storage.path_for(first).parent
    os.rmdir(folder)
    os.rmdir(folder.parent)
    # The folder is remembered as made; a file meant for it finds it gone and makes it.
    storage._known_folders.add(folder)
    received = incoming.write_chunks([b"two"])
    target = storage.path_for(first)
    storage._move(received, target)
    assert target.read_bytes() == b"two"


def test_adopting_a_file_that_is_gone_is_a_storage_failure(storage_dir):
    with pytest.raises(StorageFailure):
        storage.adopt(str(storage.incoming_dir() / "upload-gone"))
