"""The remote DICOMweb servers Pharos knows: Orthanc's DicomWeb.Servers, kept in the database.

A server is a DicomWebServer row, whether it came from the configuration file (`manage.py
configure` saves each entry of DicomWeb.Servers through `save`), from REST (`PUT
/dicom-web/servers/{name}`, the same `save`) or from the administration pages. A body takes
Orthanc's two forms: `[Url]`, `[Url, Username, Password]`, or an object of Orthanc's keys.
What is shown (`public`) never holds the password nor the values of the extra headers.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from dicomnet.dicomweb.client import check_headers
from dicomnet.models import DicomWebServer
from explorer.errors import BadFileFormat, InexistentItem, ParameterOutOfRange, validation_details

# Orthanc's keys of a server and the fields that keep them.
FIELDS = {
    "Url": "url",
    "Username": "username",
    "Password": "password",
    "HttpHeaders": "http_headers",
    "Timeout": "timeout",
    "HasDelete": "has_delete",
    "ChunkedTransfers": "chunked_transfers",
}
# Orthanc's user properties Pharos keeps as booleans; Orthanc shows them as "1" or "0".
BOOLEAN_PROPERTIES = {"HasDelete": "has_delete", "ChunkedTransfers": "chunked_transfers"}
# Keys Orthanc takes that need nothing here: Pkcs11 is only accepted when false.
ACCEPTED = {"Pkcs11"}


def names():
    """The names of the servers, sorted."""
    return list(DicomWebServer.objects.order_by("name").values_list("name", flat=True))


def get(name):
    """The server of this name; InexistentItem (404) if there is none, as Orthanc says it."""
    server = DicomWebServer.objects.filter(name=name).first()
    if server is None:
        raise InexistentItem(f"Inexistent server: {name}")
    return server


def public(server):
    """What GET /dicom-web/servers?expand shows of a server, as Orthanc 1.10.1 with its DICOMweb
    plugin shows it: the password only as null, the extra headers by name only."""
    shown = {
        "HttpHeaders": sorted(server.http_headers),
        "Pkcs11": False,
        "Timeout": server.timeout,
        "Url": server.url,
    }
    if server.username:
        shown |= {"Username": server.username, "Password": None}
    if server.has_delete:
        shown["HasDelete"] = "1"
    if not server.chunked_transfers:
        shown["ChunkedTransfers"] = "0"
    return shown


def operations(server):
    """GET /dicom-web/servers/{name}: what can be asked of this server."""
    return ["get", "retrieve", "stow", "wado", "qido"] + (["delete"] if server.has_delete else [])


def _boolean(key, value):
    # Orthanc takes true/false, and the strings its configuration files use.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "0", "false"):
        return value.lower() in ("1", "true")
    raise BadFileFormat(f'"{key}" must be true or false')


def _host_and_port(url):
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is no number
    except ValueError:
        return False
    return bool(parts.hostname) and not any(c.isspace() for c in url)


def fields_from_body(body):
    """The model's fields from Orthanc's forms of a server; BadFileFormat (400) otherwise."""
    if isinstance(body, list):
        if len(body) not in (1, 3) or not all(isinstance(item, str) for item in body):
            raise BadFileFormat("A DICOMweb server as an array is [Url] or [Url, Username, Password]")
        body = dict(zip(("Url", "Username", "Password"), body))
    if not isinstance(body, dict):
        raise BadFileFormat("A DICOMweb server is a JSON object or array")
    unknown = set(body) - set(FIELDS) - ACCEPTED
    if unknown:
        # Orthanc would keep them as user properties that nothing here reads: said, not dropped.
        raise BadFileFormat("Unknown DICOMweb server parameter(s): " + ", ".join(sorted(unknown)))
    if body.get("Pkcs11"):
        raise BadFileFormat("PKCS#11 is not supported")
    url = body.get("Url")
    if not isinstance(url, str) or not url:
        raise BadFileFormat("Empty URL")
    if not url.startswith(("http://", "https://")) or not _host_and_port(url):
        raise BadFileFormat(f"Bad URL: {url}")
    fields = {"url": url if url.endswith("/") else url + "/"}
    for key in ("Username", "Password"):
        if body.get(key) is not None:
            if not isinstance(body[key], str):
                raise BadFileFormat(f'"{key}" must be a string')
            fields[FIELDS[key]] = body[key]
    headers = body.get("HttpHeaders") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise BadFileFormat('"HttpHeaders" must be an object of header names to strings')
    fields["http_headers"] = check_headers(headers)
    timeout = body.get("Timeout", 0)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        raise BadFileFormat('"Timeout" must be a number of seconds')
    fields["timeout"] = timeout
    for key, field in BOOLEAN_PROPERTIES.items():
        if key in body:
            fields[field] = _boolean(key, body[key])
    return fields


def save(name, fields):
    """Create or replace the named server. As in Orthanc, what the body does not give takes
    its default, not its former value."""
    server = DicomWebServer.objects.filter(name=name).first() or DicomWebServer(name=name)
    for field in FIELDS.values():
        setattr(server, field, DicomWebServer._meta.get_field(field).get_default())
    for field, value in fields.items():
        setattr(server, field, value)
    if len(server.url) > DicomWebServer._meta.get_field("url").max_length:
        raise BadFileFormat(f"Bad URL (too long): {server.url[:80]}…")
    try:
        server.full_clean()
    except ValidationError as error:
        raise BadFileFormat(validation_details(error)) from error
    server.save()
    return server


def delete(name):
    """Forget a server; Orthanc's answer for one it does not know is 400 ParameterOutOfRange."""
    deleted, _ = DicomWebServer.objects.filter(name=name).delete()
    if not deleted:
        raise ParameterOutOfRange(f"Unknown DICOMweb server: {name}")


def apply_configuration(configuration):
    """Save each server of the configuration file's DicomWeb.Servers; a bad one is named."""
    section = configuration.section("DicomWeb")
    servers = (section.get("Servers") if isinstance(section, dict) else None) or {}
    if not isinstance(servers, dict):
        raise BadFileFormat("DicomWeb.Servers must be an object of names to servers")
    for name, body in servers.items():
        try:
            save(name, fields_from_body(body))
        except BadFileFormat as error:
            raise BadFileFormat(f"DicomWeb.Servers {name!r}: {error}") from error
