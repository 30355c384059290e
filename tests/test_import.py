"""manage.py import: files, folders and ZIP archives through the ingest funnel."""

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
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import", str(tree), "--quiet", stdout=out)
    assert failure.value.returncode == 2
    assert "rejected: 1" in out.getvalue()
    assert "notes.txt" in out.getvalue()
    assert Instance.objects.count() == 5


def test_a_missing_path_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No such file or folder"):
        run_import(tmp_path / "nowhere")
