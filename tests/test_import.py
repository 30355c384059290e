"""manage.py import: files, folders and ZIP archives through the ingest funnel."""

import importlib
import io
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from explorer.models import Instance
from tests.conftest import CT_SMALL, dicom_bytes, make_dicom

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "import"
    (root / "a" / "b").mkdir(parents=True)
    (root / "ct.dcm").write_bytes(dicom_bytes(CT_SMALL))
    (root / "a" / "mr.dcm").write_bytes(dicom_bytes("MR_small.dcm"))
    (root / "a" / "b" / "plan").write_bytes(dicom_bytes("rtplan.dcm"))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("one.dcm", make_dicom())
        z.writestr("deeper/two.dcm", make_dicom())
    (root / "a" / "more.zip").write_bytes(archive.getvalue())
    return root


def run_import(*paths):
    out = io.StringIO()
    call_command("import", *map(str, paths), "--quiet", stdout=out)
    return out.getvalue()


def test_it_imports_a_tree_with_zip_archives(tree):
    output = run_import(tree)
    assert "Stored: 5, already stored: 0, rejected: 0" in output
    assert Instance.objects.filter(origin="Import").count() == 5


def test_a_second_import_reports_already_stored(tree):
    run_import(tree)
    assert "Stored: 0, already stored: 5, rejected: 0" in run_import(tree)


def test_rejected_files_are_listed_and_fail_the_command(tree):
    (tree / "notes.txt").write_text("not a DICOM file")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import", str(tree), "--quiet", stdout=out, stderr=err)
    assert failure.value.returncode == 2
    assert "rejected: 1" in out.getvalue()
    assert f"rejected {tree / 'notes.txt'}: Not a DICOM file: it looks like a text file\n" in err.getvalue()
    assert Instance.objects.count() == 5


def test_a_missing_path_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No such file or folder"):
        run_import(tmp_path / "nowhere")


def test_files_without_a_meta_header_are_imported_as_part10_files(tmp_path):
    from explorer import storage

    folder = tmp_path / "old-device"
    folder.mkdir()
    bare = dicom_bytes("rtstruct.dcm")
    (folder / "IM0001").write_bytes(bare)  # a bare data set, as old devices write them
    (folder / "IM0002").write_bytes(dicom_bytes(CT_SMALL)[132:])  # no preamble
    assert "Stored: 2, already stored: 0, rejected: 0" in run_import(folder)
    rtstruct = Instance.objects.get(sop_instance_uid="1.2.826.0.1.3680043.8.498.2010020400001")
    with storage.open_file(rtstruct.file_uuid) as handle:
        stored = handle.read()
    assert stored[128:132] == b"DICM" and stored.endswith(bare)


def test_an_archive_beyond_the_zip_limits_is_rejected_and_the_rest_imported(tree, settings):
    settings.PHAROS_MAX_ZIP_EXPANSION = 1000  # more.zip expands to more
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import", str(tree), "--quiet", stdout=out, stderr=err)
    assert "Stored: 3, already stored: 0, rejected: 1" in out.getvalue()
    assert "more.zip: The ZIP archive would expand to" in err.getvalue()


def test_an_import_leaves_no_file_in_the_incoming_folder(tree, storage_dir):
    (tree / "notes.txt").write_text("not a DICOM file")
    with pytest.raises(CommandError):
        run_import(tree)
    assert list((storage_dir / "incoming").iterdir()) == []
    assert (tree / "ct.dcm").read_bytes() == dicom_bytes(CT_SMALL)  # copied, not moved


def shown_lines(stream_text):
    """The lines a terminal shows at the end: in each, what follows the bar's last carriage return."""
    return [line.split("\r")[-1] for line in stream_text.split("\n")]


def test_each_warning_is_printed_once_above_the_progress_bar(tmp_path):
    folder = tmp_path / "exams"
    (folder / "copy").mkdir(parents=True)
    (folder / "ct.dcm").write_bytes(dicom_bytes(CT_SMALL))
    (folder / "copy" / "ct.dcm").write_bytes(dicom_bytes(CT_SMALL))  # a duplicate
    (folder / "notes.txt").write_text("Patient called back on Monday.\n")  # no DICOM file
    # Its UIDs are longer than DICOM allows: pydicom warns, as a log record and a Python warning, for each copy.
    (folder / "dose.dcm").write_bytes(dicom_bytes("badVR.dcm"))
    (folder / "copy" / "dose.dcm").write_bytes(dicom_bytes("badVR.dcm"))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import", str(folder), stdout=out, stderr=err)  # with the progress bar
    shown = shown_lines(err.getvalue())
    said = [line for line in shown if line.startswith(("rejected", "warning", "duplicate"))]
    warned = (
        "Invalid value for VR UI: '1.2.123.456.78.9.0123.4567.89012345678901'. Please see "
        "<https://dicom.nema.org/medical/dicom/current/output/html/part05.html#table_6.2-1> "
        "for allowed values for each VR."
    )
    warnings = [line for line in said if line.startswith("warning")]
    assert len(warnings) == 1 and warnings[0].endswith(f"dose.dcm: {warned}")  # named with the file read
    assert sorted(set(said) - set(warnings)) == [
        f"duplicate {folder / 'copy' / 'ct.dcm'}: the same instance as {folder / 'ct.dcm'}, stored once",
        f"duplicate {folder / 'copy' / 'dose.dcm'}: the same instance as {folder / 'dose.dcm'}, stored once",
        f"rejected {folder / 'notes.txt'}: Not a DICOM file: it looks like a text file",
    ]
    assert err.getvalue().count(warned) == 1  # once, though pydicom said it four times
    assert not any("%|" in line for line in said)  # never on the bar's line
    assert "100%|" in err.getvalue()  # the bar was drawn
    assert shown[-2].startswith("100%|")  # and stays last, below the warnings
    assert "Stored: 2, already stored: 2, rejected: 1" in out.getvalue()


def test_the_files_that_name_a_duplicate_are_a_bounded_few(tmp_path, monkeypatch):
    """Only the last NAMED_FILES_KEPT files are remembered: a copy of an instance brought
    further back counts as already stored, unnamed, and memory stays bounded on a big archive."""
    command = importlib.import_module("explorer.management.commands.import")  # a keyword's name
    monkeypatch.setattr(command, "NAMED_FILES_KEPT", 1)
    folder = tmp_path / "exams"
    folder.mkdir()
    (folder / "1-ct.dcm").write_bytes(dicom_bytes(CT_SMALL))
    (folder / "2-mr.dcm").write_bytes(dicom_bytes("MR_small.dcm"))
    (folder / "3-ct-again.dcm").write_bytes(dicom_bytes(CT_SMALL))
    out, err = io.StringIO(), io.StringIO()
    call_command("import", str(folder), "--quiet", stdout=out, stderr=err)
    assert "duplicate" not in err.getvalue()
    assert "Stored: 2, already stored: 1, rejected: 0" in out.getvalue()
