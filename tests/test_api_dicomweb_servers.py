"""REST configuration of the DICOMweb client (/dicom-web/servers), as Orthanc 1.10.1 with its
DICOMweb plugin answers it: names, settings without secrets, Orthanc's two body forms, its
errors, the rights; and the servers of the configuration file (DicomWeb.Servers)."""

import json

import pytest
from django.core.management.base import CommandError
from django.test import Client

from dicomnet.dicomweb import servers
from dicomnet.management.commands import configure
from dicomnet.models import DicomWebServer
from explorer import orthanc_config, rights
from tests.conftest import basic_header

pytestmark = pytest.mark.django_db

SECRET = "s3cret-pa55"


def put(api, name, body):
    return api.put(f"/dicom-web/servers/{name}", data=json.dumps(body), content_type="application/json")


def post(api, url, body):
    return api.post(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def pacs(api):
    body = {
        "Url": "https://pacs.example.org/dicom-web",
        "Username": "pharos",
        "Password": SECRET,
        "HttpHeaders": {"Authorization-Tenant": SECRET},
        "HasDelete": True,
        "Timeout": 7,
    }
    assert put(api, "pacs", body).json() == {}
    return api


def test_a_server_is_listed_and_shown_without_its_secrets(pacs):
    assert put(pacs, "simple", ["http://127.0.0.1:8042/dicom-web/"]).status_code == 200
    assert pacs.get("/dicom-web/servers").json() == ["pacs", "simple"]
    expanded = pacs.get("/dicom-web/servers?expand")
    assert SECRET not in expanded.content.decode()
    assert expanded.json() == {
        "pacs": {
            "HasDelete": "1",
            "HttpHeaders": ["Authorization-Tenant"],
            "Password": None,
            "Pkcs11": False,
            "Timeout": 7,
            "Url": "https://pacs.example.org/dicom-web/",
            "Username": "pharos",
        },
        "simple": {"HttpHeaders": [], "Pkcs11": False, "Timeout": 0, "Url": "http://127.0.0.1:8042/dicom-web/"},
    }
    assert pacs.get("/dicom-web/servers/pacs").json() == ["get", "retrieve", "stow", "wado", "qido", "delete"]
    assert pacs.get("/dicom-web/servers/simple").json() == ["get", "retrieve", "stow", "wado", "qido"]
    stored = DicomWebServer.objects.get(name="pacs")
    assert (stored.password, stored.http_headers) == (SECRET, {"Authorization-Tenant": SECRET})


def test_a_put_replaces_the_whole_server_and_delete_forgets_it(pacs):
    assert put(pacs, "pacs", ["http://other:8042/dicom-web", "bob", "pw"]).status_code == 200
    server = DicomWebServer.objects.get(name="pacs")
    assert (server.url, server.username, server.password) == ("http://other:8042/dicom-web/", "bob", "pw")
    assert (server.has_delete, server.timeout, server.http_headers) == (False, 0, {})
    assert pacs.delete("/dicom-web/servers/pacs").json() == {}
    assert pacs.get("/dicom-web/servers").json() == []
    # Orthanc answers an unknown name on DELETE with 400, not 404.
    again = pacs.delete("/dicom-web/servers/pacs")
    assert again.status_code == 400 and again.json()["Details"] == "Unknown DICOMweb server: pacs"


@pytest.mark.parametrize(
    "body, details",
    [
        ({}, "Empty URL"),
        ({"Url": "ftp://host/"}, "Bad URL: ftp://host/"),
        ({"Url": "http://host:port/"}, "Bad URL: http://host:port/"),
        ({"Url": "http:///dicom-web/"}, "Bad URL: http:///dicom-web/"),
        (["http://host/", "user"], "A DICOMweb server as an array is [Url] or [Url, Username, Password]"),
        ({"Url": "http://host/", "Colour": "red"}, "Unknown DICOMweb server parameter(s): Colour"),
        ({"Url": "http://host/", "HttpHeaders": {"X": 1}}, '"HttpHeaders" must be an object of header names to'),
        ({"Url": "http://host/", "Timeout": "soon"}, '"Timeout" must be a number of seconds'),
        ({"Url": "http://host/", "HttpHeaders": {"X-A": "b\r\nX-Injected: 1"}}, "Not a valid HTTP header: 'X-A'"),
        ({"Url": "http://host/", "HttpHeaders": {"Bad Name": "b"}}, "Not a valid HTTP header: 'Bad Name'"),
        ({"Url": "http://host/", "HasDelete": "maybe"}, '"HasDelete" must be true or false'),
        ("http://host/", "A DICOMweb server is a JSON object or array"),
    ],
)
def test_a_bad_server_is_refused_with_a_reason(api, body, details):
    answer = put(api, "bad", body)
    assert answer.status_code == 400
    assert answer.json()["OrthancStatus"] == 15 and answer.json()["Details"].startswith(details)
    assert not DicomWebServer.objects.exists()


def test_a_body_that_is_not_json_is_refused(api):
    answer = api.put("/dicom-web/servers/bad", data="{", content_type="application/json")
    assert answer.status_code == 400


def test_a_host_without_a_domain_is_a_url(api):
    # A container's name, as docker compose gives it.
    assert put(api, "orthanc", {"Url": "http://orthanc:8042/dicom-web/"}).status_code == 200


def test_the_admin_takes_a_container_name_and_never_shows_the_password(admin_client):
    form = {"name": "cloud", "url": "http://dicomweb:8042/dicom-web", "username": "bob", "password": "secret"}
    form |= {"http_headers": "{}", "timeout": 0, "chunked_transfers": "on"}
    assert admin_client.post("/admin/dicomnet/dicomwebserver/add/", form).status_code == 302
    server = DicomWebServer.objects.get(name="cloud")
    assert (server.url, server.password) == ("http://dicomweb:8042/dicom-web/", "secret")
    assert b"secret" not in admin_client.get(f"/admin/dicomnet/dicomwebserver/{server.pk}/change/").content
    refused = admin_client.post("/admin/dicomnet/dicomwebserver/add/", form | {"name": "b", "url": "ftp://x/"})
    assert refused.status_code == 200 and b"use http:// or https://" in refused.content


@pytest.mark.parametrize("action", ["stow", "qido", "get", "retrieve", "wado", "delete"])
def test_an_unknown_server_is_404(api, action):
    answer = post(api, f"/dicom-web/servers/nowhere/{action}", {"Resources": [], "Uri": "/studies"})
    assert answer.status_code == 404
    assert answer.json()["Details"] == "Inexistent server: nowhere"
    assert api.get("/dicom-web/servers/nowhere").status_code == 404


@pytest.mark.parametrize(
    "action, body, details",
    [
        ("stow", {"Resources": "abc"}, "containing an array of resources to be sent"),
        ("stow", [], "must provide a JSON object"),
        ("retrieve", {"Resources": [{"Series": "1.2"}]}, 'Missing "Study" field in the body'),
        ("retrieve", {"Resources": [{"Study": "1.2", "Instance": "1.4"}]}, 'Missing "Series" field'),
        ("retrieve", {"Resources": [{"Study": 12}]}, 'The field "Study" in a JSON object should be a string'),
        ("retrieve", {"Resources": [{"Study": "1.2"}], "Synchronous": "yes"}, '"Synchronous" must be true or false'),
        ("qido", {"Arguments": {}}, 'with the field "Uri"'),
        ("get", {"Uri": "/studies?PatientID=1"}, 'explicit "?" is disallowed'),
        ("qido", {"Uri": "/studies", "Arguments": ["PatientID"]}, '"Arguments" must be an object'),
        ("stow", {"Resources": [], "HttpHeaders": "X-A: b"}, '"HttpHeaders" must be an object'),
        ("get", {"Uri": "/studies", "HttpHeaders": {"X-A": "é"}}, "Not a valid HTTP header: 'X-A'"),
    ],
)
def test_a_bad_action_body_is_400(pacs, action, body, details):
    answer = post(pacs, f"/dicom-web/servers/pacs/{action}", body)
    assert answer.status_code == 400, answer.content
    assert details in answer.json()["Details"]


def test_sending_an_unknown_resource_is_404(pacs):
    answer = post(pacs, "/dicom-web/servers/pacs/stow", {"Resources": ["0000"]})
    assert answer.status_code == 404 and "0000" in answer.json()["Details"]


def test_deleting_on_a_server_needs_has_delete(api):
    put(api, "plain", {"Url": "http://host/"})
    answer = post(api, "/dicom-web/servers/plain/delete", {"Level": "Study", "StudyInstanceUID": "1.2"})
    assert answer.status_code == 400 and '"HasDelete"' in answer.json()["Details"]


@pytest.mark.parametrize(
    "role, listed, changed, sent",
    [(rights.VIEWER, 200, 403, 403), (rights.OPERATOR, 200, 403, 404), (rights.ADMINISTRATOR, 200, 200, 404)],
)
def test_who_may_do_what(django_user_model, role, listed, changed, sent):
    user = django_user_model.objects.create_user(role, password="pw")
    user.groups.add(rights.group_named(role))
    client = Client(HTTP_AUTHORIZATION=basic_header(role, "pw"))
    assert client.get("/dicom-web/servers").status_code == listed
    assert put(client, "mine", {"Url": "http://host/"}).status_code == changed
    assert post(client, "/dicom-web/servers/none/stow", {"Resources": []}).status_code == sent
    assert Client().get("/dicom-web/servers").status_code == 401


def test_the_configuration_file_servers_are_saved(tmp_path):
    path = tmp_path / "orthanc.json"
    path.write_text(
        """{ // Orthanc's format, comments and all
        "DicomWeb": {"Enable": true, "Servers": {
            "sample": ["http://127.0.0.1:8042/dicom-web/", "alice", "alicePassword"],
            "google": {"Url": "https://healthcare.googleapis.com/v1/", "HttpHeaders": {"Authorization": "Bearer x"},
                       "ChunkedTransfers": "0", "HasDelete": "1"}
        }}}"""
    )
    configure.apply(orthanc_config.read(path))  # what `manage.py configure` does at each start
    assert servers.names() == ["google", "sample"]
    google = servers.get("google")
    assert (google.chunked_transfers, google.has_delete, google.http_headers) == (
        False,
        True,
        {"Authorization": "Bearer x"},
    )
    assert servers.public(google)["ChunkedTransfers"] == "0"
    assert (servers.get("sample").username, servers.get("sample").password) == ("alice", "alicePassword")
    path.write_text('{"DicomWeb": {"Servers": {"broken": {"Url": "gopher://x"}}}}')
    with pytest.raises(CommandError, match="DicomWeb.Servers 'broken': Bad URL: gopher://x"):
        configure.apply(orthanc_config.read(path))
