"""The hierarchy: one set of handlers for /patients, /studies, /series and /instances."""

from django.http import StreamingHttpResponse

from explorer import archives, audit, dicom_modules, index, levels, resource_counts, slices, tags, transcoding
from explorer.api.base import NoSuchResource, flag, json_body, json_response, paging
from explorer.api.representation import describe, describe_many, queryset_for, request_tag_format, with_parents
from explorer.errors import BadRequest, UnknownResource
from explorer.index import model_for


def get_resource(level, public_id):
    resource = queryset_for(level).filter(public_id=public_id).first()
    if resource is None:
        raise NoSuchResource(public_id)
    return resource


def list_resources(request, level):
    """GET /{level}: ids, or objects with ?expand; ?since=N&limit=M pages."""
    since, limit = paging(request)
    queryset = model_for(level).objects.order_by("id")
    if since is not None:
        queryset = queryset[since : since + limit]
    if flag(request, "expand"):
        return json_response(describe_many(level, with_parents(level, queryset), short=request_tag_format(request)))
    return json_response(list(queryset.values_list("public_id", flat=True)))


def show(request, level, public_id):
    resource = get_resource(level, public_id)
    if level in (levels.PATIENT, levels.STUDY):
        audit.record(audit.VIEW, request, level=level, resource=resource, detail="REST")
    return json_response(describe(level, resource, short=request_tag_format(request)))


def delete(request, level, public_id):
    resource = get_resource(level, public_id)
    deleted = audit.event(audit.DELETE, request, level=level, resource=resource, detail="REST")
    remaining = index.delete(level, resource)
    audit.save(deleted)
    if remaining is None:
        return json_response({"RemainingAncestor": None})
    parent_level, parent = remaining
    return json_response(
        {
            "RemainingAncestor": {
                "ID": parent.public_id,
                "Path": f"/{parent_level.plural}/{parent.public_id}",
                "Type": parent_level.name,
            }
        }
    )


def archive(request, level, public_id):
    """GET /{patients,studies,series}/{id}/archive: a ZIP streamed as it is written."""
    resource = get_resource(level, public_id)
    syntax = _transcode_syntax(request.GET.get("transcode"))
    audit.record(audit.DOWNLOAD, request, level=level, resource=resource, detail="ZIP archive")
    entries = archives.archive_entries(level, resource)
    return _zip_response(entries, f'attachment; filename="{public_id}.zip"', syntax)


def archive_post(request, level, public_id):
    """POST /{patients,studies,series}/{id}/archive {"Transcode"?}: the same ZIP."""
    resource = get_resource(level, public_id)
    body = json_body(request, default={})
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object")
    if body.get("Asynchronous") or body.get("Synchronous") is False:
        raise BadRequest("Archives are made synchronously only")
    syntax = _transcode_syntax(body.get("Transcode"))
    audit.record(audit.DOWNLOAD, request, level=level, resource=resource, detail="ZIP archive")
    entries = archives.archive_entries(level, resource)
    return _zip_response(entries, f'attachment; filename="{public_id}.zip"', syntax)


