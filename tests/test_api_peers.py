"""REST /peers as Orthanc 1.10.1 answers it: the two forms of PUT, the public settings that never
show a password, the operations, the errors (404, 400) and who may do what."""

import json

import pytest
from django.test import Client

from dicomnet.models import OrthancPeer
from explorer import rights
from tests.conftest import basic_header
from tests.dicom_peers import free_port

pytestmark = pytest.mark.django_db


def put(api, name, body):
    return api.put(f"/peers/{name}", data=json.dumps(body), content_type="application/json")


def test_no_peer_at_first(api):
    assert api.get("/peers").json() == []
    assert api.get("/peers?expand").json() == {}


def test_the_array_forms_and_the_list_in_orthancs_order(api):
    assert put(api, "b-peer", ["http://127.0.0.1:8043"]).status_code == 200
    response = put(api, "A_peer", ["http://127.0.0.1:8044/", "bob", "secret"])
    assert (response.status_code, response.content, response["Content-Type"]) == (200, b"", "text/plain")
    assert api.get("/peers").json() == ["A_peer", "b-peer"]
    assert api.get("/peers/b-peer").json() == ["configuration", "store", "store-straight", "system"]
    # Orthanc's answers, word for word (reference R14).
    assert api.get("/peers?expand").json() == {
        "A_peer": {
            "HttpHeaders": [],
            "Password": None,
            "Pkcs11": False,
            "Timeout": 0,
            "Url": "http://127.0.0.1:8044/",
            "Username": "bob",
        },
        "b-peer": {"HttpHeaders": [], "Pkcs11": False, "Timeout": 0, "Url": "http://127.0.0.1:8043/"},
    }
    assert OrthancPeer.objects.get(name="A_peer").password == "secret"


def test_the_object_form_shows_neither_passwords_nor_header_values(api, tmp_path):
    certificate = tmp_path / "client.pem"
    certificate.write_text("kept as named")
    body = {
        "Url": "https://pacs.example.org:8042",
        "Username": "alice",
        "Password": "the-password",
        "HttpHeaders": {"Authorization-Token": "the-token"},
        "CertificateFile": str(certificate),
        "CertificateKeyFile": str(certificate),
        "CertificateKeyPassword": "the-key-password",
        "Timeout": 5,
        "Site": "north",
        "Flag": True,
    }
    assert put(api, "remote", body).status_code == 200
    shown = api.get("/peers/remote/configuration")
    assert shown.json() == {
        "CertificateFile": str(certificate),
        "CertificateKeyFile": None,
        "CertificateKeyPassword": None,
        "Flag": "1",
        "HttpHeaders": ["Authorization-Token"],
        "Password": None,
        "Pkcs11": False,
        "Site": "north",
        "Timeout": 5,
        "Url": "https://pacs.example.org:8042/",
        "Username": "alice",
    }
    listed = api.get("/peers?expand").content
    for secret in (b"the-password", b"the-token", b"the-key-password"):
        assert secret not in shown.content and secret not in listed


def test_a_put_replaces_every_setting(api):
    put(api, "remote", {"Url": "http://h:1/", "Username": "u", "Password": "p", "HttpHeaders": {"X": "1"}})
    put(api, "remote", {"URL": "http://h:2"})
    peer = OrthancPeer.objects.get(name="remote")
    assert (peer.url, peer.username, peer.password, peer.http_headers) == ("http://h:2/", "", "", {})


@pytest.mark.parametrize(
    "body, details",
    [
        (["http://h/", "bob"], "The HTTP password is not provided"),
        ({"Url": "ftp://h/"}, "Bad URL: ftp://h/"),
        ({}, "Empty URL"),
        ("http://h/", "A peer is a JSON object"),
        ({"Url": "http://h/", "Password": "p"}, "A password is given without a username"),
        ({"Url": "http://h/", "HttpHeaders": {"X": 1}}, "HttpHeaders"),
        ({"Url": "http://h/", "Timeout": -1}, "Unsigned integer value expected in field: Timeout"),
        ({"Url": "http://h/", "Other": [1]}, "must be strings: Other"),
    ],
)
def test_bad_bodies_are_orthancs_bad_file_format(api, body, details):
    response = put(api, "remote", body)
    assert response.status_code == 400
    assert response.json()["OrthancStatus"] == 15 and details in response.json()["Details"]
    assert not OrthancPeer.objects.exists()


def test_other_refusals(api):
    response = put(api, "a.b", ["http://h/"])
    assert response.status_code == 400 and "Only alphanumeric" in response.json()["Details"]
    response = put(api, "remote", {"Url": "http://h/", "CertificateFile": "/nonexistent.pem"})
    assert response.status_code == 404 and response.json()["OrthancError"] == "Inexistent file"
    response = api.put("/peers/remote", data=b"not json", content_type="application/json")
    assert response.status_code == 400


