"""HTTP to a remote DICOMweb server: its URL, credentials, extra headers, TLS.

Plain functions over a DicomWebServer (dicomnet/models.py): `search` (QIDO-RS), `get` (any
URI, the raw answer), `stow` (STOW-RS of files), `retrieve` (WADO-RS, each instance handed
out as it arrives), `delete`. A server that cannot be reached, or answers with an error,
raises RemoteError with a sentence saying which URL did what.

Query values are sent as typed: the wildcards `*` and `?`, `^` of person names, `\\` of
UID lists and `,` of includefield lists are not percent-encoded. Orthanc's DICOMweb plugin
compares the text of the URL as it comes (`PatientName=C%2A` matches nothing there); only
what would break the URL (spaces, `&`, `#`, `%`, `+`, `=`, non-ASCII) is encoded.

The calls go through http.client: requests and urllib3 re-encode `^` and `\\` in a URL.
HTTPS verifies the server's certificate against PHAROS_HTTPS_CA_CERTIFICATES (Orthanc's
HttpsCACertificates) or the system's authorities, unless PHAROS_HTTPS_VERIFY_PEERS is off.
"""

import base64
import http.client
import json
import socket
import ssl
import uuid
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

from django.conf import settings

from explorer import multipart
from explorer.errors import BadFileFormat, BadRequest

DEFAULT_TIMEOUT = 60  # seconds, Orthanc's HttpTimeout
SAFE = "*?^,\\-._~:/@!$'()"  # sent as typed in the query string
DICOM_JSON = "application/dicom+json"
LEVEL_URIS = {"Study": "/studies", "Series": "/series", "Instance": "/instances"}
# Orthanc's StowMaxInstances and StowMaxSize: one STOW-RS request holds at most this much.
STOW_MAX_INSTANCES = 10
STOW_MAX_SIZE = 10 * 1024 * 1024


class RemoteError(Exception):
    """The remote server could not be reached or answered an error (`status`, else None)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


# --- URLs and headers -------------------------------------------------------------------


def query_string(arguments):
    """`key=value&…` with the DICOM query characters left as typed; an empty value gives
    the key alone, as Orthanc writes it (`includefield=all`, `fuzzymatching`)."""
    parts = []
    for key, value in (arguments or {}).items():
        key, value = quote(str(key), safe=SAFE), quote("" if value is None else str(value), safe=SAFE)
        parts.append(f"{key}={value}" if value else key)
    return "&".join(parts)


def check_uri(uri):
    """A `?` in a URI is refused, as Orthanc refuses it: the arguments have their own field."""
    if "?" in uri:
        raise BadFileFormat(
            f'The GET arguments must be provided in a separate field (explicit "?" is disallowed): {uri}'
        )
    return uri


def url_of(server, uri, arguments=None):
    """The server's URL followed by `uri` and the arguments."""
    check_uri(uri)
    url = server.url.rstrip("/") + "/" + uri.lstrip("/")
    query = query_string(arguments)
    return f"{url}?{query}" if query else url


def headers_for(server, extra=None):
    """The server's credentials and headers, then those of one request (which win)."""
    headers = {}
    if server.username:
        token = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    headers.update(server.http_headers or {})
    headers.update(extra or {})
    return headers


def ssl_context():
    if not settings.PHAROS_HTTPS_VERIFY_PEERS:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=settings.PHAROS_HTTPS_CA_CERTIFICATES or None)


# --- one request ------------------------------------------------------------------------


@contextmanager
def request(server, method, uri, arguments=None, headers=None, body=None, chunked=False):
    """The answer (http.client.HTTPResponse, status 2xx) to one request, open while in the
    block; RemoteError when the server cannot be reached or answers another status."""
    url = url_of(server, uri, arguments)
    parts = urlsplit(url)
    timeout = server.timeout or DEFAULT_TIMEOUT
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ssl_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        try:
            connection.request(method, target, body=body, headers=headers_for(server, headers), encode_chunked=chunked)
            answer = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            raise RemoteError(f"Cannot reach {url}: {_reason(error)}") from error
        if not 200 <= answer.status < 300:
            excerpt = answer.read(2000).decode("utf-8", errors="replace").strip()
            detail = f": {excerpt[:300]}" if excerpt else ""
            raise RemoteError(f"{method} {url} answered HTTP {answer.status} {answer.reason}{detail}", answer.status)
        try:
            yield answer
        except (OSError, http.client.HTTPException) as error:
            raise RemoteError(f"The answer of {url} was cut: {_reason(error)}") from error
    finally:
        connection.close()


def _reason(error):
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({error.verify_message})"
    if isinstance(error, socket.timeout | TimeoutError):
        return "no answer in time"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    return str(error) or type(error).__name__


def _json(answer, url_text, empty=None):
    body = answer.read()
    if not body.strip() and empty is not None:
        return empty
    try:
        return json.loads(body)
    except ValueError as error:
        raise RemoteError(f"{url_text} did not answer JSON") from error


# --- what is asked of a server -----------------------------------------------------------


