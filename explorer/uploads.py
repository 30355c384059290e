"""Uploads of many files at once (POST /instances and the upload page): each file stored
through explorer.ingest, ZIP archives opened, every file answered as Orthanc answers it."""

import logging
import re
from urllib.parse import unquote

from django.http.request import RawPostDataException

from explorer import ingest, sources
from explorer.errors import BadFileFormat, BadRequest, PharosError

logger = logging.getLogger(__name__)


def upload_answer(result):
    ids = result.ids
    return {
        "ID": ids[3],
        "ParentPatient": ids[0],
        "ParentSeries": ids[2],
        "ParentStudy": ids[1],
        "Path": f"/instances/{ids[3]}",
        "Status": result.status,
    }


def failure_answer(name, error):
    return {
        "Filename": name,
        "HttpStatus": error.http_status,
        "Message": error.message,
        "Details": error.details or error.message,
        "Status": "Failure",
    }


def store_many(named_contents, origin):
    """Store (name, bytes-or-error) pairs; answer Orthanc's array and whether all were stored."""
    answers, all_stored = [], True
    for name, data in named_contents:
        try:
            if isinstance(data, PharosError):
                raise data
            answers.append(upload_answer(ingest.store_instance(data, origin)) | {"Filename": name})
        except PharosError as error:
            all_stored = False
            answers.append(failure_answer(name, error))
    return answers, all_stored


def store_archive(members, origin):
    """Orthanc's answer to a ZIP archive sent as the body: the answers of the members stored.
    A member that is no DICOM file is logged and left out, as Orthanc does (200 even when
    none was stored); any other failure (storage, database) ends the upload with its error."""
    answers = []
    for name, data in members:
        try:
            if isinstance(data, PharosError):
                raise data
            answers.append(upload_answer(ingest.store_instance(data, origin)) | {"Filename": name})
        except BadFileFormat as error:
            logger.error("Cannot import non-DICOM file from ZIP archive: %s (%s)", name, error.details or error)
    return answers


def request_origin(request):
    return ingest.Origin(
        kind="RestApi",
        remote_ip=request.META.get("REMOTE_ADDR", ""),
        username=request.user.get_username() if request.user.is_authenticated else "",
    )


def uploaded_contents(files):
    """(name, bytes or error) for each uploaded file (Django's UploadedFile), ZIP archives opened."""
    return opened_contents((uploaded.name, uploaded.read()) for uploaded in files)


def opened_contents(named_files):
    """(name, bytes or error) for each (name, bytes), ZIP archives opened; an archive
    that cannot be read is one rejected entry, not the end of the upload."""
    for file_name, data in named_files:
        if not sources.looks_like_zip(data[:4]):
            yield file_name, data
            continue
        try:
            for name, member in sources.zip_members(data):
                yield f"{file_name}/{name}", member
        except PharosError as error:
            yield file_name, error


# ---------------------------------------------------------------- multipart bodies

# key = value, the value quoted or not, spaces allowed around "=" (what devices send).
PARAMETER = re.compile(rb'([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def multipart_files(request):
    """(name, bytes) of every part of a multipart/form-data body.

    Read as Orthanc reads it: every part is a file, whatever its headers say. Django's
    parser drops a part whose header has a space before its colon, is folded over two
    lines, or has no filename (that one becomes a text field), so the body is read here.
    """
    try:
        body = request.body
    except RawPostDataException:
        # Django's CSRF check (a browser session) has parsed the form already: its files.
        return [(f.name, f.read()) for field in request.FILES for f in request.FILES.getlist(field)]
    boundary = request.content_params.get("boundary")
    if not boundary:
        raise BadRequest("The multipart body has no boundary in its Content-Type")
    return list(multipart_parts(body, boundary.encode("latin-1")))


def multipart_parts(body, boundary):
    """(name, content) of each part of a multipart body (RFC 2046 5.1.1), each content
    copied out of the body once; a part left empty (a file input with no file chosen) is
    skipped."""
    delimiter = b"--" + boundary
    separator = b"\r\n" + delimiter
    position = body.find(delimiter)
    if position < 0:
        raise BadRequest("The multipart body does not hold its boundary")
    number = 0
    while not body.startswith(b"--", position + len(delimiter)):  # not the close delimiter
        # The rest of the delimiter line (transport padding), then the headers and a blank line.
        line_end = body.find(b"\r\n", position + len(delimiter))
        if line_end < 0:
            break
        following = body.find(separator, line_end)
        end = following if following >= 0 else len(body)
        head_start = line_end + 2
        if body.startswith(b"\r\n", head_start):
            head, content_start = b"", head_start + 2
        else:
            head_end = body.find(b"\r\n\r\n", head_start, end)
            head_end = end if head_end < 0 else head_end
            head, content_start = body[head_start:head_end], head_end + 4
        number += 1
        if content_start < end:
            yield part_name(head) or f"part {number}", body[content_start:end]
        if following < 0:
            break
        position = following + 2


def part_headers(head):
    """{lower-case name: value} of a part's header lines, folded lines joined, spaces
    around the colon allowed."""
    lines = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += b" " + line.strip()
        else:
            lines.append(line)
    headers = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = value.strip()
    return headers


def part_name(head):
    """The file name a part's Content-Disposition gives (filename*, filename, else name)."""
    disposition = part_headers(head).get("content-disposition", b"")
    parameters = {}
    for key, value in PARAMETER.findall(disposition):
        value = value.strip()
        if value.startswith(b'"') and value.endswith(b'"') and len(value) > 1:
            value = re.sub(rb"\\(.)", rb"\1", value[1:-1])
        parameters[key.lower().decode("latin-1")] = value
    if "filename*" in parameters:  # RFC 5987: charset'language'percent-encoded
        charset, _, rest = parameters["filename*"].decode("latin-1").partition("'")
        return unquote(rest.partition("'")[2], encoding=charset or "utf-8", errors="replace")
    for key in ("filename", "name"):
        if parameters.get(key):
            return parameters[key].decode("utf-8", errors="replace")
    return ""
