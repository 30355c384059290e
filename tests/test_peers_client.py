"""dicomnet/peers/client.py over HTTPS: the peer, a started Pharos serving HTTPS with a certificate a
test authority signed, is checked against PHAROS_HTTPS_CA_CERTIFICATES (or not, with
PHAROS_HTTPS_VERIFY_PEERS off); a client certificate whose key has a password is loaded and
shown. (Debian's Orthanc 1.10.1 stops on its first HTTPS request here, with OpenSSL 3: the peer
is Pharos.) The certificates are made here with openssl."""

import json
import subprocess

import pytest

from dicomnet.peers import client, configuration
from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, upload
from tests.pharos_server import Server, own_database
from tests.tools import require_tool

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "https-peer"
KEY_PASSWORD = "key-password"


def openssl(*args, cwd):
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A test authority, the certificate it signed for 127.0.0.1, and a client certificate with
    its key encrypted."""
    require_tool("openssl")
    folder = tmp_path_factory.mktemp("certificates")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Pharos test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=folder)  # fmt: skip
    (folder / "names.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "names.ext", "-out", "server.pem", cwd=folder)  # fmt: skip
    openssl("req", "-x509", "-newkey", "rsa:2048", "-days", "2", "-subj", "/CN=pharos-client",
            "-keyout", "client.key", "-passout", f"pass:{KEY_PASSWORD}", "-out", "client.pem", cwd=folder)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def https_server(tmp_path_factory, certificates):
    with own_database("pharos_https_peer") as database_url:
        started = Server(
            tmp_path_factory.mktemp("https-peer") / "data",
            PASSWORD,
            database_url,
            PHAROS_TLS_CERT=str(certificates / "server.pem"),
            PHAROS_TLS_KEY=str(certificates / "server.key"),
        )
        yield started
        started.stop()


def https_peer(server, certificates, **settings):
    body = {
        "Url": f"https://127.0.0.1:{server.port}",
        "Username": "admin",
        "Password": PASSWORD,
        "CertificateFile": str(certificates / "client.pem"),
        "CertificateKeyFile": str(certificates / "client.key"),
        "CertificateKeyPassword": KEY_PASSWORD,
    } | settings
    return configuration.save("secure", configuration.fields_from_body(body))


def test_https_to_a_peer_an_authority_vouches_for(https_server, certificates, settings, api):
    settings.PHAROS_HTTPS_CA_CERTIFICATES = str(certificates / "ca.pem")
    peer = https_peer(https_server, certificates)
    assert json.loads(client.system(peer))["HttpPort"] == https_server.port
    # A send with the same settings, gzipped: the peer has the file after it.
    assert upload(api, dicom_bytes(CT_SMALL)).status_code == 200
    body = json.dumps({"Resources": [CT_SMALL_IDS["instance"]], "Compress": True})
    response = api.post("/peers/secure/store", data=body, content_type="application/json")
    assert response.status_code == 200, response.content
    found = client.request(client.session(peer), peer, "GET", f"instances/{CT_SMALL_IDS['instance']}").json()
    assert found["ID"] == CT_SMALL_IDS["instance"]


def test_a_peer_no_trusted_authority_signed(https_server, certificates, settings):
    settings.PHAROS_HTTPS_CA_CERTIFICATES = None  # the system's authorities
    with pytest.raises(client.PeerError, match="CERTIFICATE_VERIFY_FAILED"):
        client.system(https_peer(https_server, certificates))
    settings.PHAROS_HTTPS_VERIFY_PEERS = False
    assert json.loads(client.system(https_peer(https_server, certificates)))["HttpPort"] == https_server.port


def test_a_wrong_key_password_is_said(https_server, certificates, settings):
    peer = https_peer(https_server, certificates, CertificateKeyPassword="wrong")
    with pytest.raises(client.PeerError, match="client certificate of the peer secure cannot be used"):
        client.system(peer)


def test_pkcs11_is_said_to_be_unsupported(https_server, certificates):
    peer = https_peer(https_server, certificates, Pkcs11=True)
    with pytest.raises(client.PeerError, match="PKCS#11"):
        client.system(peer)
