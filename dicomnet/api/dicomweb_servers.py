"""REST of the DICOMweb client: /dicom-web/servers, each remote server's configuration and
actions, answered as Orthanc 1.10.1 with its DICOMweb plugin 1.7 answers them.

The registry is dicomnet/dicomweb/servers.py, the HTTP client.py, the jobs jobs.py: the
handlers here read the body and shape the answer. stow, retrieve and wado are jobs (stow and
retrieve run within the request unless "Synchronous": false or "Asynchronous": true, wado
is queued unless "Synchronous": true, as in Orthanc); qido and get answer at once.
"""

from django.http import HttpResponse

from dicomnet.dicomweb import client, servers
from dicomnet.dicomweb import jobs as dicomweb_jobs
from dicomnet.dicomweb.client import RemoteError
from dicomnet.models import Job
from explorer import audit, tags
from explorer.api.base import json_body, json_response
from explorer.errors import BadFileFormat, BadRequest, NetworkProtocol, UnknownResource
from explorer.index import resolve

# Headers of a remote answer that /get does not pass on: they describe the connection, or
# speak for the remote server to the browser.
NOT_FORWARDED = {
    "connection",
    "content-length",
    "keep-alive",
    "transfer-encoding",
    "set-cookie",
    "www-authenticate",
    "server",
    "date",
}


def _remote(function, *args, **kwargs):
    """Call the client; its failures become Orthanc's errors (a remote 404 stays a 404)."""
    try:
        return function(*args, **kwargs)
    except RemoteError as error:
        if error.status == 404:
            raise UnknownResource(str(error)) from error
        raise NetworkProtocol(str(error)) from error


def _object(request, what):
    body = json_body(request, None)
    if not isinstance(body, dict):
        raise BadFileFormat(f"A request to the DICOMweb {what} must provide a JSON object")
    return body


def _strings(body, key):
    """An optional object of strings of the body (HttpHeaders, Arguments)."""
    value = body.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
        raise BadFileFormat(f'"{key}" must be an object of names to strings')
    return {str(k): str(v) for k, v in value.items()}


def _synchronous(body, default):
    for key, meaning in (("Synchronous", True), ("Asynchronous", False)):
        if key in body:
            if not isinstance(body[key], bool):
                raise BadFileFormat(f'"{key}" must be true or false')
            return body[key] is meaning
    return default


