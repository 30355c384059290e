"""dicomnet/peers/configuration.py: the peers of the configuration file (OrthancPeers), applied at
start as REST's PUT applies them, and the forms a peer is shown in."""

import json

import pytest
from django.core.management import CommandError, call_command

from dicomnet.management.commands.configure import apply
from dicomnet.models import OrthancPeer
from dicomnet.peers import configuration
from explorer import orthanc_config

pytestmark = pytest.mark.django_db


def file_configuration(tmp_path, peers):
    path = tmp_path / "orthanc.json"
    path.write_text(json.dumps({"OrthancPeers": peers}))
    return orthanc_config.read(path)


def test_the_files_peers_in_both_forms(tmp_path):
    (tmp_path / "client.pem").write_text("a certificate")
    peers = {
        "simple": ["http://orthanc-b:8042"],
        "with-user": ["https://pacs.example.org/orthanc/", "bob", "secret"],
        "advanced": {
            "Url": "https://site-c:8042",
            "Username": "carol",
            "Password": "her-password",
            "HttpHeaders": {"X-Tenant": "north"},
            "CertificateFile": "client.pem",
            "CertificateKeyFile": "client.pem",
            "CertificateKeyPassword": "key-password",
            "Timeout": 30,
        },
    }
    apply(file_configuration(tmp_path, peers))
    assert configuration.names() == ["advanced", "simple", "with-user"]
    advanced = OrthancPeer.objects.get(name="advanced")
    # A relative path starts from the configuration's folder, as for Pharos's other files.
    assert advanced.certificate_file == str(tmp_path / "client.pem")
    assert (advanced.password, advanced.certificate_key_password, advanced.timeout) == (
        "her-password",
        "key-password",
        30,
    )
    assert OrthancPeer.objects.get(name="with-user").url == "https://pacs.example.org/orthanc/"


def test_a_peer_added_otherwise_is_left_and_the_file_wins_for_its_own(tmp_path):
    configuration.save("by-rest", configuration.fields_from_body(["http://h:1/"]))
    configuration.save("simple", configuration.fields_from_body(["http://old:1/"]))
    apply(file_configuration(tmp_path, {"simple": ["http://new:2/"]}))
    assert configuration.names() == ["by-rest", "simple"]
    assert OrthancPeer.objects.get(name="simple").url == "http://new:2/"


def test_a_bad_peer_stops_the_start_naming_it(tmp_path):
    with pytest.raises(CommandError, match=r"OrthancPeers in .*orthanc.json: 'broken': The HTTP password"):
        apply(file_configuration(tmp_path, {"broken": ["http://h/", "bob"]}))
    with pytest.raises(CommandError, match="Cannot open certificate file"):
        apply(file_configuration(tmp_path, {"tls": {"Url": "https://h/", "CertificateFile": "missing.pem"}}))


def test_the_configure_command_applies_them(tmp_path, monkeypatch):
    path = tmp_path / "orthanc.json"
    path.write_text('{ "OrthancPeers" : { "site-b" : [ "http://127.0.0.1:8043/" ], } // a comment\n}')
    monkeypatch.setenv(orthanc_config.VARIABLE, str(path))
    call_command("configure")
    assert configuration.names() == ["site-b"]


def test_the_peers_settings_are_not_named_in_the_warning(tmp_path):
    path = tmp_path / "orthanc.json"
    path.write_text(json.dumps({"OrthancPeers": {}, "OrthancPeersInDatabase": True, "HttpsVerifyPeers": True}))
    assert orthanc_config.read(path).not_honoured() == []


def test_a_jobs_content_names_the_peer_as_orthanc_does_without_secrets():
    plain = configuration.save("plain", configuration.fields_from_body(["http://h:1"]))
    assert configuration.described(plain) == ["http://h:1/"]
    user = configuration.save("user", configuration.fields_from_body(["http://h:1", "bob", "secret"]))
    assert configuration.described(user) == ["http://h:1/", "bob", ""]
    body = {"Url": "http://h:1", "Username": "bob", "Password": "secret", "HttpHeaders": {"Token": "abc"}}
    headers = configuration.save("headers", configuration.fields_from_body(body))
    assert configuration.described(headers) == {
        "HttpHeaders": {"Token": None},
        "Pkcs11": False,
        "Timeout": 0,
        "Url": "http://h:1/",
        "Username": "bob",
    }
