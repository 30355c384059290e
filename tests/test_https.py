"""HTTPS served by the web server itself (explorer/tls.py, the TLS block of explorer/settings.py):
a certificate given, or Orthanc's SslCertificate, or one made at first start; cookies Secure,
HSTS sent; `manage.py check --deploy` clean with the production settings the README gives."""

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
from base64 import b64encode

import pytest

from tests.pharos_server import ROOT, Server
from tests.tools import require_tool

PASSWORD = "https-password"
AUTHORIZATION = "Basic " + b64encode(f"admin:{PASSWORD}".encode()).decode()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A test CA, and a certificate it signed for localhost and 127.0.0.1 with its key."""
    require_tool("openssl")
    folder = tmp_path_factory.mktemp("certificates")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Pharos test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr", cwd=folder)  # fmt: skip
    (folder / "names.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "names.ext", "-out", "server.pem", cwd=folder)  # fmt: skip
    return folder


def https(port, cafile, path, method="GET", body=None, headers=None):
    """(status, headers as a list, body) of one request over HTTPS, trusting only `cafile`."""
    context = ssl.create_default_context(cafile=str(cafile))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def cookies(headers):
    return [value for name, value in headers if name.lower() == "set-cookie"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, certificates):
    started = Server(
        tmp_path_factory.mktemp("https") / "data",
        PASSWORD,
        PHAROS_TLS_CERT=str(certificates / "server.pem"),
        PHAROS_TLS_KEY=str(certificates / "server.key"),
    )
    yield started
    started.stop()


def test_the_api_answers_over_https_with_hsts(server, certificates):
    status, headers, body = https(
        server.port, certificates / "ca.pem", "/system", headers={"Authorization": AUTHORIZATION}
    )
    assert status == 200 and json.loads(body)["Name"]
    assert dict(headers)["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_login_cookies_are_secure(server, certificates):
    ca = certificates / "ca.pem"
    status, headers, page = https(server.port, ca, "/login/")
    assert status == 200
    (csrf_cookie,) = cookies(headers)
    assert "; Secure" in csrf_cookie
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = f"username=admin&password={PASSWORD}&csrfmiddlewaretoken={token}"
    status, headers, _ = https(server.port, ca, "/login/", "POST", form, {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": csrf_cookie.split(";")[0],
        "Origin": f"https://127.0.0.1:{server.port}",
        "Referer": f"https://127.0.0.1:{server.port}/login/",
    })  # fmt: skip
    assert status == 302
    session = [cookie for cookie in cookies(headers) if cookie.startswith("sessionid=")]
    assert session and all("; Secure" in cookie for cookie in session)


def test_plain_http_is_not_served_on_the_https_port(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    with pytest.raises((OSError, http.client.HTTPException)):
        connection.request("GET", "/system")
        connection.getresponse().read()
    connection.close()


def test_self_signed_makes_a_certificate_at_first_start(tmp_path):
    require_tool("openssl")
    data = tmp_path / "data"
    server = Server(data, PASSWORD, PHAROS_TLS="self-signed")
    try:
        certificate, key = data / "tls" / "certificate.pem", data / "tls" / "key.pem"
        assert certificate.exists() and key.exists()
        assert key.stat().st_mode & 0o777 == 0o600
        status, _, _ = https(server.port, certificate, "/system", headers={"Authorization": AUTHORIZATION})
        assert status == 200
    finally:
        server.stop()
    made = certificate.read_bytes()
    Server(data, PASSWORD, PHAROS_TLS="self-signed").stop()
    assert certificate.read_bytes() == made  # kept from one start to the next


def settings_probe(env, *names):
    probe = (
        "import django; django.setup(); from django.conf import settings; from explorer import tls; "
        f"print([str(getattr(settings, name, None)) for name in {list(names)!r}], tls.certificate_and_key())"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="explorer.settings", **env)
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_orthancs_ssl_options_turn_https_on_with_one_pem(tmp_path, certificates):
    combined = tmp_path / "orthanc.pem"
    combined.write_bytes((certificates / "server.key").read_bytes() + (certificates / "server.pem").read_bytes())
    configuration = tmp_path / "orthanc.json"
    configuration.write_text(json.dumps({"SslEnabled": True, "SslCertificate": str(combined)}))
    env = {"PHAROS_DATA_DIR": str(tmp_path / "data"), "PHAROS_ORTHANC_CONFIG": str(configuration)}
    printed = settings_probe(env, "PHAROS_TLS", "SESSION_COOKIE_SECURE")
    assert printed == f"['on', 'True'] (PosixPath('{combined}'), PosixPath('{combined}'))"
    configuration.write_text(json.dumps({"SslEnabled": False, "SslCertificate": str(combined)}))
    assert settings_probe(env, "PHAROS_TLS", "SESSION_COOKIE_SECURE") == "['off', 'False'] None"


def test_https_on_without_a_certificate_stops_the_start(tmp_path):
    env = {"PHAROS_DATA_DIR": str(tmp_path / "data"), "PHAROS_TLS": "on"}
    probe = "import django; django.setup()"
    env = dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="explorer.settings", **env)
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and "PHAROS_TLS_CERT" in result.stderr


@pytest.mark.parametrize("front", ["certificate", "proxy"])
def test_check_deploy_passes_with_the_documented_production_settings(tmp_path, certificates, front):
    # The README's production environment (### HTTPS): HTTPS here, or behind a TLS proxy.
    env = dict(
        os.environ,
        PHAROS_DATA_DIR=str(tmp_path / "data"),
        PHAROS_DEBUG="false",
        PHAROS_ALLOWED_HOSTS="pacs.example.org",
    )
    env.pop("PHAROS_TLS", None)
    if front == "certificate":
        env.update(PHAROS_TLS_CERT=str(certificates / "server.pem"), PHAROS_TLS_KEY=str(certificates / "server.key"))
    else:
        env.update(PHAROS_BEHIND_PROXY="true")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
