"""The Orthanc peers Pharos knows: the OrthancPeer rows, whether made in the admin, by REST
`PUT /peers/{name}` or from the configuration file's OrthancPeers (applied at each start by
`manage.py configure`, through the same `save` as REST, as its DicomModalities are).

A peer's JSON is Orthanc's (its WebServiceParameters): `[url]`, `[url, username, password]` or
`{"Url", "Username", "Password", "HttpHeaders", "CertificateFile", "CertificateKeyFile",
"CertificateKeyPassword", "Pkcs11", "Timeout", …}`, any other key a user property kept as
text. What is answered (`public`) never holds a password, a key's password or a header's value.
"""

import os
import re

from django.core.exceptions import ValidationError

from dicomnet.models import OrthancPeer
from explorer.errors import BadFileFormat, InexistentItem, PharosError, UnknownResource, validation_details

# Orthanc's keys of a peer; any other is a user property.
RESERVED = {
    "CertificateFile",
    "CertificateKeyFile",
    "CertificateKeyPassword",
    "HttpHeaders",
    "Password",
    "Pkcs11",
    "Url",
    "URL",
    "Username",
    "Timeout",
}
# The sub-routes GET /peers/{name} lists, as Orthanc does.
OPERATIONS = ["configuration", "store", "store-straight", "system"]
NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class InexistentFile(PharosError):
    # Orthanc's answer to a peer whose certificate file cannot be opened.
    http_status, orthanc_status, orthanc_error = 404, 13, "Inexistent file"


def names():
    """The peers' names, in Orthanc's order (byte order, whatever the database's collation)."""
    return sorted(OrthancPeer.objects.values_list("name", flat=True))


def peer(name):
    """The peer named so; Orthanc's 404 "Unknown resource" otherwise."""
    found = OrthancPeer.objects.filter(name=name).first()
    if found is None:
        raise UnknownResource(f"No peer with symbolic name: {name}")
    return found


def public(peer):
    """Orthanc's public form of a peer (GET /peers?expand, /peers/{name}/configuration): the
    password, the key's password and the headers' values are never shown."""
    answer = {"Url": peer.url, "Pkcs11": peer.pkcs11, "Timeout": peer.timeout}
    if peer.username:
        answer |= {"Username": peer.username, "Password": None}
    if peer.certificate_file:
        answer |= {
            "CertificateFile": peer.certificate_file,
            "CertificateKeyFile": None,
            "CertificateKeyPassword": None,
        }
    answer["HttpHeaders"] = sorted(peer.http_headers)
    return answer | dict(peer.user_properties)


def described(peer):
    """The peer as a job's content names it (Orthanc's "Peer"): `[url]`, `[url, username, ""]`,
    or the object form when it has more settings. Passwords are left out, as in Orthanc, and
    so are the headers' values, which often carry a token."""
    advanced = (
        peer.certificate_file
        or peer.certificate_key_file
        or peer.certificate_key_password
        or peer.pkcs11
        or peer.http_headers
        or peer.user_properties
        or peer.timeout
    )
    if not advanced:
        return [peer.url, peer.username, ""] if peer.username else [peer.url]
    answer = {"Url": peer.url, "Pkcs11": peer.pkcs11, "Timeout": peer.timeout}
    if peer.username:
        answer["Username"] = peer.username
    if peer.certificate_file:
        answer["CertificateFile"] = peer.certificate_file
    if peer.certificate_key_file:
        answer["CertificateKeyFile"] = peer.certificate_key_file
    answer["HttpHeaders"] = {header: None for header in peer.http_headers}
    return answer | dict(peer.user_properties)


# --- from Orthanc's JSON to the fields --------------------------------------------------------


def url(text):
    """The peer's URL as Orthanc keeps it (with its trailing slash); BadFileFormat otherwise."""
    if not isinstance(text, str):
        raise BadFileFormat("The peer's URL must be a string")
    if not text:
        raise BadFileFormat("Empty URL")
    if not text.startswith(("http://", "https://")):
        # Orthanc would take a URL without a scheme (libcurl reads it as HTTP): Pharos asks for it.
        raise BadFileFormat(f"Bad URL: {text} (use http:// or https://)")
    return text if text.endswith("/") else text + "/"


