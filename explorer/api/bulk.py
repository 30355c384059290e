"""POST /tools/bulk-content and /tools/bulk-delete: many resources of any level in one call, as
Orthanc 1.10.1 answers them (OrthancRestResources.cpp). Unknown ids are skipped."""

from django.http import HttpResponse

from explorer import audit, index, levels
from explorer.api.base import json_body, json_response
from explorer.api.metadata import metadata_of
from explorer.api.representation import describe, describe_many, tag_format, with_parents
from explorer.errors import BadFileFormat, BadRequest, ParameterOutOfRange
from explorer.index import PATHS_FROM_BELOW, model_for

CHUNK = 500


def _request(request):
    body = json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("The body must contain a JSON object")
    resources = body.get("Resources")
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise BadFileFormat("List of strings expected in field: Resources")
    return body, resources


def _ids_at_level(public_ids, level):
    """The ids of the resources of `level` at, below or above each of these resources, sorted
    (Orthanc's set), as Orthanc walks the hierarchy for bulk-content's Level."""
    found = set()
    depth = levels.LEVELS.index(level)
    for public_id in public_ids:
        own_level, resource = index.resolve(public_id)
        if resource is None:
            continue
        own_depth = levels.LEVELS.index(own_level)
        model = model_for(level)
        if own_depth == depth:
            found.add(public_id)
        elif own_depth < depth:
            path = PATHS_FROM_BELOW[own_level][model]
            found.update(model.objects.filter(**{path: resource}).values_list("public_id", flat=True))
        else:
            path = PATHS_FROM_BELOW[level][type(resource)]
            found.update(model.objects.filter(**{_reverse(path): resource}).values_list("public_id", flat=True))
    return sorted(found)


REVERSE = {"series": "instances", "study": "series", "patient": "studies"}


def _reverse(path):
    """The lookup from a parent model to a descendant, from the descendant's path to the parent
    ("series__study" from an instance → "series__instances" from a study)."""
    return "__".join(REVERSE[part] for part in reversed(path.split("__")))


def _with_metadata(level, resource, answer):
    answer["Metadata"] = {name: value() for name, value in metadata_of(level, resource).items()}
    return answer


def bulk_content(request):
    """POST /tools/bulk-content {Resources, Level?, Metadata?, Short?, Full?}."""
    body, resources = _request(request)
    metadata = body.get("Metadata", True)
    if not isinstance(metadata, bool):
        raise BadFileFormat("Boolean value expected in field: Metadata")
    form = tag_format(short=bool(body.get("Short")), full=bool(body.get("Full")))
    answer = []
    if "Level" in body:
        level = levels.level_named(str(body["Level"]))
        if level is None:
            raise ParameterOutOfRange(f"Unknown resource type: {body['Level']}")
        ids = _ids_at_level(resources, level)
        for start in range(0, len(ids), CHUNK):
            found = with_parents(level, model_for(level).objects.filter(public_id__in=ids[start : start + CHUNK]))
            found = sorted(found, key=lambda r: r.public_id)
            for resource, item in zip(found, describe_many(level, found, short=form)):
                answer.append(_with_metadata(level, resource, item) if metadata else item)
        return json_response(answer)
    for public_id in resources:
        level, resource = index.resolve(public_id)
        if resource is None:
            continue
        item = describe(level, resource, short=form)
        answer.append(_with_metadata(level, resource, item) if metadata else item)
    return json_response(answer)


def bulk_delete(request):
    """POST /tools/bulk-delete {Resources}: each deleted with its empty ancestors; an empty
    text answer."""
    _, resources = _request(request)
    ids = list(dict.fromkeys(resources))
    audit.record_ids(audit.DELETE, request, ids, "REST bulk-delete")
    for public_id in ids:
        level, resource = index.resolve(public_id)
        if resource is not None:
            index.delete(level, resource)
    return HttpResponse(b"", content_type="text/plain")
