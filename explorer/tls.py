"""HTTPS for the web server: whether it is on, with which certificate, and the certificate made
in the data folder at first start when PHAROS_TLS=self-signed.

PHAROS_TLS_CERT (with PHAROS_TLS_KEY, or one PEM file holding both, as Orthanc's
SslCertificate) turns HTTPS on; PHAROS_TLS=off turns it off whatever is set (Orthanc's
SslEnabled=false). The self-signed certificate is made with the `cryptography` package when it
is installed, else with the openssl command; its key is readable by its owner only.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MODES = ("on", "off", "self-signed")
SELF_SIGNED_FOLDER = "tls"
SELF_SIGNED_DAYS = 825  # the longest validity browsers accept


def mode(value, certificate):
    """ "on", "off" or "self-signed" from PHAROS_TLS (true/false words too) and PHAROS_TLS_CERT."""
    value = (value or "").strip().lower()
    if value in ("", "auto"):
        return "on" if certificate else "off"
    if value in ("1", "true", "yes", "on"):
        value = "on"
    elif value in ("0", "false", "no", "off"):
        value = "off"
    if value not in MODES:
        raise ImproperlyConfigured(f"PHAROS_TLS={value!r} is not valid: use on, off or self-signed")
    if value == "on" and not certificate:
        raise ImproperlyConfigured("PHAROS_TLS is on but PHAROS_TLS_CERT (Orthanc's SslCertificate) is not set")
    return value


def self_signed_paths(data_dir):
    folder = Path(data_dir) / SELF_SIGNED_FOLDER
    return folder / "certificate.pem", folder / "key.pem"


def certificate_and_key():
    """The (certificate, key) files the web server uses, or None when HTTPS is off."""
    if settings.PHAROS_TLS == "off":
        return None
    if settings.PHAROS_TLS == "self-signed":
        return self_signed_paths(settings.DATA_DIR)
    certificate = Path(settings.PHAROS_TLS_CERT)
    return certificate, Path(settings.PHAROS_TLS_KEY or certificate)


def prepare():
    """At start: make the self-signed certificate if it is wanted and missing; check that the
    files exist. Returns the (certificate, key) pair or None."""
    files = certificate_and_key()
    if files is None:
        return None
    certificate, key = files
    if settings.PHAROS_TLS == "self-signed" and not (certificate.exists() and key.exists()):
        make_self_signed(certificate, key, host_names())
    for path, variable in ((certificate, "PHAROS_TLS_CERT"), (key, "PHAROS_TLS_KEY")):
        if not path.is_file():
            raise ImproperlyConfigured(f"{variable}: no such file {path}")
    return certificate, key


def gunicorn_options():
    files = certificate_and_key()
    if files is None:
        return []
    certificate, key = files
    return ["--certfile", str(certificate), "--keyfile", str(key)]


def host_names():
    names = ["localhost", socket.gethostname()]
    if settings.PHAROS_HTTP_HOST not in ("0.0.0.0", "::", "127.0.0.1"):
        names.append(settings.PHAROS_HTTP_HOST)
    return list(dict.fromkeys(names))


def make_self_signed(certificate, key, names):
    """A self-signed certificate for `names` (and 127.0.0.1) and its key, in PEM files; the key
    is written 0600 in a folder only its owner can enter."""
    folder = certificate.parent
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        new_certificate, new_key = Path(work) / "certificate.pem", Path(work) / "key.pem"
        try:
            import cryptography  # noqa: F401
        except ImportError:
            _with_openssl(new_certificate, new_key, names)
        else:
            _with_cryptography(new_certificate, new_key, names)
        new_key.chmod(0o600)
        os.replace(new_key, key)
        os.replace(new_certificate, certificate)


def _with_openssl(certificate, key, names):
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ImproperlyConfigured("PHAROS_TLS=self-signed needs the openssl command or the cryptography package")
    alternative_names = ",".join([f"DNS:{name}" for name in names] + ["IP:127.0.0.1"])
    old_umask = os.umask(0o077)  # the key is never readable by others, even for a moment
    try:
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-days", str(SELF_SIGNED_DAYS), "-subj", f"/CN={names[0]}",
             "-addext", f"subjectAltName={alternative_names}",
             "-keyout", str(key), "-out", str(certificate)],
            check=True, capture_output=True,
        )  # fmt: skip
    finally:
        os.umask(old_umask)


def _with_cryptography(certificate, key, names):
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    alternative_names = [x509.DNSName(name) for name in names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    key_bytes = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key_bytes)
    certificate.write_bytes(built.public_bytes(serialization.Encoding.PEM))
