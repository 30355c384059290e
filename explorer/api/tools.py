"""/tools/lookup, /tools/find and /tools/create-dicom."""

from explorer import creation, levels, query
from explorer.api.base import json_body, json_response
from explorer.api.representation import describe_many, tag_format, with_parents
from explorer.errors import BadRequest
from explorer.identifiers import check_identifier
from explorer.index import lookup_identifier
from explorer.matching import tag_of, vr_of
from explorer.uploads import request_origin


def lookup(request):
    """POST /tools/lookup: the body is the identifier itself."""
    identifier = request.body.decode("utf-8", errors="replace").strip()
    if not identifier:
        raise BadRequest("The body must hold an identifier")
    check_identifier(identifier)
    return json_response(lookup_identifier(identifier))


def find(request):
    """POST /tools/find {Level, Query, CaseSensitive, Expand, Limit, Since, Short}."""
    body = json_body(request)
    if not isinstance(body, dict) or "Level" not in body or "Query" not in body:
        raise BadRequest('The body must be a JSON object with "Level" and "Query"')
    level = levels.level_named(str(body["Level"]))
    if level is None:
        raise BadRequest(f"Unknown level: {body['Level']}")
    if not isinstance(body["Query"], dict):
        raise BadRequest('"Query" must be a JSON object of tag names to values')
    _check_uids(body["Query"])
    limit, since = body.get("Limit", 0), body.get("Since", 0)
    if not isinstance(limit, int) or not isinstance(since, int) or limit < 0 or since < 0:
        raise BadRequest('"Limit" and "Since" must be whole numbers')
    arguments = dict(
        level=level,
        query={str(k): "" if v is None else str(v) for k, v in body["Query"].items()},
        case_sensitive=bool(body.get("CaseSensitive", False)),
        limit=limit or None,
        since=since,
    )
    if body.get("Expand"):
        resources = with_parents(level, query.find(**arguments))
        form = tag_format(short=bool(body.get("Short")), full=bool(body.get("Full")))
        return json_response(describe_many(level, resources, short=form))
    return json_response(query.find_ids(**arguments))


def _check_uids(query):
    """A UID asked for (each of a list) must fit the index: a longer one is a 400."""
    for name, value in query.items():
        if isinstance(value, str) and vr_of(tag_of(str(name))) == "UI":
            for uid in value.split("\\"):
                check_identifier(uid.strip(), what=f"{name} value")


def create_dicom(request):
    """POST /tools/create-dicom {Tags, Content, Parent, Force, InterpretBinaryTags, PrivateCreator}."""
    return json_response(creation.create(json_body(request), request_origin(request)))
