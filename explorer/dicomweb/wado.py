"""WADO-RS (PS3.18 10.4): instances as multipart/related, metadata, frames and bulk data, as
Orthanc's DICOMweb plugin answers them. The Accept header is read by accept.py; the answers
are made by metadata.py, frames.py and bulk.py, and streamed by multipart_answers.py."""

import logging

import pydicom
from django.http import StreamingHttpResponse

from explorer import audit, levels, storage, transcoding
from explorer.dicomweb import accept, bulk as bulk_data, frames as frame_data, metadata as metadata_json, resources
from explorer.dicomweb.multipart_answers import Part, file_part, response
from explorer.dicomweb.syntaxes import DICOM
from explorer.errors import UnknownResource
from explorer.models import Instance

logger = logging.getLogger(__name__)


def _audited(action, request, route, detail):
    if route.get("instance"):
        level, resource = levels.INSTANCE, _instance(route)
    elif route.get("series"):
        level, resource = levels.SERIES, resources.series(route["study"], route["series"])
    else:
        level, resource = levels.STUDY, resources.study(route["study"])
    audit.record(action, request, level=level, resource=resource, detail=detail)


def retrieve(request, **route):
    """GET …/studies/{uid}[/series/{uid}[/instances/{uid}]]: the DICOM files, as stored unless
    the Accept header asks for a transfer syntax (then transcoded; 406 if it cannot be)."""
    instances = resources.instances_of_route(route)

    def can_write(syntax):
        return syntax in transcoding.ENCODABLE or not instances.exclude(transfer_syntax_uid=syntax).exists()

    syntax = accept.retrieve_syntax(request.headers.get("Accept"), can_write)
    _audited(audit.DOWNLOAD, request, route, "DICOMweb (WADO-RS)")
    rows = instances.values_list("file_uuid", "transfer_syntax_uid").iterator(chunk_size=500)
    parts = _instance_parts(rows, syntax)
    if syntax is not None:
        # The first instance is transcoded before the answer starts: when it cannot be,
        # the client is told so with 406, not with a broken answer.
        first = next(parts)
        parts = _chained(first, parts)
    return response(parts, DICOM)


def _instance_parts(rows, syntax):
    first = True
    for file_uuid, stored_syntax in rows:
        if syntax is None or syntax == stored_syntax:
            try:
                yield file_part(DICOM, storage.path_for(file_uuid))
            except FileNotFoundError:
                logger.warning("WADO-RS: the file %s is missing from the storage area", file_uuid)
            first = False
            continue
        try:
            data = transcoding.transcoded_file(storage.path_for(file_uuid), syntax)
        except transcoding.TranscodingError as error:
            if first:
                raise accept.NotAcceptable(f"Cannot send this instance as {syntax}: {error.details}") from error
            # The answer has started: the instance is left out of it.
            logger.warning("WADO-RS: an instance left out, it cannot be sent as %s: %s", syntax, error.details)
            continue
        except (FileNotFoundError, pydicom.errors.InvalidDicomError) as error:
            logger.warning("WADO-RS: an instance left out: %s", error)
            continue
        first = False
        yield Part.of_bytes(DICOM, data)


def _chained(first, rest):
    yield first
    yield from rest


def metadata(request, **route):
    """GET …/metadata at study, series or instance level: DICOM JSON of every instance."""
    accept.check_metadata(request.headers.get("Accept"))
    instances = resources.instances_of_route(route)
    if not route.get("series"):
        _audited(audit.VIEW, request, route, "DICOMweb metadata")
    body = metadata_json.answer_chunks(instances, metadata_json.root_url(request))
    return StreamingHttpResponse(body, content_type=resources.DICOM_JSON)


def _instance(route):
    """The instance of a route, in one query (frames are asked one by one: this is on OHIF's path)."""
    found = (
        Instance.objects.filter(
            series__study__study_instance_uid=resources.check_uid(route["study"], "StudyInstanceUID"),
            series__series_instance_uid=resources.check_uid(route["series"], "SeriesInstanceUID"),
            sop_instance_uid=resources.check_uid(route["instance"], "SOPInstanceUID"),
        )
        .only("pk", "public_id", "file_uuid", "transfer_syntax_uid", "series_id")
        .first()
    )
    if found is None:
        raise UnknownResource(f"No instance {route['instance']} is stored")
    return found


def frames(request, **route):
    """GET …/instances/{uid}/frames/{list}: the frames, 1-based, each one part."""
    numbers = frame_data.frame_numbers(route["frames"])
    choices = accept.frame_choices(request.headers.get("Accept"))
    instance = _instance(route)
    root = metadata_json.root_url(request)
    path = metadata_json.instance_path(route["study"], route["series"], route["instance"])
    media_type, parts = frame_data.frame_parts(instance, numbers, choices, lambda n: f"{root}{path}/frames/{n}")
    return response(parts, media_type)


def bulk(request, **route):
    """GET …/instances/{uid}/bulk/{tag path}: one element's value."""
    path = bulk_data.tag_path(route["tags"])
    accept.check_bulk(request.headers.get("Accept"))
    instance = _instance(route)
    return response(bulk_data.bulk_parts(instance, path), "application/octet-stream")
