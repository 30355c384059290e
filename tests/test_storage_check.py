"""The storage sweep and check (explorer/storage_check.py, manage.py check_storage): real files
in a real storage area, orphans made as a killed process leaves them, and a real server's web
worker killed with SIGKILL while it writes an upload."""

import base64
import io
import os
import signal
import socket
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from explorer import storage, storage_check
from explorer.models import Instance
from tests.conftest import CT_SMALL_IDS, make_image
from tests.pharos_server import Server, own_database, request

pytestmark = pytest.mark.django_db

HOUR = 3600


def age(path, seconds):
    """Make a file look `seconds` old."""
    moment = time.time() - seconds
    os.utime(path, (moment, moment))
    return path


def temporary_beside_stored_files(name=".incoming-abc123"):
    folder = storage.root() / "ab" / "cd"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"half a file")
    return path


def received_file(name="tmpq1w2e3"):
    path = storage.incoming_dir() / name
    path.write_bytes(b"half a data set")
    return path


def test_it_removes_temporary_files_older_than_an_hour_and_keeps_younger_ones():
    old = [age(temporary_beside_stored_files(), 2 * HOUR), age(received_file(), 2 * HOUR)]
    young = [temporary_beside_stored_files(".incoming-young"), received_file("young")]

    report = storage_check.check()

    assert report.temporaries.count == 2
    assert sorted(report.temporaries.examples) == sorted(old)
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in young)
    assert report.consistent


def test_a_consistent_store_reports_nothing(ct):
    report = storage_check.check()
    assert (report.files, report.rows) == (1, 1)
    assert report.consistent and report.temporaries.count == 0


def test_a_file_without_an_index_row_is_reported_then_removed_with_repair(ct):
    # What a process killed after writing its file and before committing its row leaves.
    orphan = age(storage.path_for(storage.write(b"DICM data nobody indexed")), 2 * HOUR)
    young_orphan = storage.path_for(storage.write(b"a write in progress"))

    report = storage_check.check()
    assert report.orphan_files.count == 1 and report.orphan_files.examples == [orphan]
    assert orphan.exists()

    assert storage_check.check(repair=True).orphan_files.count == 1
    assert not orphan.exists()
    assert young_orphan.exists()  # perhaps its row is about to be committed
    assert storage_check.check().consistent
    assert ct.get(f"/instances/{CT_SMALL_IDS['instance']}").status_code == 200


def test_a_stranger_in_a_storage_folder_is_an_orphan():
    stranger = age(temporary_beside_stored_files("notes.txt"), 2 * HOUR)
    assert storage_check.check().orphan_files.examples == [stranger]


def test_a_row_without_its_file_is_reported_then_deleted_from_the_index_with_repair(ct):
    instance = Instance.objects.get(public_id=CT_SMALL_IDS["instance"])
    storage.path_for(instance.file_uuid).unlink()

    report = storage_check.check()
    assert report.missing_files.count == 1
    assert report.missing_files.examples == [(CT_SMALL_IDS["instance"], str(instance.file_uuid))]
    assert ct.get(f"/instances/{CT_SMALL_IDS['instance']}").status_code == 200  # reported only

    assert storage_check.check(repair=True).missing_files.count == 1
    assert ct.get(f"/instances/{CT_SMALL_IDS['instance']}").status_code == 404
    assert ct.get("/patients").json() == []  # its empty parents went with it
    assert storage_check.check().consistent


def test_rows_and_files_are_matched_whatever_their_order(api):
    from tests.conftest import make_dicom, upload

    for _ in range(30):
        assert upload(api, make_dicom()).status_code == 200
    victims = list(Instance.objects.order_by("?")[:3])
    for victim in victims:
        storage.path_for(victim.file_uuid).unlink()
    for _ in range(4):
        age(storage.path_for(storage.write(b"orphan")), 2 * HOUR)

    report = storage_check.check()

    assert (report.files, report.rows) == (31, 27)
    assert report.orphan_files.count == 4
    assert sorted(public_id for public_id, _ in report.missing_files.examples) == sorted(v.public_id for v in victims)


