"""HTTP(S) calls to a peer's REST API, as Orthanc's HttpClient makes them for a peer: its URL,
HTTP Basic with its username and password, its extra headers, its timeout, and over HTTPS its
client certificate (CertificateFile, CertificateKeyFile, CertificateKeyPassword) with the
server's certificate checked against PHAROS_HTTPS_CA_CERTIFICATES (Orthanc's
HttpsCACertificates; the system's authorities when unset) unless PHAROS_HTTPS_VERIFY_PEERS is
off (HttpsVerifyPeers).

A peer that cannot be reached, or answers an HTTP error, raises PeerError saying which and why.
"""

import gzip
import io
import shutil
import ssl
import tempfile

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

# Orthanc's HttpTimeout: seconds a request to a peer may take when the peer sets none.
DEFAULT_TIMEOUT = 60
# A compressed body is made in memory up to this size, on disk beyond.
SPOOL_IN_MEMORY = 16 * 1024 * 1024


class PeerError(Exception):
    """The peer could not be reached or answered an error; `status` is its HTTP status, if any."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class _TlsAdapter(HTTPAdapter):
    """requests with our own TLS context: a client certificate whose key has a password,
    and the configured authorities, which requests' own options cannot both give."""

    def __init__(self, context):
        self.context = context
        super().__init__()

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        if host["scheme"] == "https":
            pool = {"ssl_context": self.context}
        return host, pool


def tls_context(peer):
    if not settings.PHAROS_HTTPS_VERIFY_PEERS:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=settings.PHAROS_HTTPS_CA_CERTIFICATES or None)
    if peer.certificate_file:
        context.load_cert_chain(
            peer.certificate_file, peer.certificate_key_file or None, peer.certificate_key_password or None
        )
    return context


def session(peer):
    """A requests session that talks to this peer as Orthanc does; close it after use."""
    if peer.pkcs11:
        raise PeerError(f"The peer {peer.name} asks for PKCS#11, which Pharos does not support")
    opened = requests.Session()
    opened.trust_env = False  # no proxy or .netrc from the environment: the peer's settings only
    if peer.username:
        opened.auth = (peer.username, peer.password)
    opened.headers.update(peer.http_headers)
    # requests would ask for a verified certificate whatever the context says.
    opened.verify = settings.PHAROS_HTTPS_VERIFY_PEERS
    try:
        opened.mount("https://", _TlsAdapter(tls_context(peer)))
    except (OSError, ssl.SSLError) as error:
        opened.close()
        raise PeerError(f"The client certificate of the peer {peer.name} cannot be used: {error}") from error
    return opened


def request(opened, peer, method, path, **kwargs):
    """One request to the peer's `path` (relative to its URL); the response when it succeeds."""
    url = peer.url + path
    try:
        response = opened.request(method, url, timeout=peer.timeout or DEFAULT_TIMEOUT, **kwargs)
    except requests.RequestException as error:
        raise PeerError(f"Cannot reach the peer {peer.name} at {url}: {_reason(error)}") from error
    if not response.ok:
        excerpt = response.text[:300].strip()
        raise PeerError(
            f"The peer {peer.name} answered {response.status_code} {response.reason} to {method} {url}"
            + (f": {excerpt}" if excerpt else ""),
            status=response.status_code,
        )
    return response


def _reason(error):
    # requests nests the cause (a refused connection, a certificate refused) in its message.
    cause = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__
    text = str(error)
    return f"{text} ({cause})" if cause is not error and str(cause) not in text else text


def system(peer):
    """The peer's GET /system, as bytes (answered as they come)."""
    with session(peer) as opened:
        return request(opened, peer, "GET", "system").content


def compressed(source):
    """A file holding `source` (an open binary file) gzipped at Orthanc's level 9, rewound: in
    memory for a file of up to SPOOL_IN_MEMORY bytes, on disk beyond."""
    out = io.BytesIO() if _remaining(source) <= SPOOL_IN_MEMORY else tempfile.TemporaryFile()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as zipped:
        shutil.copyfileobj(source, zipped, 1 << 20)
    out.seek(0)
    return out


def post_instance(opened, peer, body, compress=False):
    """POST one DICOM file (an open binary file) to the peer's /instances, gzipped with
    Content-Encoding: gzip when `compress`; (the peer's JSON answer, the bytes sent)."""
    headers = {"Content-Type": "application/dicom"}
    if compress:
        body = compressed(body)
        headers["Content-Encoding"] = "gzip"
    try:
        size = _remaining(body)
        response = request(opened, peer, "POST", "instances", data=body, headers=headers)
    finally:
        if compress:
            body.close()
    try:
        return response.json(), size
    except ValueError as error:
        raise PeerError(f"The peer {peer.name} answered POST /instances with no JSON") from error


def _remaining(body):
    position = body.tell()
    body.seek(0, 2)
    size = body.tell() - position
    body.seek(position)
    return size
