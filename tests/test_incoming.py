"""explorer/incoming.py: files being received, written in chunks into the storage area's
incoming folder, and removed when they are not stored."""

import hashlib

import pytest

from explorer import dicom, incoming, ingest, storage
from explorer.errors import BadFileFormat
from explorer.models import Instance
from tests.conftest import CT_SMALL, dicom_bytes


def incoming_files():
    return sorted(storage.incoming_dir().iterdir())


def test_chunks_are_written_into_a_new_file_of_the_incoming_folder():
    path = incoming.write_chunks(iter([b"one", b"", b"two"]))
    assert incoming_files() == [storage.incoming_dir() / path.rsplit("/", 1)[1]]
    assert open(path, "rb").read() == b"onetwo"


def test_a_file_whose_chunks_fail_is_removed():
    def failing():
        yield b"one"
        raise OSError("the client went away")

    with pytest.raises(OSError, match="went away"):
        incoming.write_chunks(failing())
    assert incoming_files() == []


def test_a_copy_is_made_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(incoming, "CHUNK", 1000)
    (tmp_path / "ct.dcm").write_bytes(dicom_bytes(CT_SMALL))
    assert open(incoming.copy_in(tmp_path / "ct.dcm"), "rb").read() == dicom_bytes(CT_SMALL)


def test_a_part10_file_is_left_as_it_is():
    path = incoming.write_chunks([dicom_bytes(CT_SMALL)])
    assert incoming.as_part10(path) == path


def test_a_bare_data_set_becomes_a_part10_file_in_place_of_the_old_one(monkeypatch):
    monkeypatch.setattr(incoming, "CHUNK", 1000)
    data = dicom_bytes("rtstruct.dcm")
    path = incoming.write_chunks([data])
    converted = incoming.as_part10(path)
    assert open(converted, "rb").read() == dicom.as_part10(data)
    assert incoming_files() == [storage.incoming_dir() / converted.rsplit("/", 1)[1]]


def test_a_file_that_holds_no_data_set_stays_as_it_was():
    path = incoming.write_chunks([b"\x00\x01 not a DICOM file" * 50])
    with pytest.raises(BadFileFormat):
        incoming.as_part10(path)
    assert incoming_files() == [storage.incoming_dir() / path.rsplit("/", 1)[1]]


def test_the_files_a_block_leaves_behind_are_removed_when_it_ends():
    kept = incoming.write_chunks([b"made before"])
    with pytest.raises(RuntimeError):
        with incoming.removed_at_end():
            incoming.write_chunks([b"left behind"])
            out, path = incoming.new_file()
            out.close()
            raise RuntimeError("the request failed")
    assert incoming_files() == [storage.incoming_dir() / kept.rsplit("/", 1)[1]]


def test_a_file_written_here_carries_the_md5_of_its_bytes():
    chunks = [b"DICM" * 1000, b"", b"x" * 12345]
    path = incoming.write_chunks(chunks)
    assert path.md5 == hashlib.md5(b"".join(chunks)).hexdigest()
    incoming.remove(path)


def test_storing_a_file_written_here_does_not_read_it_again_for_its_md5(db, monkeypatch):
    data = dicom_bytes(CT_SMALL)
    monkeypatch.setattr(ingest, "_md5_of_file", lambda path: pytest.fail("the file was read again for its MD5"))
    path = incoming.write_chunks([data])
    ingest.store_instance_file(path, ingest.Origin())
    assert Instance.objects.get().file_md5 == hashlib.md5(data).hexdigest()


def test_a_small_file_written_here_is_kept_in_memory_too(monkeypatch):
    monkeypatch.setattr(incoming, "KEPT_IN_MEMORY", 10)
    small = incoming.write_chunks([b"12345", b"", b"67890"], keep=True)
    large = incoming.write_chunks([b"12345", b"678901"], keep=True)
    assert small.data == b"1234567890" and large.data is None
    assert open(large, "rb").read() == b"12345678901"
    incoming.remove(small), incoming.remove(large)


def test_storing_a_file_kept_in_memory_parses_its_bytes_not_its_file(db, monkeypatch):
    data = dicom_bytes(CT_SMALL)
    parsed = []
    real_parse = dicom.parse
    monkeypatch.setattr(dicom, "parse", lambda source: parsed.append(type(source)) or real_parse(source))
    path = incoming.write_chunks([data[:1000], data[1000:]], keep=True)
    ingest.store_instance_file(incoming.as_part10(path), ingest.Origin())
    assert parsed == [bytes]
    stored = Instance.objects.get()
    assert (stored.file_size, stored.file_md5) == (len(data), hashlib.md5(data).hexdigest())
    assert storage.read(stored.file_uuid) == data


def test_files_gathered_before_they_are_stored_are_not_kept_in_memory():
    path = incoming.write_chunks([b"12345"])
    assert path.data is None and open(path, "rb").read() == b"12345"
    incoming.remove(path)