def test_unknown_peers(api):
    assert api.get("/peers/nope").status_code == 404
    for path in ("/peers/nope/configuration", "/peers/nope/system"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["Details"] == "No peer with symbolic name: nope"
    for path in ("/peers/nope/store", "/peers/nope/store-straight"):
        assert api.post(path, data=b"[]", content_type="application/json").status_code == 404
    response = api.delete("/peers/nope")
    assert (response.status_code, response.json()["Details"]) == (404, "Unknown Orthanc peer: nope")


def test_delete(api):
    put(api, "remote", ["http://h/"])
    response = api.delete("/peers/remote")
    assert (response.status_code, response.content) == (200, b"")
    assert api.get("/peers").json() == []


def test_an_unreachable_peer_is_orthancs_network_error(api):
    put(api, "down", [f"http://127.0.0.1:{free_port()}/"])
    response = api.get("/peers/down/system")
    assert response.status_code == 500
    assert response.json()["OrthancError"] == "Error in the network protocol"
    assert "Cannot reach the peer down" in response.json()["Details"]


@pytest.mark.parametrize(
    "body, details",
    [
        (b"", "Must provide a JSON value"),
        (b"not json", "Must provide a JSON value"),
        (b'{"Resources": "x"}', 'JSON field "Resources" must contain an array'),
        (b"{}", 'Missing field in JSON: "Resources"'),
        (b'["not-an-id"]', "This string is not a valid Orthanc identifier: not-an-id"),
        (b"[1]", "Resources to be exported must be specified as a JSON array of strings"),
        (b'{"Resources": [], "Transcode": "1.2.3"}', "Unknown transfer syntax UID: 1.2.3"),
    ],
)
def test_bad_store_bodies(api, body, details):
    put(api, "remote", ["http://127.0.0.1:1/"])
    response = api.post("/peers/remote/store", data=body, content_type="application/json")
    assert response.status_code == 400 and details in response.json()["Details"]


def test_storing_an_unknown_resource_is_404(api):
    put(api, "remote", ["http://127.0.0.1:1/"])
    response = api.post(
        "/peers/remote/store", data=b'["f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af"]', content_type=""
    )
    assert response.status_code == 404 and response.json()["OrthancError"] == "Unknown resource"


def client_of(django_user_model, role):
    user = django_user_model.objects.create_user(f"someone-{role}", password="pw")
    user.groups.add(rights.group_named(role))
    return Client(HTTP_AUTHORIZATION=basic_header(f"someone-{role}", "pw"))


def test_rights(api, django_user_model):
    put(api, "remote", ["http://127.0.0.1:1/"])
    viewer, operator = client_of(django_user_model, rights.VIEWER), client_of(django_user_model, rights.OPERATOR)
    assert viewer.get("/peers?expand").status_code == 200
    assert viewer.get("/peers/remote/configuration").status_code == 200
    assert viewer.post("/peers/remote/store", data=b"[]", content_type="application/json").status_code == 403
    # Sending is an operator's; changing the peers an administrator's.
    asynchronous = b'{"Resources": [], "Synchronous": false}'
    assert operator.post("/peers/remote/store", data=asynchronous, content_type="application/json").status_code == 200
    for client in (viewer, operator):
        assert client.put("/peers/other", data=b'["http://h/"]', content_type="application/json").status_code == 403
        assert client.delete("/peers/remote").status_code == 403
    assert Client().get("/peers").status_code == 401


def test_the_admin_never_shows_the_passwords(admin_client):
    form = {"name": "site-b", "url": "http://orthanc-b:8042", "username": "bob", "password": "the-password"}
    form |= {"http_headers": "{}", "timeout": 0, "user_properties": "{}", "certificate_key_password": "the-key"}
    response = admin_client.post("/admin/dicomnet/orthancpeer/add/", form, follow=True)
    assert response.status_code == 200
    peer = OrthancPeer.objects.get(name="site-b")
    assert (peer.url, peer.password, peer.certificate_key_password) == (
        "http://orthanc-b:8042/",
        "the-password",
        "the-key",
    )
    page = admin_client.get(f"/admin/dicomnet/orthancpeer/{peer.pk}/change/").content
    assert b"the-password" not in page and b"the-key" not in page
    # Saved again with the password fields left empty, both are kept.
    form |= {"password": "", "certificate_key_password": "", "username": "robert"}
    admin_client.post(f"/admin/dicomnet/orthancpeer/{peer.pk}/change/", form)
    peer.refresh_from_db()
    assert (peer.username, peer.password, peer.certificate_key_password) == ("robert", "the-password", "the-key")
