"""What requests answer when the server fails (explorer/failures.py): 503 in Orthanc's JSON
shape with a real PostgreSQL and a real Redis stopped under a real server, 401 for bad
credentials meanwhile, the first request after the database returns served, 400 for a NUL
byte or a too-long identifier, and never Django's bare HTML 500."""

import json
import re
import time
import uuid

import pytest
import redis
from django.db import DataError, OperationalError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from explorer import failures
from explorer.errors import BadRequest, DatabaseUnavailable, JobQueueUnavailable
from explorer.identifiers import MAX_IDENTIFIER_LENGTH
from tests.conftest import CT_SMALL_IDS, basic_header, dicom_bytes
from tests.outages import private_postgres, private_redis
from tests.pharos_server import Server, request

ORTHANC_KEYS = {"HttpError", "HttpStatus", "Message", "Method", "OrthancError", "OrthancStatus", "Uri"}


def client():
    """A Basic client that gets the answer Django gives the network, not the exception."""
    return Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland"), raise_request_exception=False)


def assert_orthanc_error(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert ORTHANC_KEYS <= set(body) and body["HttpStatus"] == status
    return body


# --- in process: what each failure is answered with ----------------------------------------


def test_failures_map_to_orthanc_errors():
    assert isinstance(failures.error_for(OperationalError("connection refused")), DatabaseUnavailable)
    assert isinstance(failures.error_for(redis.exceptions.ConnectionError("refused")), JobQueueUnavailable)
    assert isinstance(failures.error_for(redis.exceptions.TimeoutError()), JobQueueUnavailable)
    assert isinstance(failures.error_for(DataError("NUL")), BadRequest)
    assert failures.error_for(RuntimeError("a bug")) is None


@pytest.mark.django_db
def test_a_database_failure_in_a_view_is_503_with_retry_after(user, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr("explorer.api.system.json_response", down)
    response = client().get("/system")
    body = assert_orthanc_error(response, 503)
    assert body["OrthancStatus"] == 36 and body["Uri"] == "/system" and body["Method"] == "GET"
    assert response["Retry-After"] == str(DatabaseUnavailable.retry_after)


@pytest.mark.django_db
def test_a_redis_failure_in_a_view_is_503(user, monkeypatch):
    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr("explorer.api.system.json_response", down)
    body = assert_orthanc_error(client().get("/system"), 503)
    assert "Redis" in body["OrthancError"]


@pytest.mark.django_db
def test_an_unforeseen_error_is_a_json_500_on_the_api_and_a_page_on_the_explorer(user, monkeypatch):
    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("explorer.api.system.json_response", bug)
    body = assert_orthanc_error(client().get("/system"), 500)
    assert body["OrthancError"] == "Internal error"

    monkeypatch.setattr("explorer.views.study_listing", bug)
    page = client().get("/ui/studies")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
    assert b"<h1>Internal Server Error</h1>" in page.content and b"Server Error (500)" not in page.content


@pytest.mark.django_db
def test_a_database_outage_on_a_page_is_a_readable_503_page(user, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr("explorer.views.study_listing", down)
    page = client().get("/ui/studies")
    assert page.status_code == 503 and page["Content-Type"].startswith("text/html")
    assert b"Service Unavailable" in page.content and b"Try again" in page.content
    assert page["Retry-After"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/studies/ab%00cd",
        "/studies/ab%00cd/series",
        "/studies?since=0%00&limit=1",
        "/changes?since%00=1",
        "/jobs/%00",
        "/modalities/x%00/configuration",
    ],
)
def test_a_nul_byte_in_the_path_or_a_query_argument_is_400(ct, path):
    body = assert_orthanc_error(client().get(path), 400)
    assert "NUL" in body["Details"]


@pytest.mark.django_db
def test_a_nul_byte_in_a_page_address_is_a_400_page(user):
    page = client().get("/ui/studies/ab%00cd")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, body",
    [
        ("/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": "1.2\x00"}}),
        ("/tools/find", {"Level": "Study", "Query": {"PatientName\x00": "*"}}),
        ("/tools/create-archive", {"Resources": ["a\x00"]}),
    ],
)
def test_a_nul_character_in_a_json_body_is_400(ct, path, body):
    response = client().post(path, data=json.dumps(body), content_type="application/json")
    assert "NUL" in assert_orthanc_error(response, 400)["Details"]


