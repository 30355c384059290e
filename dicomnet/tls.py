"""DICOM TLS: the SSL contexts of our SCP and of the SCU associations to modalities with
UseDicomTls, made from the DICOM TLS settings as Orthanc makes them from its DicomTls* options.

- PHAROS_DICOM_TLS (DicomTlsEnabled): the DICOM port speaks TLS only, as Orthanc's does;
- PHAROS_DICOM_TLS_CERTIFICATE and _PRIVATE_KEY (DicomTlsCertificate, DicomTlsPrivateKey), PEM
  files: who we are, to the associations we accept and to those we open;
- PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES (DicomTlsTrustedCertificates): the certificates, in one
  PEM file, that a peer's certificate must be one of or be signed by;
- PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED (DicomTlsRemoteCertificateRequired, true by
  default): a peer must show such a certificate; false accepts a peer without one and does not
  verify the one it shows (Orthanc 1.12.4's reading: DCMTK's --ignore-peer-cert), on both sides.

As with Orthanc (DCMTK), a peer is trusted for its certificate, not for its host name: the host
name is not checked against the certificate, which modalities rarely carry their address in.

Accepting a connection must not wait on its peer: pynetdicom wraps each accepted socket in the
thread that accepts them all, and Python's wrap_socket would do the handshake there, so a client
that connected and said nothing would hold up everyone else. The server context here wraps
without the handshake, and the socket does it at its first read, in the association's thread,
within a timeout. Our server's handler threads write responses while its reactor thread reads
(dicomnet/wire/reactors.py) and OpenSSL's objects are not safe to use from two threads at once:
the server's sockets read and write under a lock. (pynetdicom's requesting associations read and
write in one thread only.)
"""

import logging
import ssl
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("dicomnet")

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2  # BCP 195, which DCMTK's default profile follows
# OpenSSL's reasons when the first bytes are no TLS record: a DICOM PDU, say.
PLAIN_PEER = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL"}


class TlsNotConfigured(Exception):
    """A modality uses DICOM TLS but our certificate, key or trusted certificates are not set."""


# --- the server -------------------------------------------------------------------------------


class ServerSocket(ssl.SSLSocket):
    """An accepted TLS connection: the handshake at the first read, within `handshake_timeout`
    seconds; a failed handshake is logged and reads as a closed connection. Reads and writes
    take turns under a lock."""

    handshake_timeout = None  # set on the subclass made for each server context
    handshake_done = False
    handshake_failed = False

    def _locked(self):
        # Made on first use: SSLSocket has no public constructor to make it in.
        lock = self.__dict__.get("io_lock")
        if lock is None:
            lock = self.__dict__.setdefault("io_lock", threading.RLock())
        return lock

    def handshake(self):
        """Complete the handshake; False (logged once) when it failed or timed out."""
        if self.handshake_failed:
            return False
        try:
            host, port = self.getpeername()[:2]
            peer = f"{host}:{port}"
        except OSError:
            peer = "a closed connection"
        previous = self.gettimeout()
        self.settimeout(self.handshake_timeout)
        try:
            self.do_handshake()
        except (OSError, ValueError) as error:  # ssl.SSLError, a timeout, a reset
            hint = " (a peer without TLS?)" if getattr(error, "reason", None) in PLAIN_PEER else ""
            logger.warning("DICOM TLS handshake with %s failed: %s%s", peer, error or type(error).__name__, hint)
            self.handshake_failed = True
            return False
        finally:
            self.settimeout(previous)
        self.handshake_done = True
        return True

    def recv(self, buflen=1024, flags=0):
        with self._locked():
            if not self.handshake_done and not self.handshake():
                return b""
            return super().recv(buflen, flags)

    def recv_into(self, buffer, nbytes=None, flags=0):
        with self._locked():
            if not self.handshake_done and not self.handshake():
                return 0
            return super().recv_into(buffer, nbytes, flags)

    def send(self, data, flags=0):
        with self._locked():
            return super().send(data, flags)

    def sendall(self, data, flags=0):
        with self._locked():
            return super().sendall(data, flags)

    def pending(self):
        with self._locked():
            return super().pending()


class ServerContext(ssl.SSLContext):
    """An SSL context whose accepted sockets do their handshake later, in their own thread."""

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, **options):
        return super().wrap_socket(sock, server_side=server_side, do_handshake_on_connect=False, **options)


def server_context(handshake_timeout):
    """The SSL context of our SCP, or None when PHAROS_DICOM_TLS is off."""
    if not settings.PHAROS_DICOM_TLS:
        return None
    context = ServerContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    # A client's TLS 1.2 renegotiation is refused: it would be handled by a read that waits
    # for a PDU while holding the socket's lock, keeping the handler threads from writing.
    context.options |= ssl.OP_NO_RENEGOTIATION
    _load_own_certificate(context)
    if settings.PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED:
        context.verify_mode = ssl.CERT_REQUIRED
        _load_trusted(context)
    else:
        context.verify_mode = ssl.CERT_NONE
    context.sslsocket_class = type("ServerSocket", (ServerSocket,), {"handshake_timeout": handshake_timeout})
    return context


# --- the SCU ----------------------------------------------------------------------------------


def client_args(modality):
    """pynetdicom's `tls_args` for an association to the modality: None without UseDicomTls,
    else (SSL context, host). TlsNotConfigured when our certificate or key is not set, or the
    trusted certificates while the remote certificate is required."""
    if not modality.use_dicom_tls:
        return None
    missing = [
        name
        for name, needed in (
            ("PHAROS_DICOM_TLS_CERTIFICATE", True),
            ("PHAROS_DICOM_TLS_PRIVATE_KEY", True),
            ("PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES", settings.PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED),
        )
        if needed and not getattr(settings, name)
    ]
    if missing:
        raise TlsNotConfigured("DICOM TLS is enabled for this modality, but " + " and ".join(missing) + " not set")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = MINIMUM_VERSION
    context.check_hostname = False
    if settings.PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED:
        context.verify_mode = ssl.CERT_REQUIRED
        _load_trusted(context)
    else:
        context.verify_mode = ssl.CERT_NONE
    _load_own_certificate(context)
    return context, modality.host


# --- the files --------------------------------------------------------------------------------


def _load_own_certificate(context):
    certificate, key = settings.PHAROS_DICOM_TLS_CERTIFICATE, settings.PHAROS_DICOM_TLS_PRIVATE_KEY
    try:
        context.load_cert_chain(certificate, key)
    except (ssl.SSLError, OSError) as error:
        raise ImproperlyConfigured(
            f"PHAROS_DICOM_TLS_CERTIFICATE={certificate!r} and PHAROS_DICOM_TLS_PRIVATE_KEY={key!r}: "
            f"not a PEM certificate and its unencrypted private key ({error})"
        ) from error


def _load_trusted(context):
    trusted = settings.PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES
    try:
        context.load_verify_locations(cafile=trusted)
    except (ssl.SSLError, OSError) as error:
        raise ImproperlyConfigured(
            f"PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES={trusted!r}: not PEM certificates ({error})"
        ) from error
