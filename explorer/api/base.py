"""What every REST handler shares: method dispatch, JSON answers, Orthanc's error shape, arguments."""

import json

import orjson
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from explorer import rights
from explorer.errors import BadJson, BadRequest, Forbidden, PharosError

# The order Orthanc names a route's methods in its Allow header ("GET,PUT").
METHOD_ORDER = ("GET", "POST", "PUT", "DELETE")


class NoSuchResource(Exception):
    """An unknown resource id: Orthanc answers 404 with an empty body."""


class MethodNotAllowed(PharosError):
    # Orthanc answers 405 with an empty body; its clients read the status and Allow, and a
    # person reading the answer is told which methods the route has.
    http_status, orthanc_status, orthanc_error = 405, 8, "Bad request"


def json_response(data, status=200):
    # Orthanc's layout (sorted keys, indented), written by orjson: the standard library's
    # indenting encoder is pure Python and dominates long listings.
    body = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


def error_response(error, request):
    return HttpResponse(
        json.dumps(error.body(request.method, request.path), indent="\t", sort_keys=True),
        status=error.http_status,
        content_type="application/json; charset=utf-8",
    )


def endpoint(**handlers):
    """A view that dispatches on the HTTP method, each method with the right it needs:
    endpoint(GET=VIEW(f), DELETE=DELETE(g)) (explorer/rights.py). A handler without its
    right is refused here, when the route table is built."""
    undeclared = [method for method, guarded in handlers.items() if not isinstance(guarded, rights.Guarded)]
    if undeclared or not handlers:
        raise ImproperlyConfigured(f"Declare the right of {', '.join(undeclared) or 'a method'}: GET=VIEW(handler)")

    def view(request, **kwargs):
        guarded = handlers.get(request.method)
        if guarded is None:
            allowed = ",".join(sorted(handlers, key=_method_rank))
            response = error_response(MethodNotAllowed(f"{request.method} is not allowed here; use {allowed}"), request)
            response["Allow"] = allowed
            return response
        if not rights.allows(request.user, guarded.right):
            return error_response(Forbidden(rights.refusal(guarded.right)), request)
        try:
            return guarded.handler(request, **kwargs)
        except NoSuchResource:
            return HttpResponse(status=404)
        except PharosError as error:
            return error_response(error, request)

    view.csrf_exempt = False
    view.rights = {method: guarded.right for method, guarded in handlers.items()}
    return view


def _method_rank(method):
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


def flag(request, name):
    """A boolean query argument: present means true unless it says false/0."""
    if name not in request.GET:
        return False
    return request.GET[name].lower() not in ("false", "0", "no")


def json_body(request, default=None):
    if not request.body:
        return default
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJson(f"The body is not valid JSON: {exc}") from exc


def paging(request):
    """?since=N&limit=M: both or neither, as Orthanc requires."""
    since, limit = request.GET.get("since"), request.GET.get("limit")
    if since is None and limit is None:
        return None, None
    if since is None:
        raise BadRequest("Missing since argument")
    if limit is None:
        raise BadRequest("Missing limit argument")
    try:
        since, limit = int(since), int(limit)
    except ValueError as exc:
        raise BadRequest("since and limit must be whole numbers") from exc
    if since < 0 or limit < 0:
        raise BadRequest("since and limit must not be negative")
    return since, limit


def timestamp(moment):
    """Orthanc's YYYYMMDDTHHMMSS."""
    return moment.strftime("%Y%m%dT%H%M%S")