def _transcode_syntax(value):
    """`?transcode=` / "Transcode": a transfer syntax UID (UnknownTransferSyntax otherwise), None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest('"Transcode" must be a transfer syntax UID')
    return transcoding.transfer_syntax(value)


def _zip_response(entries, disposition, syntax=None):
    response = StreamingHttpResponse(archives.stream_zip(entries, syntax), content_type="application/zip")
    response["Content-Disposition"] = disposition
    return response


def create_archive(request):
    """POST /tools/create-archive {"Resources": [ids of any level]}: one ZIP of them all."""
    body = json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("Resources"), list):
        raise BadRequest('The body must be a JSON object with a "Resources" list of ids')
    if body.get("Asynchronous") or body.get("Synchronous") is False:
        raise BadRequest("Archives are made synchronously only")
    syntax = _transcode_syntax(body.get("Transcode"))
    try:
        entries = archives.resources_entries(str(i) for i in body["Resources"])
    except KeyError:
        raise UnknownResource() from None
    audit.record_ids(audit.DOWNLOAD, request, body["Resources"], "ZIP archive (create-archive)")
    return _zip_response(entries, 'filename="Archive.zip"', syntax)


def _size_fields(prefix, size):
    return {
        f"{prefix}Size": str(size),
        f"{prefix}SizeMB": size // (1024 * 1024),
    }


def statistics(request, level, public_id):
    """GET /{level}/{id}/statistics."""
    resource = get_resource(level, public_id)
    totals = resource_counts.resource_statistics(level, resource)
    size = totals["size"] or 0
    answer = {}
    for prefix in ("DicomDisk", "DicomUncompressed", "Disk", "Uncompressed"):
        answer |= _size_fields(prefix, size)
    counts = {
        levels.PATIENT: ("Studies", "Series", "Instances"),
        levels.STUDY: ("Series", "Instances"),
        levels.SERIES: ("Instances",),
    }.get(level, ())
    for name in counts:
        answer[f"Count{name}"] = totals[name.lower()]
    return json_response(answer)


# /{level}/{id}/{relative}: the relatives Orthanc offers, and how to reach them.
RELATIVE_PATHS = {
    (levels.PATIENT, "studies"): "patient",
    (levels.PATIENT, "series"): "study__patient",
    (levels.PATIENT, "instances"): "series__study__patient",
    (levels.STUDY, "series"): "study",
    (levels.STUDY, "instances"): "series__study",
    (levels.STUDY, "patient"): "studies",
    (levels.SERIES, "instances"): "series",
    (levels.SERIES, "study"): "series",
    (levels.SERIES, "patient"): "studies__series",
    (levels.INSTANCE, "series"): "instances",
    (levels.INSTANCE, "study"): "series__instances",
    (levels.INSTANCE, "patient"): "studies__series__instances",
}


def relative(request, level, public_id, relation):
    """Children lists (always expanded) and parent shortcuts, e.g. /series/{id}/study."""
    resource = get_resource(level, public_id)
    target = levels.level_named(relation)
    lookup = RELATIVE_PATHS[(level, relation)]
    queryset = with_parents(target, model_for(target).objects.filter(**{lookup: resource}).order_by("id"))
    short = request_tag_format(request)
    if relation in ("patient", "study") or (relation == "series" and level is levels.INSTANCE):
        return json_response(describe(target, queryset.get(), short=short))
    return json_response(describe_many(target, queryset, short=short))


def _instances_of(level, resource):
    return index.instances_below(level, resource).order_by("id")


def _tags_answer(request, dataset_json):
    simplify, short = flag(request, "simplify"), flag(request, "short")
    return json_response(tags.tags_in_format(dataset_json, simplify=simplify, short=short))


def module(request, level, public_id, module_level=None):
    """GET /{level}/{id}/module (and /studies/{id}/module-patient): the tags of the level's
    DICOM module, read from the resource's first instance."""
    dataset = _instances_of(level, get_resource(level, public_id)).values_list("dataset", flat=True).first()
    return _tags_answer(request, dicom_modules.module_elements(dataset or {}, module_level or level))


def shared_tags(request, level, public_id):
    """GET /{patients,studies,series}/{id}/shared-tags: the tags all its instances share."""
    datasets = _instances_of(level, get_resource(level, public_id)).values_list("dataset", flat=True)
    return _tags_answer(request, tags.shared_elements(datasets.iterator()))


def ordered_slices(request, level, public_id):
    """GET /series/{id}/ordered-slices: the series' frames in 3D (or acquisition) order."""
    series = get_resource(level, public_id)
    rows = series.instances.order_by("id").values("public_id", "index_in_series", "dataset")
    return json_response(slices.ordered_slices(series.public_id, rows))