def _string(body, key):
    value = body.get(key, "")
    if not isinstance(value, str):
        raise BadFileFormat(f'"{key}" must be a string')
    return value


def _user_property(key, value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int):
        return str(value)
    raise BadFileFormat(f"User-defined properties associated with a Web service must be strings: {key}")


def fields_from_body(body, folder=None):
    """The model's fields from Orthanc's JSON of a peer (the array or the object form);
    BadFileFormat (400) as Orthanc refuses it. `folder`: where a relative certificate path
    starts (the configuration file's folder)."""
    if isinstance(body, list):
        if len(body) == 2:
            raise BadFileFormat("The HTTP password is not provided")
        if len(body) not in (1, 3) or not all(isinstance(item, str) for item in body):
            raise BadFileFormat("A peer as an array is [url] or [url, username, password]")
        body = dict(zip(("Url", "Username", "Password"), body))
    if not isinstance(body, dict):
        raise BadFileFormat("A peer is a JSON object, or an array [url] or [url, username, password]")
    fields = {
        "url": url(_string(body, "Url") or _string(body, "URL")),
        "username": _string(body, "Username"),
        "password": _string(body, "Password"),
    }
    if fields["password"] and not fields["username"]:
        raise BadFileFormat("A password is given without a username")
    certificate = _string(body, "CertificateFile")
    fields["certificate_file"] = _path(certificate, folder)
    fields["certificate_key_file"] = _path(_string(body, "CertificateKeyFile"), folder) if certificate else ""
    fields["certificate_key_password"] = _string(body, "CertificateKeyPassword") if certificate else ""
    pkcs11 = body.get("Pkcs11", False)
    if not isinstance(pkcs11, bool):
        raise BadFileFormat('"Pkcs11" must be true or false')
    fields["pkcs11"] = pkcs11
    headers = body.get("HttpHeaders", {})
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        raise BadFileFormat('"HttpHeaders" must be an object of strings')
    fields["http_headers"] = headers
    timeout = body.get("Timeout", 0)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
        raise BadFileFormat("Unsigned integer value expected in field: Timeout")
    fields["timeout"] = timeout
    fields["user_properties"] = {key: _user_property(key, value) for key, value in body.items() if key not in RESERVED}
    return fields


def _path(path, folder):
    if path and folder is not None and not os.path.isabs(os.path.expanduser(path)):
        return str(folder / path)
    return path


def check_files(fields):
    """Orthanc's check of a client certificate: its files must be there."""
    if fields.get("certificate_file") and not os.path.isfile(fields["certificate_file"]):
        raise InexistentFile(f"Cannot open certificate file: {fields['certificate_file']}")
    if fields.get("certificate_key_file") and not os.path.isfile(fields["certificate_key_file"]):
        raise InexistentFile(f"Cannot open key file: {fields['certificate_key_file']}")


def save(name, fields):
    """Create or replace the named peer. As in Orthanc, what the JSON leaves out takes its
    default (a PUT without "Password" clears it)."""
    if not NAME.match(name):
        raise BadFileFormat(
            "Only alphanumeric, dash characters and underscores are allowed in the names of "
            f"modalities/peers, but found: {name}"
        )
    check_files(fields)
    found = OrthancPeer.objects.filter(name=name).first() or OrthancPeer(name=name)
    for field, value in fields.items():
        setattr(found, field, value)
    try:
        found.full_clean()
    except ValidationError as error:
        raise BadFileFormat(validation_details(error)) from error
    found.save()
    return found


def delete(name):
    deleted, _ = OrthancPeer.objects.filter(name=name).delete()
    if not deleted:
        raise InexistentItem(f"Unknown Orthanc peer: {name}")


def apply(configuration):
    """Create or update each peer of the configuration file's OrthancPeers; relative
    certificate paths start at the file's folder. Raises PharosError naming the peer."""
    for name, body in configuration.section("OrthancPeers").items():
        try:
            save(name, fields_from_body(body, configuration.folder))
        except PharosError as error:
            error.args = (f"{name!r}: {error}",)
            raise