def test_check_storage_prints_a_summary_and_fails_while_they_disagree(ct):
    orphan = age(storage.path_for(storage.write(b"orphan")), 2 * HOUR)
    temporary = age(temporary_beside_stored_files(), 2 * HOUR)
    out = io.StringIO()

    with pytest.raises(SystemExit) as exit_:
        call_command("check_storage", stdout=out)

    assert exit_.value.code == 1
    text = out.getvalue()
    assert "2 stored files, 1 index rows" in text
    assert "Temporary files older than 1 hour(s), removed: 1" in text and str(temporary) in text
    assert "Files without an index row (--repair removes them): 1" in text and str(orphan) in text
    assert "Index rows without a file (--repair deletes them from the index): 0" in text

    out = io.StringIO()
    call_command("check_storage", "--repair", stdout=out)
    assert "Files without an index row, removed: 1" in out.getvalue()
    assert not orphan.exists()
    call_command("check_storage", stdout=io.StringIO())  # consistent: no exit code


def test_the_summary_names_the_first_few_and_counts_the_rest():
    for number in range(storage_check.SHOWN + 3):
        age(temporary_beside_stored_files(f".incoming-{number}"), 2 * HOUR)
    lines = storage_check.check().summary()
    assert "  … and 3 more" in lines


def test_the_periodic_sweep_skips_a_sweep_right_after_another():
    storage_check.sweep()
    temporary = age(temporary_beside_stored_files(), 2 * HOUR)
    storage_check.sweep_if_due()
    assert temporary.exists()

    age(storage.root() / storage_check.LAST_SWEEP_FILE, storage_check.SWEEP_SECONDS)
    storage_check.sweep_if_due()
    assert not temporary.exists()


def test_the_sweep_is_on_the_clock(redis_url):
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("explorer.cron")
    [job] = [job for job in scheduler.get_jobs() if job.func is storage_check.periodic_sweep]
    assert (job.queue_name, job.interval) == ("default", storage_check.SWEEP_SECONDS)


# --- a real server's web worker killed while it writes an upload ---------------------------


def _processes_below(pid):
    """The pids of a process's descendants."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _writer_of_a_temporary(pids, storage_dir):
    """(pid, path) of a process holding a temporary file of the storage area open, or None."""
    for pid in pids:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(descriptor)
            except OSError:
                continue
            if target.endswith(" (deleted)"):
                continue  # a file without a name (the web server's spooled body): nothing to leave
            if target.startswith(str(storage_dir)) and (
                "/.incoming-" in target or target.startswith(str(storage_dir / "incoming") + "/")
            ):
                return pid, Path(target)
    return None


def _send_without_waiting(port, password, body):
    connection = socket.create_connection(("127.0.0.1", port))
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    head = (
        f"POST /instances HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {token}\r\n"
        f"Content-Type: application/dicom\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    connection.sendall(head.encode() + body)
    return connection


def _kill_a_worker_mid_write(server, password, storage_dir, body, deadline):
    """SIGKILL the web worker that writes `body` while it holds its temporary file; the
    temporary file's path, or None when the write ended before it was caught."""
    connection = _send_without_waiting(server.port, password, body)
    try:
        pids = _processes_below(server.process.pid)
        while time.monotonic() < deadline:
            found = _writer_of_a_temporary(pids, storage_dir)
            if found:
                pid, path = found
                os.kill(pid, signal.SIGKILL)
                return path
            connection.settimeout(0.001)
            try:
                if connection.recv(1):  # answered: the write is over
                    return None
            except TimeoutError:
                pass
    finally:
        connection.close()
    return None


def test_a_web_worker_killed_mid_upload_leaves_a_temporary_that_the_start_sweep_removes(tmp_path):
    password = "sweep-secret"
    # Large enough for its write and fsync to be caught in the act.
    body = make_image(2048, os.urandom(2048 * 2048 * 2) * 5, NumberOfFrames=5)
    with own_database("pharos_sweep") as database_url:
        server = Server(tmp_path, password, database_url)
        storage_dir = tmp_path / "storage"
        try:
            deadline = time.monotonic() + 120
            temporary = None
            while temporary is None and time.monotonic() < deadline:
                temporary = _kill_a_worker_mid_write(server, password, storage_dir, body, deadline)
            assert temporary is not None, "no upload was caught while writing its file"
            assert temporary.exists()  # left behind by the killed worker
        finally:
            server.stop()

        age(temporary, 2 * HOUR)
        server = Server(tmp_path, password, database_url)
        try:
            assert not temporary.exists()  # swept at start
            assert request(server.port, "/instances", password)[2] == b"[]"
        finally:
            server.stop()
        assert "Removed 1 temporary file(s) left in the storage area" in server.log()
