"""What a request answers when a service the server needs fails, or a value cannot be stored.

- PostgreSQL (or SQLite) unreachable, a connection cut: 503 with Retry-After, in Orthanc's
  JSON error shape (DatabaseUnavailable), whatever the route;
- Redis unreachable (the job queue): 503 with Retry-After (JobQueueUnavailable);
- a value the database refuses (a NUL byte, which PostgreSQL's text cannot hold): 400;
- a NUL byte in the path or a query argument: 400 before any view runs;
- any other error: 500 "Internal error" in the same JSON shape, never Django's bare HTML page.

The explorer's pages (and the admin, and the login page) get a short HTML page instead of
JSON, written here without templates: rendering one runs context processors that may read
the very database that is down.

`ServerFailureMiddleware.process_exception` answers what a view raises; `server_error`, the
URLconf's handler500, what a middleware raises (reading the session with the database down)
and anything left. A connection dropped by a database restart is replaced before the next
request uses it (CONN_HEALTH_CHECKS in explorer/settings.py).
"""

import logging
import sys
from http import HTTPStatus

import redis.exceptions
from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from explorer.api.base import error_response
from explorer.errors import BadRequest, DatabaseUnavailable, JobQueueUnavailable, PharosError, UnknownResource

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# The explorer's pages, the viewer, the admin and the login pages: the REST API owns the rest of the root.
PAGE_PREFIXES = ("/ui/", "/viewer/", "/login/", "/logout/", "/admin/")


def is_page(request):
    return request.path == "/" or request.path.startswith(PAGE_PREFIXES)


def error_for(exception):
    """The PharosError a failure is answered with, or None for an unforeseen one."""
    if isinstance(exception, PharosError):
        return exception
    if isinstance(exception, DataError):
        return BadRequest(f"A value cannot be stored or searched: {exception}".strip())
    # The log has the driver's message; the client is not told where the services live.
    if isinstance(exception, DATABASE_DOWN):
        return DatabaseUnavailable("The database cannot be reached")
    if isinstance(exception, REDIS_DOWN):
        return JobQueueUnavailable("Redis cannot be reached")
    return None


def failure_response(request, error):
    if not is_page(request):
        return error_response(error, request)
    response = _page(error)
    if error.retry_after:
        response["Retry-After"] = str(error.retry_after)
    return response


def _page(error):
    body = format_html(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{status} {title}</title>{icon}</head>'
        '<body><h1>{title}</h1><p>{message}</p><p>{details}</p>{retry}<p><a href="/ui/">Pharos</a></p>'
        "</body></html>\n",
        status=error.http_status,
        title=HTTPStatus(error.http_status).phrase,
        message=error.message,
        details=error.details or "",
        retry="Try again in a moment." if error.http_status == 503 else "",
        icon=mark_safe(render_to_string("_favicon.html").strip()),
    )
    return HttpResponse(body, status=error.http_status, content_type="text/html; charset=utf-8")


def has_nul(request):
    """A NUL byte in the path or a query argument: no identifier or search holds one."""
    if "\x00" in request.path:
        return True
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists())


class ServerFailureMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if has_nul(request):
            return failure_response(request, BadRequest("A NUL byte is not allowed in the path or a query argument"))
        return self.get_response(request)

    def process_exception(self, request, exception):
        error = error_for(exception)
        if error is None:
            return None  # Django logs it with its traceback, then server_error answers
        if error.http_status >= 500:
            logger.error("%s %s: %s", request.method, request.path, exception)
        return failure_response(request, error)


def server_error(request):
    """handler500: the error being handled, answered as process_exception would."""
    error = error_for(sys.exc_info()[1]) or PharosError()
    return failure_response(request, error)


def not_found(request, exception=None):
    """handler404: Orthanc's JSON 404 on the REST API, a short page on the explorer's that
    names the address not found."""
    if is_page(request):
        return failure_response(request, UnknownResource(f"Pharos has no page at {request.path}"))
    return failure_response(request, UnknownResource())
