"""Uploads of many files at once (POST /instances and the upload page): each file stored
through explorer.ingest, ZIP archives opened, every file answered as Orthanc answers it."""

from explorer import ingest, sources
from explorer.errors import PharosError


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


def request_origin(request):
    return ingest.Origin(
        kind="RestApi",
        remote_ip=request.META.get("REMOTE_ADDR", ""),
        username=request.user.get_username() if request.user.is_authenticated else "",
    )


def uploaded_contents(files):
    """(name, bytes or error) for each uploaded file, ZIP archives opened; an archive
    that cannot be read is one rejected entry, not the end of the upload."""
    for uploaded in files:
        data = uploaded.read()
        if not sources.looks_like_zip(data[:4]):
            yield uploaded.name, data
            continue
        try:
            for name, member in sources.zip_members(data):
                yield f"{uploaded.name}/{name}", member
        except PharosError as error:
            yield uploaded.name, error