def _priority(body):
    priority = body.get("Priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise BadFileFormat('"Priority" must be an integer')
    return priority


def _job_answer(job, synchronous):
    """Orthanc's answer: the content of a job run to its end, or where the queued one is."""
    if not synchronous:
        return json_response({"ID": str(job.id), "Path": f"/jobs/{job.id}"})
    if job.state != Job.SUCCESS:
        raise NetworkProtocol(job.error_details or job.error_description)
    return json_response(job.content)


# --- the registry -------------------------------------------------------------------------


def list_servers(request):
    if "expand" in request.GET:
        from dicomnet.models import DicomWebServer

        return json_response({s.name: servers.public(s) for s in DicomWebServer.objects.order_by("name")})
    return json_response(servers.names())


def show(request, name):
    return json_response(servers.operations(servers.get(name)))


def update(request, name):
    fields = servers.fields_from_body(json_body(request))
    servers.save(name, fields)
    shown = {key: value for key, value in fields.items() if key != "password"}
    shown["http_headers"] = sorted(fields.get("http_headers", {}))
    audit.record(audit.SETTING, request, detail=f"DICOMweb server {name} saved: {shown}")
    return json_response({})


def delete(request, name):
    servers.delete(name)
    audit.record(audit.SETTING, request, detail=f"DICOMweb server {name} deleted")
    return json_response({})


# --- sending and retrieving: jobs ---------------------------------------------------------


def stow(request, name):
    server = servers.get(name)
    body = _object(request, "STOW-RS client")
    resources = body.get("Resources")
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise BadFileFormat(
            'A request to the DICOMweb STOW-RS client must provide a JSON object with the field "Resources" '
            "containing an array of resources to be sent"
        )
    for public_id in resources:
        if resolve(public_id)[1] is None:
            raise UnknownResource(f"Unknown resource: {public_id}")
    synchronous = _synchronous(body, True)
    job = dicomweb_jobs.start_stow(
        server,
        resources,
        request.user,
        headers=_strings(body, "HttpHeaders"),
        synchronous=synchronous,
        priority=_priority(body),
    )
    return _job_answer(job, synchronous)


def _uid(item, key):
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise BadFileFormat(f'The field "{key}" in a JSON object should be a string')
    return value or None


def retrieve_uris(resources):
    """The WADO-RS URIs of Orthanc's Resources: [{"Study": uid, "Series": uid, "Instance": uid}],
    "Series" also a list of UIDs of that study."""
    if not isinstance(resources, list):
        raise BadFileFormat('The body must be a JSON object containing an array "Resources"')
    uris = []
    for item in resources:
        if not isinstance(item, dict) or not _uid(item, "Study"):
            raise BadFileFormat('Missing "Study" field in the body')
        series = item.get("Series")
        if isinstance(series, list):
            if not all(isinstance(s, str) and s for s in series) or item.get("Instance"):
                raise BadFileFormat('"Series" is a UID, or a list of UIDs without "Instance"')
            uris += [dicomweb_jobs.resource_uri(item["Study"], uid) for uid in series]
            continue
        series, instance = _uid(item, "Series"), _uid(item, "Instance")
        if instance and not series:
            raise BadFileFormat('Missing "Series" field in the body, as "Instance" is present')
        uris.append(dicomweb_jobs.resource_uri(item["Study"], series, instance))
    return uris


def retrieve(request, name):
    server = servers.get(name)
    body = _object(request, "WADO-RS Retrieve client")
    uris = retrieve_uris(body.get("Resources"))
    arguments = _strings(body, "GetArguments") | _strings(body, "Arguments")
    return _start_retrieve(request, server, uris, body, arguments, default_synchronous=True)


def _start_retrieve(request, server, uris, body, arguments, default_synchronous):
    synchronous = _synchronous(body, default_synchronous)
    job = dicomweb_jobs.start_retrieve(
        server,
        uris,
        request.user,
        arguments=arguments,
        headers=_strings(body, "HttpHeaders"),
        synchronous=synchronous,
        priority=_priority(body),
    )
    return _job_answer(job, synchronous)


def _uri(body):
    uri = body.get("Uri")
    if not isinstance(uri, str) or not uri:
        raise BadFileFormat(
            'A request to the DICOMweb client must provide a JSON object with the field "Uri" '
            "containing the URI of interest"
        )
    return client.check_uri(uri)


def wado(request, name):
    """POST {"Uri": a WADO-RS URI}: what it answers stored in Pharos, as a job."""
    server = servers.get(name)
    body = _object(request, "client")
    return _start_retrieve(request, server, [_uri(body)], body, _strings(body, "Arguments"), False)


# --- asking: answered at once ------------------------------------------------------------


def qido(request, name):
    """The remote JSON answer, each attribute as Orthanc's plugin shows it: Group, Element,
    Name, vr, and the first Value (a person's alphabetic name)."""
    server = servers.get(name)
    body = _object(request, "client")
    uri = _uri(body)
    answer = _remote(client.get_json, server, uri, _strings(body, "Arguments"), _strings(body, "HttpHeaders"))
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        raise NetworkProtocol(f"The answer of {server.url} to {uri} is not a list of data sets")
    return json_response([qido_item(item) for item in answer])


def qido_item(dataset):
    shown = {}
    for key, element in dataset.items():
        try:
            tag = int(key, 16)
        except ValueError:
            continue
        if len(key) != 8 or not isinstance(element, dict) or not isinstance(element.get("vr"), str):
            raise NetworkProtocol(f"Not a DICOM JSON attribute: {key}")
        value = {"Group": tag >> 16, "Element": tag & 0xFFFF, "Name": tags.tag_name(tag), "vr": element["vr"]}
        values = element.get("Value")
        if isinstance(values, list) and values:
            first = values[0]
            if isinstance(first, str | int) and not isinstance(first, bool):
                value["Value"] = first
            elif isinstance(first, dict) and isinstance(first.get("Alphabetic"), str):
                value["Value"] = first["Alphabetic"]
        shown[key] = value
    return shown


def get(request, name):
    """The remote answer as it is: its body, Content-Type and headers."""
    server = servers.get(name)
    body = _object(request, "client")
    uri = _uri(body)
    _, headers, content = _remote(client.get, server, uri, _strings(body, "Arguments"), _strings(body, "HttpHeaders"))
    response = HttpResponse(content, content_type="application/octet-stream")
    for key, value in headers:
        if key.lower() == "content-type":
            response["Content-Type"] = value
        elif key.lower() not in NOT_FORWARDED:
            response[key] = value
    return response


def delete_remote(request, name):
    """POST {"Level", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"}: DELETE of
    that resource on a server whose configuration says it has it (HasDelete)."""
    server = servers.get(name)
    if not server.has_delete:
        raise BadFileFormat(f'Cannot delete on DICOMweb server, check out property "HasDelete": {name}')
    body = _object(request, "client")
    keys = {"Study": ("StudyInstanceUID",), "Series": ("StudyInstanceUID", "SeriesInstanceUID")}
    keys["Instance"] = keys["Series"] + ("SOPInstanceUID",)
    level = str(body.get("Level", "")).capitalize()
    if level not in keys:
        raise BadRequest('"Level" must be Study, Series or Instance')
    uids = []
    for key in keys[level]:
        if not isinstance(body.get(key), str) or not body[key]:
            raise BadFileFormat(f'The request body must contain the field "{key}"')
        uids.append(body[key])
    _remote(client.delete, server, dicomweb_jobs.resource_uri(*uids))
    audit.record(audit.DELETE, request, detail=f"on DICOMweb server {name}: {level} {uids[-1]}")
    return json_response({})
