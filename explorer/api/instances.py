"""Instance content: upload, the file itself, its tags and values (the pixel data item by item), its PDF."""

import os
import struct

import pydicom
from django.http import FileResponse, HttpResponse

from explorer import audit, dicom, index, levels, sources, storage, tags, transcoding
from explorer.api.base import NoSuchResource, flag, json_response
from explorer.errors import BadFileFormat, UnknownDicomTag, UnknownResource, UnsupportedMediaType
from explorer.uploads import (
    opened_files,
    received_body,
    received_parts,
    request_origin,
    store_archive,
    store_many,
    store_received_file,
    upload_answer,
)

PIXEL_DATA = 0x7FE00010


def upload(request, level=None):
    """POST /instances: a DICOM file, a ZIP of DICOM files, or a multipart form of files,
    received into the storage area's incoming folder as it comes (explorer/uploads.py).

    A ZIP body answers as Orthanc: the stored members only, 200. With ?report-failures (the
    upload page) it answers every member, the rejected ones with their reason, and 400 when
    any was rejected, as a multipart form does."""
    origin = request_origin(request)
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        with received_parts(request) as files:
            if not files:
                raise UnsupportedMediaType("The multipart body holds no file")
            answers, all_stored = store_many(opened_files(files), origin)
        return json_response(answers, status=200 if all_stored else 400)
    with received_body(request) as path:
        if not os.path.getsize(path):
            raise BadFileFormat("The file is empty: a DICOM file or a ZIP archive was expected")
        if content_type == "application/zip" or sources.file_looks_like_zip(path):
            if not flag(request, "report-failures"):
                return json_response(store_archive(sources.zip_members(path), origin))
            answers, all_stored = store_many(sources.zip_members(path), origin)
            return json_response(answers, status=200 if all_stored else 400)
        return json_response(upload_answer(store_received_file(path, origin)))


def _instance(public_id):
    instance = index.get(levels.INSTANCE, public_id)
    if instance is None:
        raise NoSuchResource(public_id)
    return instance


def _known_instance(public_id):
    """The instance, or Orthanc's JSON 404 "Unknown resource" (its answer on /pdf and /content)."""
    instance = index.get(levels.INSTANCE, public_id)
    if instance is None:
        raise UnknownResource()
    return instance


def file(request, public_id):
    """GET /instances/{id}/file: the stored bytes, unchanged; with `?transcode=UID`, the file
    in that transfer syntax (400 when it is unknown or the instance cannot be written in it)."""
    instance = _instance(public_id)
    syntax = request.GET.get("transcode")
    if syntax is not None:
        syntax = transcoding.transfer_syntax(syntax)
    audit.record(audit.DOWNLOAD, request, level=levels.INSTANCE, resource=instance, detail="DICOM file")
    if syntax is not None and syntax != instance.transfer_syntax_uid:
        data = transcoding.transcoded_file(storage.path_for(instance.file_uuid), syntax)
        response = HttpResponse(data, content_type="application/dicom")
    else:
        response = FileResponse(storage.open_file(instance.file_uuid), content_type="application/dicom")
    response["Content-Disposition"] = f'filename="{instance.public_id}.dcm"'
    return response


def pdf(request, public_id):
    """GET /instances/{id}/pdf: the PDF an encapsulated PDF instance holds; 404 with an
    empty body for any other instance, as Orthanc."""
    instance = _known_instance(public_id)
    if not dicom.holds_pdf(instance.dataset):
        return HttpResponse(status=404)
    document = dicom.encapsulated_document(storage.path_for(instance.file_uuid))
    response = HttpResponse(document, content_type="application/pdf")
    response["X-Frame-Options"] = "SAMEORIGIN"  # the instance page shows it in an <object>
    return response


def tags_view(request, public_id):
    """GET /instances/{id}/tags (?simplify, ?short, ?ignore-length=)."""
    instance = _instance(public_id)
    keep_long = _kept_long(request)
    return json_response(
        tags.tags_in_format(
            instance.dataset, simplify=flag(request, "simplify"), short=flag(request, "short"), keep_long=keep_long
        )
    )


def simplified_tags(request, public_id):
    """GET /instances/{id}/simplified-tags (?ignore-length=; ?short changes nothing, as in Orthanc)."""
    keep_long = _kept_long(request)
    return json_response(tags.simplified_tags(_instance(public_id).dataset, keep_long))


def _kept_long(request):
    """The tags of ?ignore-length=, shown whatever their length (Orthanc keeps the last
    occurrence of an argument)."""
    try:
        return tags.tags_kept_long(request.GET.get("ignore-length", ""))
    except KeyError as exc:
        raise UnknownDicomTag(f"Unknown DICOM tag in ignore-length: {exc.args[0]}") from None


def content(request, public_id, path=""):
    """GET /instances/{id}/content/{gggg-eeee}[/{index}/{gggg-eeee}…]."""
    instance = _known_instance(public_id)
    parts = [part for part in path.split("/") if part]
    if not parts:
        return json_response([k.replace(",", "-") for k in tags.short_tags(instance.dataset)])
    if _is_pixel_data(parts[0]):
        return _pixel_data(instance, parts[1:])
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


def _is_pixel_data(part):
    try:
        return tags.parse_tag(part) == PIXEL_DATA
    except KeyError:
        return False


def _pixel_data(instance, rest):
    """…/content/7fe0-0010[/{n}] as Orthanc: encapsulated pixel data lists its items (the
    Basic Offset Table is item 0) and answers item n; native pixel data is one value, item 0."""
    element = pydicom.dcmread(storage.path_for(instance.file_uuid), specific_tags=[PIXEL_DATA]).get(PIXEL_DATA)
    if element is None or len(rest) > 1:
        raise NoSuchResource(instance.public_id)
    value = element.value or b""
    items = encapsulated_items(value) if element.is_undefined_length else [value]
    if not rest:
        if element.is_undefined_length:
            return json_response([str(number) for number in range(len(items))])
        return HttpResponse(value, content_type="application/octet-stream")
    if not rest[0].isdigit() or int(rest[0]) >= len(items):
        raise NoSuchResource(instance.public_id)
    return HttpResponse(items[int(rest[0])], content_type="application/octet-stream")


def encapsulated_items(value):
    """The items of encapsulated pixel data (PS3.5 A.4), the Basic Offset Table first; each
    an (FFFE,E000) tag and a 32-bit length, little endian, until the sequence delimiter."""
    items, position = [], 0
    while position + 8 <= len(value):
        group, element, length = struct.unpack_from("<HHL", value, position)
        position += 8
        if (group, element) != (0xFFFE, 0xE000):
            break
        items.append(value[position : position + length])
        position += length
    return items


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
    as_json = tags.file_meta_json(storage.path_for(instance.file_uuid))
    return json_response(tags.tags_in_format(as_json, simplify=flag(request, "simplify"), short=flag(request, "short")))
