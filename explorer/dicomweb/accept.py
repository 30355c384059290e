"""The Accept header of a WADO-RS request (PS3.18 8.7): its media ranges with their `type` and
`transfer-syntax` parameters, and what each kind of answer makes of them.

Clients write these in many ways: dicomweb-client quotes the type (`type="application/dicom"`),
Cornerstone does not, some put the transfer syntax inside the quoted type (as Orthanc's own
answers do), and several alternatives may come comma-separated with q-values. A request
without Accept, or with `*/*`, gets what Orthanc sends then: the instances as stored, the
frames uncompressed. A range the server cannot satisfy is passed over; when none is left
the answer is 406 Not Acceptable, as PS3.18 8.7.5 asks (Orthanc answers 400).
"""

import re
from dataclasses import dataclass

from pydicom.uid import UID

from explorer.dicomweb import syntaxes
from explorer.errors import PharosError

ANY = "*/*"
MULTIPART = "multipart/related"
DICOM_JSON = "application/dicom+json"
# A parameter's value, quoted (with backslash escapes) or a token.
PARAMETER = re.compile(r'\s*([^\s=;,"]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,]*)')
MEDIA_TYPE = re.compile(r"\s*([^\s;,]+)")


class NotAcceptable(PharosError):
    http_status, orthanc_status, orthanc_error = 406, 8, "Bad request"


@dataclass(frozen=True)
class Range:
    """One media range of an Accept header, names in lower case."""

    media_type: str  # "multipart/related", "*/*", "application/dicom+json", …
    type: str | None = None  # the multipart's `type` parameter
    transfer_syntax: str | None = None  # a UID, "*", or None when not given
    q: float = 1.0

    @property
    def any(self):
        return self.media_type in (ANY, "multipart/*")

    @property
    def multipart(self):
        return self.media_type == MULTIPART or self.any


def parse(header):
    """The ranges of an Accept header, the preferred first (higher q, then the order
    written); q=0 ranges are left out. No header, or an empty one, accepts anything."""
    ranges, position, text = [], 0, header or ""
    while position < len(text):
        match = MEDIA_TYPE.match(text, position)
        if match is None:
            break
        media_type, parameters = match.group(1).lower(), {}
        position = match.end()
        while position < len(text) and text[position] == ";":
            parameter = PARAMETER.match(text, position + 1)
            if parameter is None:
                position = _skip_to(text, position + 1, ";,")
                continue
            parameters[parameter.group(1).lower()] = _unquoted(parameter.group(2).strip())
            position = _skip_to(text, parameter.end(), ";,")
        position = _skip_to(text, position, ",") + 1
        ranges.append(_range(media_type, parameters))
    ranges = [r for r in ranges if r.q > 0] if ranges else [Range(ANY)]
    return sorted(ranges, key=lambda r: -r.q)


def _skip_to(text, position, stops):
    while position < len(text) and text[position] not in stops:
        position += 1
    return position


def _unquoted(value):
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _range(media_type, parameters):
    inner = parameters.get("type")
    syntax = parameters.get("transfer-syntax")
    if inner is not None:
        # type="application/octet-stream; transfer-syntax=…", as Orthanc writes its answers.
        inner, *rest = [piece.strip() for piece in inner.split(";")]
        for piece in rest:
            key, _, value = piece.partition("=")
            if key.strip().lower() == "transfer-syntax" and syntax is None:
                syntax = _unquoted(value.strip())
        inner = inner.lower() or None
    try:
        q = float(parameters.get("q", 1))
    except ValueError:
        q = 1.0
    return Range(media_type, inner, syntax or None, q)


def _refusal(header, what):
    return NotAcceptable(f"This WADO-RS server cannot answer {what} as {header!r}")


def retrieve_syntax(header, can_write):
    """The transfer syntax asked for instances (multipart/related; type="application/dicom"):
    None for as stored (no transfer-syntax, or `*`), else a UID that `can_write(uid)`
    accepts; NotAcceptable when no range is satisfiable."""
    for wanted in parse(header):
        if not wanted.multipart or wanted.type not in (None, ANY, syntaxes.DICOM, "application/*"):
            continue
        if wanted.transfer_syntax in (None, "*"):
            return None
        uid = UID(wanted.transfer_syntax)
        if uid.is_transfer_syntax and can_write(uid):
            return uid
    raise _refusal(header, "DICOM instances")


def frame_choices(header):
    """(media type, transfer syntax) of each satisfiable-looking range for frames, preferred
    first: the syntax is a UID of that media type, "*" (as stored, when stored in that media
    type) or None (the media type's default). NotAcceptable when there is none."""
    choices = []
    for wanted in parse(header):
        if not wanted.multipart:
            continue
        inner = wanted.type
        if inner in (None, ANY, "application/*"):
            inner = syntaxes.OCTET_STREAM if wanted.transfer_syntax != "*" else ANY
        elif inner == "image/*":
            inner = ANY if wanted.transfer_syntax == "*" else None
        else:
            inner = syntaxes.frame_media_type(inner)
        if inner is None:
            continue
        syntax = wanted.transfer_syntax
        if syntax not in (None, "*") and inner != ANY:
            if syntax not in syntaxes.FRAME_MEDIA_TYPES[inner][1]:
                continue  # a syntax the media type does not stand for
        choices.append((inner, syntax))
    if not choices:
        raise _refusal(header, "frames")
    return choices


def check_bulk(header):
    """Bulk data goes as multipart/related; type="application/octet-stream"."""
    for wanted in parse(header):
        if wanted.multipart and wanted.type in (None, ANY, syntaxes.OCTET_STREAM, "application/*"):
            return
    raise _refusal(header, "bulk data")


def check_metadata(header):
    """Metadata goes as DICOM JSON (application/dicom+json, or application/json)."""
    for wanted in parse(header):
        if wanted.media_type in (ANY, "application/*", DICOM_JSON, "application/json"):
            return
    raise _refusal(header, "metadata")
