"""Uploads (POST /instances and the upload page): each body or file received into the incoming
folder as it comes (explorer/incoming.py), ZIP archives opened member by member, each file
stored through explorer.ingest (moved into place) and answered as Orthanc answers it."""

import contextlib
import logging

from django.http.request import UnreadablePostError

from explorer import bodies, content_encoding, incoming, ingest, multipart, sources
from explorer.errors import BadFileFormat, BadRequest, PayloadTooLarge, PharosError

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


def store_received_file(path, origin, study_uid=None):
    """Store a file received into the incoming folder: a bare data set made a Part 10 file,
    then moved into place; the file is gone afterwards, stored or not. With `study_uid`, an
    instance of another study is refused (ingest.OtherStudy)."""
    try:
        path = incoming.as_part10(path)
    except BaseException:
        incoming.remove(path)
        raise
    return ingest.store_instance_file(path, origin, study_uid=study_uid)


def store_many(named_files, origin):
    """Store (name, received file or error) pairs; answer Orthanc's array and whether all were stored."""
    answers, all_stored = [], True
    for name, path in named_files:
        try:
            if isinstance(path, PharosError):
                raise path
            answers.append(upload_answer(store_received_file(path, origin)) | {"Filename": name})
        except PharosError as error:
            all_stored = False
            answers.append(failure_answer(name, error))
    return answers, all_stored


def store_archive(members, origin):
    """Orthanc's answer to a ZIP archive sent as the body: the answers of the members stored.
    A member that is no DICOM file is logged and left out, as Orthanc does (200 even when
    none was stored); any other failure (storage, database) ends the upload with its error."""
    answers = []
    for name, path in members:
        try:
            if isinstance(path, PharosError):
                raise path
            answers.append(upload_answer(store_received_file(path, origin)) | {"Filename": name})
        except BadFileFormat as error:
            logger.error("Cannot import non-DICOM file from ZIP archive: %s (%s)", name, error.details or error)
    return answers


def opened_files(named_files):
    """(name, received file or error) for each (name, received file), ZIP archives opened; an
    archive that cannot be read, or is beyond the limits (PayloadTooLarge, nothing of it
    expanded), is one rejected entry, not the end of the upload."""
    for file_name, path in named_files:
        if not sources.file_looks_like_zip(path):
            yield file_name, path
            continue
        try:
            for name, member in sources.zip_members(path):
                yield f"{file_name}/{name}", member
        except (BadFileFormat, PayloadTooLarge) as error:
            yield file_name, error


def request_origin(request):
    return ingest.Origin(
        kind="RestApi",
        remote_ip=request.META.get("REMOTE_ADDR", ""),
        username=request.user.get_username() if request.user.is_authenticated else "",
    )


@contextlib.contextmanager
def received_body(request):
    """The path of a file in the incoming folder holding the request's body, read in
    chunks; removed when the block ends unless moved away meanwhile."""
    try:
        path = incoming.receive(content_encoding.reader(request))  # a gzip or deflate body decoded
    except UnreadablePostError as exc:
        raise BadRequest(f"The body could not be read whole: {exc}") from exc
    try:
        yield path
    finally:
        incoming.remove(path)


@contextlib.contextmanager
def received_parts(request):
    """[(name, path)] of every part of a multipart/form-data body, each received into a file
    in the incoming folder; the files are removed when the block ends unless moved away
    meanwhile. A part left empty (a file input with no file chosen) is left out."""
    received = []
    try:
        try:
            _receive_parts(request, received)
        except UnreadablePostError as exc:
            raise BadRequest(f"The body could not be read whole: {exc}") from exc
        yield received
    finally:
        for _, path in received:
            incoming.remove(path)


def _receive_parts(request, received):
    if request._read_started:
        # Django's CSRF check (a browser session) has parsed the form already, its files into
        # the incoming folder (explorer.bodies.IncomingUploadHandler): they are used.
        for field in request.FILES:
            received.extend((f.name, f.temporary_file_path()) for f in request.FILES.getlist(field))
        if bodies.cut_short(request):
            raise BadRequest(f"The body could not be read whole: {bodies.cut_short(request)}")
        return
    # Read here as Orthanc reads it (explorer/multipart.py), not by Django's parser.
    boundary = request.content_params.get("boundary")
    if not boundary:
        raise BadRequest("The multipart body has no boundary in its Content-Type")
    for name, chunks in multipart.parts(request, boundary.encode("latin-1")):
        received.append((name, incoming.write_chunks(chunks)))  # all gathered first: not kept in memory
