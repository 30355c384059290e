"""REST of the Orthanc peers, as Orthanc 1.10.1 answers it: /peers (names, or `?expand` for each
peer's public settings, never a password), /peers/{name} (its operations; PUT, DELETE), its
/configuration, /system (the peer's own), /store (a job) and /store-straight (a file passed on).
The work is in dicomnet/peers/."""

import json

from django.http import HttpResponse

from dicomnet.models import Job
from dicomnet.peers import client, configuration, jobs
from explorer import audit
from explorer.api.base import NoSuchResource, flag, json_body, json_response
from explorer.errors import BadFileFormat, NetworkProtocol
from explorer.uploads import received_body


def list_peers(request):
    if flag(request, "expand"):
        peers = configuration.OrthancPeer.objects.all()
        return json_response({peer.name: configuration.public(peer) for peer in peers})
    return json_response(configuration.names())


def show(request, name):
    if not configuration.OrthancPeer.objects.filter(name=name).exists():
        raise NoSuchResource(name)
    return json_response(configuration.OPERATIONS)


def show_configuration(request, name):
    return json_response(configuration.public(configuration.peer(name)))


def update(request, name):
    fields = configuration.fields_from_body(json_body(request))
    configuration.save(name, fields)
    audit.record(audit.SETTING, request, detail=f"peer {name} saved: {fields['url']}")
    return HttpResponse(content_type="text/plain")  # Orthanc's empty text answer


def delete(request, name):
    configuration.delete(name)
    audit.record(audit.SETTING, request, detail=f"peer {name} deleted")
    return HttpResponse(content_type="text/plain")


def system(request, name):
    peer = configuration.peer(name)
    try:
        return HttpResponse(client.system(peer), content_type="application/json")
    except client.PeerError as error:
        raise NetworkProtocol(str(error)) from error


# --- sending ----------------------------------------------------------------------------------


def store_arguments(request):
    """(the resources, the other arguments) of Orthanc's three forms of body: an id (bare or as
    a JSON string), a list of ids, or {"Resources": [...], ...}."""
    text = request.body.decode("utf-8", errors="replace").strip()
    if jobs.looks_like_id(text):
        return [text], {}
    try:
        body = json.loads(text)
    except ValueError as error:
        raise BadFileFormat("Must provide a JSON value") from error
    if isinstance(body, str):
        return [body], {}
    if isinstance(body, list):
        return body, {}
    if not isinstance(body, dict):
        raise BadFileFormat("Must provide a JSON object, or a JSON array of strings")
    if "Resources" not in body:
        raise BadFileFormat('Missing field in JSON: "Resources"')
    if not isinstance(body["Resources"], list):
        raise BadFileFormat('JSON field "Resources" must contain an array')
    return body["Resources"], body


def _synchronous(arguments):
    if "Asynchronous" in arguments:
        return not arguments["Asynchronous"]
    return bool(arguments.get("Synchronous", True))


def _flag(arguments, key):
    value = arguments.get(key, False)
    if not isinstance(value, bool):
        raise BadFileFormat(f'"{key}" must be true or false')
    return value


def store(request, name):
    peer = configuration.peer(name)
    resources, arguments = store_arguments(request)
    transcode = arguments.get("Transcode")
    if transcode is not None and not isinstance(transcode, str):
        raise BadFileFormat('"Transcode" must be a transfer syntax UID')
    priority = arguments.get("Priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise BadFileFormat('"Priority" must be an integer')
    synchronous = _synchronous(arguments)
    job = jobs.start_store(
        peer,
        resources,
        request,
        transcode=transcode,
        compress=_flag(arguments, "Compress"),
        permissive=_flag(arguments, "Permissive"),
        priority=priority,
        synchronous=synchronous,
    )
    if not synchronous:
        return json_response({"ID": str(job.id), "Path": f"/jobs/{job.id}"})
    if job.state != Job.SUCCESS:
        raise NetworkProtocol(job.error_details or job.error_description)
    return json_response(job.content)


def store_straight(request, name):
    """The body, a DICOM file, POSTed as it is to the peer's /instances: the peer's answer."""
    peer = configuration.peer(name)
    with received_body(request) as path, open(path, "rb") as body:
        try:
            with client.session(peer) as opened:
                answer, _ = client.post_instance(opened, peer, body)
        except client.PeerError as error:
            raise NetworkProtocol(f"Cannot send DICOM to remote peer: {name} ({error})") from error
    return json_response(answer)