@pytest.mark.django_db
def test_an_identifier_with_a_nul_byte_or_too_long_is_400(ct):
    api = client()
    too_long = "1." * MAX_IDENTIFIER_LENGTH
    assert_orthanc_error(api.post("/tools/lookup", data="1.2.3\x00", content_type="text/plain"), 400)
    assert_orthanc_error(api.post("/tools/lookup", data=too_long, content_type="text/plain"), 400)
    for path in (f"/studies/{too_long}", f"/instances/{too_long}/tags", f"/jobs/{too_long}", f"/queries/{too_long}"):
        assert "longer than" in assert_orthanc_error(api.get(path), 400)["Details"], path
    query = {"Level": "Study", "Query": {"StudyInstanceUID": f"1.2.3\\{too_long}"}}
    response = api.post("/tools/find", data=json.dumps(query), content_type="application/json")
    assert "StudyInstanceUID value is longer than" in assert_orthanc_error(response, 400)["Details"]
    # The longest identifier the index holds is still looked up.
    assert api.post("/tools/lookup", data="1" * MAX_IDENTIFIER_LENGTH, content_type="text/plain").json() == []
    assert api.get(f"/studies/{CT_SMALL_IDS['study']}").status_code == 200


def skip_unless_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores NUL characters and values of any length")


@pytest.mark.django_db
def test_a_value_the_database_refuses_is_400(ct):
    """PostgreSQL's text holds no NUL: a NUL that no check before caught reaches it as a
    DataError, the client's mistake."""
    from dicomnet.models import Modality

    skip_unless_postgresql()
    Modality.objects.create(name="nowhere", aet="NOWHERE", host="127.0.0.1", port=1)
    # A plain-text body naming a resource, as Orthanc accepts it, goes to the job's parameters.
    response = client().post("/modalities/nowhere/store", data="abc\x00", content_type="text/plain")
    assert_orthanc_error(response, 400)


@pytest.mark.django_db
def test_a_file_whose_uid_the_index_cannot_hold_is_400_and_leaves_no_file(ct, storage_dir):
    from tests.conftest import make_dicom, upload

    skip_unless_postgresql()
    response = upload(client(), make_dicom(SOPInstanceUID="1." * 100))
    assert "the SOP Instance UID has 200 characters" in assert_orthanc_error(response, 400)["Details"]
    assert len(list(storage_dir.rglob("*.dcm"))) == 1  # CT_small's alone


@pytest.mark.django_db
def test_a_session_the_database_cannot_read_is_503_on_pages_and_the_api(user, monkeypatch):
    """The session is read by a middleware, before any view: handler500 answers."""
    from django.contrib.sessions.backends.db import SessionStore

    browser = Client(raise_request_exception=False)
    browser.force_login(user)

    def down(self):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(SessionStore, "_get_session_from_db", down)
    page = browser.get("/ui/studies")
    assert page.status_code == 503 and page["Content-Type"].startswith("text/html")
    assert b"Service Unavailable" in page.content
    assert assert_orthanc_error(browser.get("/studies"), 503)["OrthancStatus"] == 36


@pytest.mark.django_db
def test_a_view_raising_http404_on_the_api_is_json(user):
    assert_orthanc_error(client().get("/nonexistent"), 404)


@pytest.mark.django_db
def test_an_explorer_address_not_found_is_named_on_its_page(user):
    response = client().get("/ui/nowhere/at-all", HTTP_ACCEPT="text/html")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert "Pharos has no page at /ui/nowhere/at-all" in response.content.decode()


# --- a real server on a PostgreSQL and a Redis of its own, stopped and started -------------

PASSWORD = "outage-password"


@pytest.fixture(scope="module")
def outage_server(tmp_path_factory):
    """One web worker: the credentials it remembers are those every request meets."""
    with private_postgres() as database, private_redis() as queue:
        server = Server(
            tmp_path_factory.mktemp("outage"), PASSWORD, database.url, REDIS_URL=queue.url, PHAROS_HTTP_WORKERS="1"
        )
        try:
            status, _, _ = request(server.port, "/instances", PASSWORD, "POST", dicom_bytes("CT_small.dcm"))
            assert status == 200
            server.database, server.queue = database, queue
            yield server
        finally:
            server.stop()


def get(server, path, method="GET", data=None, password=PASSWORD, content_type=None):
    return request(server.port, path, password, method, data, content_type)


def wait_for(condition, seconds, message):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def test_the_first_request_after_a_database_restart_succeeds(outage_server):
    for _ in range(5):  # connections opened and kept (CONN_MAX_AGE)
        assert get(outage_server, "/instances")[0] == 200
    outage_server.database.stop()
    outage_server.database.start()
    status, _, body = get(outage_server, "/instances")
    assert status == 200 and json.loads(body) == [CT_SMALL_IDS["instance"]]


