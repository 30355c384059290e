"""explorer/sources.py: ZIP archives expanded member by member into the incoming folder, within
the limits on expansion and member count, and folder trees, as the import command reads them."""

import zipfile

import pytest

from explorer import sources, storage
from explorer.errors import BadFileFormat, PayloadTooLarge
from tests.conftest import dicom_bytes, zip_of


def incoming_files():
    return sorted(storage.incoming_dir().iterdir())


def write_zip(path, members):
    path.write_bytes(zip_of(members))
    return path


def test_each_member_is_a_file_in_the_incoming_folder_until_the_next_is_asked_for(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"a/ct.dcm": dicom_bytes("CT_small.dcm"), "b.txt": b"text"})
    members = sources.zip_members(archive)
    name, path = next(members)
    assert name == "a/ct.dcm" and open(path, "rb").read() == dicom_bytes("CT_small.dcm")
    assert incoming_files() == [storage.incoming_dir() / path.rsplit("/", 1)[1]]
    name, path = next(members)
    assert name == "b.txt" and open(path, "rb").read() == b"text" and len(incoming_files()) == 1
    assert next(members, None) is None
    assert incoming_files() == []


def test_folders_and_macos_metadata_are_left_out(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"dir/": b"", "dir/__MACOSX/._ct.dcm": b"meta", "dir/ct.dcm": b"x"})
    assert [name for name, _ in sources.zip_members(archive)] == ["dir/ct.dcm"]


def test_a_member_that_cannot_be_expanded_is_one_bad_entry(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("damaged.dcm", b"A" * 1000)
        z.writestr("fine.dcm", b"fine")
    data = bytearray(archive.read_bytes())
    data[data.index(b"A" * 1000) + 10] = ord("B")  # the CRC no longer matches
    archive.write_bytes(bytes(data))
    (first, error), (second, path) = [(name, member) for name, member in sources.zip_members(archive)]
    assert first == "damaged.dcm" and isinstance(error, BadFileFormat) and "cannot be extracted" in str(error)
    assert second == "fine.dcm"
    assert incoming_files() == []


def test_a_file_that_is_no_zip_archive_is_a_bad_file(tmp_path):
    (tmp_path / "no.zip").write_bytes(b"PK\x03\x04 nothing more")
    with pytest.raises(BadFileFormat, match="The ZIP archive cannot be opened"):
        list(sources.zip_members(tmp_path / "no.zip"))


def test_an_archive_expanding_beyond_the_limit_is_refused_before_anything_is_expanded(tmp_path, settings):
    settings.PHAROS_MAX_ZIP_EXPANSION = 2500
    archive = write_zip(tmp_path / "a.zip", {"one": b"1" * 1000, "two": b"2" * 1000, "three": b"3" * 1000})
    members = sources.zip_members(archive)
    with pytest.raises(PayloadTooLarge, match="would expand to 3000 bytes, more than PHAROS_MAX_ZIP_EXPANSION"):
        next(members)
    assert incoming_files() == []
    settings.PHAROS_MAX_ZIP_EXPANSION = 3000
    assert len(list(sources.zip_members(archive))) == 3


def test_an_archive_with_more_members_than_the_limit_is_refused(tmp_path, settings):
    settings.PHAROS_MAX_ZIP_MEMBERS = 2
    archive = write_zip(tmp_path / "a.zip", {"one": b"1", "two": b"2", "three": b"3"})
    with pytest.raises(PayloadTooLarge, match="has 3 entries, more than PHAROS_MAX_ZIP_MEMBERS"):
        list(sources.zip_members(archive))


def test_the_member_count_is_read_from_the_zip64_end_record_when_there_is_one(tmp_path, monkeypatch, settings):
    # zipfile writes the ZIP64 end record past ZIP_FILECOUNT_LIMIT entries (65535), the count
    # in the classic end record then 0xFFFF.
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
    archive = write_zip(tmp_path / "a.zip", {"one": b"1", "two": b"2", "three": b"3"})
    assert archive.read_bytes().count(b"PK\x06\x06") == 1
    with open(archive, "rb") as handle:
        entries, size = sources.declared_directory(handle)
    assert entries == 3 and size == 3 * 46 + len("onetwothree")  # 46 bytes an entry, and its name
    settings.PHAROS_MAX_ZIP_MEMBERS = 2
    with pytest.raises(PayloadTooLarge, match="has 3 entries"):
        list(sources.zip_members(archive))


def test_read_files_copies_files_and_expands_archives(tmp_path):
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "ct.dcm").write_bytes(dicom_bytes("CT_small.dcm"))
    write_zip(tmp_path / "tree" / "sub" / "more.zip", {"mr.dcm": dicom_bytes("MR_small.dcm")})
    (tmp_path / "tree" / "sub" / "bomb.zip").write_bytes(b"")  # an empty file: no archive
    seen = []
    for _, name, received in sources.read_files([tmp_path / "tree"]):
        content = open(received, "rb").read()
        assert str(received).startswith(str(storage.incoming_dir()))
        seen.append((name.replace(str(tmp_path), ""), len(content)))
    assert seen == [
        ("/tree/ct.dcm", len(dicom_bytes("CT_small.dcm"))),
        ("/tree/sub/bomb.zip", 0),
        ("/tree/sub/more.zip/mr.dcm", len(dicom_bytes("MR_small.dcm"))),
    ]
    assert incoming_files() == []
    # The source files are copied, never moved.
    assert (tmp_path / "tree" / "ct.dcm").read_bytes() == dicom_bytes("CT_small.dcm")


def test_read_files_reports_an_archive_beyond_the_limits(tmp_path, settings):
    settings.PHAROS_MAX_ZIP_MEMBERS = 1
    archive = write_zip(tmp_path / "two.zip", {"one": b"1", "two": b"2"})
    [(path, name, error)] = list(sources.read_files([archive]))
    assert name == archive and isinstance(error, PayloadTooLarge)


def test_a_central_directory_larger_than_its_members_need_is_refused(tmp_path, settings):
    settings.PHAROS_MAX_ZIP_MEMBERS = 1  # 1 KiB of central directory
    archive = write_zip(tmp_path / "a.zip", {"n" * 2000: b"1"})
    with pytest.raises(PayloadTooLarge, match="central directory is too large"):
        list(sources.zip_members(archive))
