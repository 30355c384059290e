"""Shared fixtures: real DICOM files, a fresh storage area per test, API clients with credentials."""

import base64
import io
import os
import warnings
import zipfile

import pytest
from django.test import Client
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from explorer import runtime_settings

warnings.filterwarnings("ignore", module="pydicom")


def _a_data_folder_per_worker():
    """Under pytest-xdist (`-n 2`, as CI runs), each worker process gets a data folder of its own
    (the DICOM association slots' lock file, the previews' cache, the SQLite test database) and
    a Redis of its own on a socket there (the job queue that a test empties and runs): two
    workers' tests never see each other's. Django's settings are read before this file, so the
    values made from PHAROS_DATA_DIR and REDIS_URL are set again here; the environment is set
    too, for the programs the tests start."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return None
    from django.conf import settings

    data = settings.DATA_DIR / worker
    data.mkdir(parents=True, exist_ok=True)
    settings.DATA_DIR = data
    settings.STORAGE_DIR = data / "storage"
    settings.CACHES["previews"]["LOCATION"] = str(data / "cache" / "previews")
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        database["NAME"] = str(data / "pharos.sqlite3")
        database["TEST"]["NAME"] = str(data / "test-pharos.sqlite3")
    settings.PHAROS_EMBEDDED_REDIS = True
    settings.REDIS_URL = f"unix://{data / 'redis.sock'}"
    settings.RQ_QUEUES["default"]["URL"] = settings.REDIS_URL
    os.environ.update(PHAROS_DATA_DIR=str(data), REDIS_URL=settings.REDIS_URL)
    return True


# The worker's Redis starts in a fixture (worker_redis), not here: a worker's coverage starts
# after this file is read, and would miss what the start command's modules run on import.
_IN_A_WORKER = _a_data_folder_per_worker()


def _no_log_level_follower():
    """A server process follows the log level stored through /tools/log-level with a thread
    (explorer/logs.py) that importing explorer.wsgi starts. In the tests' process that thread,
    reading the runtime settings every second on its own connection, would fill their cache
    without what a test has changed in its still open transaction, and the test would read
    the old value: this process is no server, so it counts as following already."""
    from explorer import logs

    logs._follower["pid"] = os.getpid()


_no_log_level_follower()


# Fixtures live beside the tests: real DICOM peers (our SCP, DCMTK tools, pynetdicom SCPs),
# the HTML pages' (logged-in browsers, sample studies), the C-FIND tests' index; tests/tools.py
# skips or fails (under CI) a test whose program is missing.
pytest_plugins = ["tests.tools", "tests.dicom_peers", "tests.page_helpers", "tests.find_archive"]

CT_SMALL = "CT_small.dcm"
CT_SMALL_IDS = {
    "patient": "fa558bce-587a86d3-ad0da9b3-9d043d9d-4f5c5718",
    "study": "8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d",
    "series": "93034833-163e42c3-bc9a428b-194620cf-2c5799e5",
    "instance": "f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af",
}
# Files from pydicom and pydicom-data covering transfer syntaxes and modalities.
VARIED_FILES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "JPEG2000.dcm",
    "SC_rgb_rle.dcm",
    "emri_small_big_endian.dcm",
    "JPEG-LL.dcm",
    "US1_J2KR.dcm",
    "OBXXXX1A_rle_2frame.dcm",
    "color3d_jpeg_baseline.dcm",
    "emri_small_jpeg_ls_lossless.dcm",
    "chrH31.dcm",
]


def sample_path(name):
    """A file from pydicom's test files, pydicom-data, or pydicom's character set samples."""
    path = get_testdata_file(name, download=False)
    if path is None:
        path = next(iter(get_charset_files(name)), None)
    assert path, f"no test file named {name}"
    return path


def dicom_bytes(name):
    with open(sample_path(name), "rb") as handle:
        return handle.read()


def make_dicom(**tags):
    """A small valid Part 10 file; keyword arguments set or (with None) remove tags."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.PatientID = "PHAROS-TEST"
    ds.PatientName = "Test^Patient"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyDate = "20240101"
    ds.Modality = "OT"
    for keyword, value in tags.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", generate_uid())
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def make_image(size, pixel_data, **tags):
    """A small valid Part 10 file holding a size×size 16-bit monochrome image."""
    return make_dicom(
        Rows=size,
        Columns=size,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=16,
        BitsStored=16,
        HighBit=15,
        PixelRepresentation=0,
        PixelData=pixel_data,
        **tags,
    )