def _concrete(route, default_args):
    """A path for a route pattern, with the sample study's ids and harmless names."""
    level = default_args.get("level")
    values = {
        "public_id": CT_SMALL_IDS[level.name.lower()] if level else CT_SMALL_IDS["study"],
        "name": "sample",
        "job_id": str(uuid.uuid4()),
        "query_id": str(uuid.uuid4()),
        "index": "0",
        "path": "0010-0010",
        "frame": "0",
        "action": "cancel",
    }
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: values.get(match.group(1), "sample"), route)


def rest_routes():
    paths = []

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if "^" in route or route.startswith(("admin/", "login/", "logout/", "static/")):
                    continue
                paths.append(_concrete(route, pattern.default_args))

    walk(get_resolver().url_patterns, "")
    return sorted(set(paths))


def _answer(server, path):
    """(status, headers, body) of a route with its first method (GET, else what Allow says)."""
    status, headers, body = get(server, path)
    if status == 405:
        method = headers["Allow"].split(",")[0]
        status, headers, body = get(server, path, method, b"{}", content_type="application/json")
    return status, headers, body


def test_with_the_database_down_every_route_answers_503_in_orthancs_shape(outage_server):
    routes = rest_routes()
    assert len(routes) > 100  # the whole route table, pages included
    assert get(outage_server, "/statistics")[0] == 200  # the credentials are remembered
    outage_server.database.stop()
    try:
        for path in routes:
            status, headers, body = _answer(outage_server, path)
            page = path == "/" or path.startswith(failures.PAGE_PREFIXES)
            # Routes that need no database answer as usual; none answers 500.
            assert status != 500, (path, body[:300])
            if page:
                if status >= 500:
                    assert status == 503 and headers["Content-Type"].startswith("text/html"), (path, status)
                    assert b"Service Unavailable" in body
                continue
            if status >= 400:
                assert headers.get("Content-Type", "").startswith("application/json"), (path, status, body[:200])
            if status >= 500:
                error = json.loads(body)
                assert status == 503 and ORTHANC_KEYS <= set(error) and error["OrthancStatus"] == 36, (path, body)
                assert headers["Retry-After"]
    finally:
        outage_server.database.start()
    assert get(outage_server, "/statistics")[0] == 200


def test_bad_credentials_stay_401_while_the_database_is_down(outage_server):
    outage_server.database.stop()
    try:
        status, headers, _ = get(outage_server, "/studies", password="wrong password")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
        status, headers, _ = request(outage_server.port, "/studies", None)
        assert status == 401
    finally:
        outage_server.database.start()
    assert get(outage_server, "/studies")[0] == 200


def test_with_redis_down_an_asynchronous_job_fails_at_once_with_the_reason(outage_server):
    modality = {"AET": "NOWHERE", "Host": "127.0.0.1", "Port": 1}
    assert get(outage_server, "/modalities/nowhere", "PUT", json.dumps(modality).encode())[0] == 200
    job_request = json.dumps({"Resources": [CT_SMALL_IDS["study"]], "Asynchronous": True}).encode()
    outage_server.queue.stop()
    try:
        status, headers, body = get(outage_server, "/modalities/nowhere/store", "POST", job_request)
        error = json.loads(body)
        assert status == 503 and headers["Retry-After"] and ORTHANC_KEYS <= set(error)
        assert "Redis" in error["Details"]

        jobs = json.loads(get(outage_server, "/jobs?expand")[2])  # the database alone answers
        [job] = [job for job in jobs if job["Type"] == "DicomModalityStore"]
        assert job["State"] == "Failure"
        assert job["ErrorDetails"].startswith("The job queue (Redis) is unreachable")
        # A page that reads Redis answers 503 too, as a page.
        status, headers, _ = get(outage_server, "/admin/queues/")
        assert status == 503 and headers["Content-Type"].startswith("text/html")
    finally:
        outage_server.queue.start()
    status, _, body = get(outage_server, "/modalities/nowhere/store", "POST", job_request)
    assert status == 200 and "ID" in json.loads(body)
    resubmitted = get(outage_server, f"/jobs/{job['ID']}/resubmit", "POST", b"{}")
    assert resubmitted[0] == 200
    # Queued this time: a worker takes it (and fails it: nobody listens on port 1).
    wait_for(
        lambda: json.loads(get(outage_server, f"/jobs/{job['ID']}")[2])["ErrorDetails"] != job["ErrorDetails"],
        60,
        "the resubmitted job never ran",
    )