def get(server, uri, arguments=None, headers=None):
    """(status, headers, body) of a GET: the remote's answer as it is."""
    with request(server, "GET", uri, arguments, headers) as answer:
        return answer.status, answer.getheaders(), answer.read()


def get_json(server, uri, arguments=None, headers=None):
    """The JSON answer of a GET (QIDO-RS, metadata); an empty answer (204 No Content, which
    dcm4chee gives a search that finds nothing) is an empty list."""
    headers = {"Accept": DICOM_JSON} | (headers or {})
    with request(server, "GET", uri, arguments, headers) as answer:
        return _json(answer, url_of(server, uri, arguments), empty=[])


def search(server, level, query=None, limit=None, offset=None, includefield=None):
    """QIDO-RS at a level (Study, Series, Instance): the matching data sets as DICOM JSON.
    `query` maps keywords or tags to values, wildcards and ranges as typed."""
    if level not in LEVEL_URIS:
        raise BadRequest(f"Level must be one of {', '.join(LEVEL_URIS)}")
    arguments = dict(query or {})
    for key, value in (("limit", limit), ("offset", offset)):
        if value is not None:
            arguments[key] = value
    if includefield:
        arguments["includefield"] = includefield if isinstance(includefield, str) else ",".join(includefield)
    answer = get_json(server, LEVEL_URIS[level], arguments)
    if not isinstance(answer, list):
        raise RemoteError(f"The QIDO-RS answer of {server.url} is not a list of data sets")
    return answer


def delete(server, uri):
    with request(server, "DELETE", uri) as answer:
        answer.read()


def stow(server, files, headers=None):
    """Send files (bytes) in one STOW-RS request; its JSON answer, checked as Orthanc checks
    it: every file among the stored ones, none failed."""
    boundary = f"{uuid.uuid4()}-{uuid.uuid4()}"
    files = list(files)

    def body():
        for data in files:
            yield (
                f"--{boundary}\r\nContent-Type: application/dicom\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
        yield f"--{boundary}--".encode()

    headers = {
        "Accept": DICOM_JSON,
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
    } | (headers or {})
    chunked = server.chunked_transfers
    if not chunked:
        headers["Content-Length"] = str(sum(len(part) for part in body()))
    with request(server, "POST", "/studies", headers=headers, body=body(), chunked=chunked) as answer:
        result = _json(answer, f"The STOW-RS of {server.url}")
    check_stow_answer(result, server, len(files))
    return result


def _sequence_size(answer, tag, server, mandatory):
    value = answer.get(tag.upper(), answer.get(tag.lower()))
    if value is None:
        if mandatory:
            raise RemoteError(
                f"The STOW-RS JSON response from DICOMweb server {server.name} does not contain "
                f"the mandatory tag {tag.upper()}"
            )
        return 0
    if not isinstance(value, dict) or not isinstance(value.get("Value", []), list):
        raise RemoteError(f"Unable to parse STOW-RS JSON response from DICOMweb server {server.name}")
    return len(value.get("Value", []))


def check_stow_answer(answer, server, count):
    if not isinstance(answer, dict):
        raise RemoteError(f"Unable to parse STOW-RS JSON response from DICOMweb server {server.name}")
    failed = _sequence_size(answer, "00081198", server, False)
    if failed:
        raise RemoteError(
            f"The response from the STOW-RS server contains {failed} items in its Failed SOP Sequence (0008,1198) tag"
        )
    received = _sequence_size(answer, "00081199", server, True)
    if received != count:
        raise RemoteError(f"The STOW-RS server was only able to receive {received} instances out of {count}")


class _Counting:
    """A stream that counts what is read from it."""

    def __init__(self, stream):
        self.stream, self.size = stream, 0

    def read(self, size=-1):
        data = self.stream.read(size)
        self.size += len(data)
        return data


def multipart_boundary(content_type):
    """The boundary of a `multipart/related` Content-Type; RemoteError for any other."""
    main, *parameters = [part.strip() for part in content_type.split(";")]
    if main.lower() != "multipart/related":
        raise RemoteError(f'The remote WADO-RS server answers with a "{main}" Content-Type, but multipart/related')
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"')
    raise RemoteError("The remote WADO-RS server does not provide a boundary for its multipart answer")


def retrieve(server, uri, on_instance, arguments=None, headers=None):
    """WADO-RS of a study, series or instance: each part of the multipart answer, as bytes, is
    given to `on_instance` as it arrives (one instance in memory at a time). Returns how
    many bytes the answer had. The files are asked for in any transfer syntax the server
    stores them in, as Orthanc asks (HasWadoRsUniversalTransferSyntax)."""
    accept = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
    with request(server, "GET", uri, arguments, accept | (headers or {})) as answer:
        boundary = multipart_boundary(answer.getheader("Content-Type", ""))
        counting = _Counting(answer)
        try:
            for _, chunks in multipart.parts(counting, boundary.encode("latin-1")):
                on_instance(b"".join(chunks))
        except BadRequest as error:  # the multipart reader's word for a broken body
            raise RemoteError(f"The WADO-RS answer of {server.url} is not a valid multipart body: {error}") from error
        return counting.size