@pytest.fixture(autouse=True)
def storage_dir(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "storage"
    settings.STORAGE_DIR.mkdir()
    # The real hasher is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each test starts from the configured runtime settings, not another test's copy.
    runtime_settings.forget()
    return settings.STORAGE_DIR


@pytest.fixture(autouse=True)
def scu_associations(monkeypatch):
    """The associations a test's operations left open for reuse (DicomAssociationCloseDelay)
    are released when it ends: a later test's peer on the same port must not get them. A
    failed association is tried again at once: the tests count the tries, and a second's
    pause before each (a real peer's time to come back) only slows them down."""
    from dicomnet.scu import association

    monkeypatch.setattr(association, "RETRY_DELAY_SECONDS", 0)
    yield
    from dicomnet.scu import pool

    pool.release_all()


@pytest.fixture(autouse=True)
def migrated_groups(request):
    """The groups migration 0006 makes, made again for a test in a rolled-back transaction
    when a test that committed (transactional_db) has emptied every table before it in this
    process: pytest-django runs the rolled-back tests first, but under pytest-xdist a process
    runs a module's tests together, so a committing test of an earlier module may come first."""
    marker = request.node.get_closest_marker("django_db")
    committing = {"transactional_db", "live_server"} & set(request.fixturenames)
    transaction = marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    if committing or transaction or ("db" not in request.fixturenames and marker is None):
        return
    request.getfixturevalue("db")
    from django.apps import apps
    from django.contrib.auth.models import Group

    from explorer import rights

    if Group.objects.filter(name__in=rights.GROUPS).count() < len(rights.GROUPS):
        rights.create_groups(apps)


def basic_header(username, password):
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


@pytest.fixture
def user(db, django_user_model):
    """alice, an administrator: every right but a superuser's (tests/test_rights.py tries the others)."""
    from explorer import rights

    alice = django_user_model.objects.create_user("alice", password="wonderland")
    alice.groups.add(rights.group_named(rights.ADMINISTRATOR))
    return alice


@pytest.fixture
def api(user):
    """A client that authenticates as an API client does: HTTP Basic on every request."""
    return Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland"))


def zip_of(members):
    """A ZIP archive in memory of {name: bytes}."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def ct(api):
    """The API client, with CT_small stored."""
    assert upload(api, dicom_bytes(CT_SMALL)).status_code == 200
    return api


def upload(api, data, content_type="application/dicom"):
    return api.post("/instances", data=data, content_type=content_type)


@pytest.fixture(scope="session", autouse=True)
def worker_redis():
    """Under pytest-xdist, the worker's own Redis (a socket in its data folder), from its
    first test to its last: the programs the tests start find it through REDIS_URL."""
    if not _IN_A_WORKER:
        yield None
        return
    from explorer.management.commands.start import start_embedded_redis

    process = start_embedded_redis()
    yield process
    process.terminate()
    process.wait()


@pytest.fixture(scope="session")
def redis_url(worker_redis):
    """A real Redis: the worker's own under pytest-xdist, else REDIS_URL when set (CI: the
    server at 127.0.0.1:6379), else the embedded one."""
    from django.conf import settings

    process = None
    if settings.PHAROS_EMBEDDED_REDIS and worker_redis is None:
        from explorer.management.commands.start import start_embedded_redis

        process = start_embedded_redis()
    yield settings.REDIS_URL
    if process is not None:
        process.terminate()
        process.wait()


@pytest.fixture
def queue(redis_url):
    import django_rq

    default = django_rq.get_queue("default")
    default.empty()
    yield default
    default.empty()


def run_queued_jobs():
    """A burst worker in this process: runs what is queued, then returns."""
    import django_rq
    from rq import SimpleWorker

    class BurstWorker(SimpleWorker):
        # No command channel (stop, kill) for a worker that lives one call: at its end, redis-py 8's
        # pubsub thread, unsubscribed, waits up to rq's 60 s for a new subscription before it stops.
        def subscribe(self):
            pass

    django_rq.get_worker("default", worker_class=BurstWorker).work(burst=True)
