"""Instance content: upload, the file itself, its tags."""

import pydicom
from django.http import FileResponse, HttpResponse

from explorer import index, ingest, levels, sources, storage, tags
from explorer.api.base import NoSuchResource, flag, json_response
from explorer.errors import BadFileFormat, UnsupportedMediaType
from explorer.uploads import request_origin, store_many, upload_answer, uploaded_contents


def upload(request, level=None):
    """POST /instances: a DICOM file, a ZIP of DICOM files, or a multipart form of files."""
    origin = request_origin(request)
    content_type = request.content_type or ""
    if content_type.startswith("multipart/"):
        files = [f for field in request.FILES for f in request.FILES.getlist(field)]
        if not files:
            raise UnsupportedMediaType("The multipart body holds no file")
        answers, all_stored = store_many(uploaded_contents(files), origin)
        return json_response(answers, status=200 if all_stored else 400)
    body = request.body
    if not body:
        raise BadFileFormat("The body is empty: a DICOM file or a ZIP archive was expected")
    if content_type == "application/zip" or sources.looks_like_zip(body[:4]):
        answers, all_stored = store_many(sources.zip_members(body), origin)
        return json_response(answers, status=200 if all_stored else 400)
    return json_response(upload_answer(ingest.store_instance(body, origin)))


def _instance(public_id):
    instance = index.get(levels.INSTANCE, public_id)
    if instance is None:
        raise NoSuchResource(public_id)
    return instance


def file(request, public_id):
    """GET /instances/{id}/file: the stored bytes, unchanged."""
    instance = _instance(public_id)
    response = FileResponse(storage.open_file(instance.file_uuid), content_type="application/dicom")
    response["Content-Disposition"] = f'filename="{instance.public_id}.dcm"'
    return response


def tags_view(request, public_id):
    instance = _instance(public_id)
    return json_response(
        tags.tags_in_format(instance.dataset, simplify=flag(request, "simplify"), short=flag(request, "short"))
    )


def simplified_tags(request, public_id):
    return json_response(tags.simplified_tags(_instance(public_id).dataset))


def content(request, public_id, path=""):
    """GET /instances/{id}/content/{gggg-eeee}[/{index}/{gggg-eeee}…]."""
    instance = _instance(public_id)
    parts = [part for part in path.split("/") if part]
    if not parts:
        return json_response([k.replace(",", "-") for k in tags.short_tags(instance.dataset)])
    try:
        kind, payload = tags.value_at_path(instance.dataset, parts)
    except (KeyError, IndexError, ValueError):
        raise NoSuchResource(path) from None
    if kind == "children":
        return json_response(payload)
    if kind == "value":
        return HttpResponse(payload, content_type="text/plain; charset=utf-8")
    if kind == "binary":
        return HttpResponse(payload, content_type="application/octet-stream")
    return HttpResponse(_bulk_value(instance, parts), content_type="application/octet-stream")


def _bulk_value(instance, parts):
    """A value too large for the index: read it from the file."""
    node = pydicom.dcmread(storage.path_for(instance.file_uuid))
    for position, part in enumerate(parts):
        if position % 2 == 0:
            node = node[tags.parse_tag(part)]
        else:
            node = node.value[int(part)]
    return node.value


def header(request, public_id):
    """GET /instances/{id}/header: the file meta information (group 0002)."""
    instance = _instance(public_id)
    meta = pydicom.filereader.read_file_meta_info(storage.path_for(instance.file_uuid))
    as_json = meta.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=lambda e: "")
    # Orthanc leaves binary elements (FileMetaInformationVersion) out of the header.
    as_json = {key: element for key, element in as_json.items() if element.get("vr") not in tags.BINARY_VRS}
    return json_response(
        tags.tags_in_format(as_json, simplify=flag(request, "simplify"), short=flag(request, "short"))
    )
