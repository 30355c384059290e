"""REST for talking to modalities: echo, store, query, move, get, and the stored queries.

Shapes follow Orthanc's (reference R10–R13). Long operations become jobs; with
`"Synchronous": true` (the default for store, move and retrieve, as in Orthanc)
the same job runs within the request and its content is the answer.
"""

import json

from django.db import transaction
from django.http import HttpResponse

from dicomnet import jobs, queries, scu
from dicomnet.api.modalities import _modality
from dicomnet.models import Job, RemoteAnswer, RemoteQuery
from explorer import levels, tags
from explorer.api.base import NoSuchResource, flag, json_body, json_response
from explorer.errors import BadRequest, NetworkProtocol
from explorer.identifiers import is_uuid


def _network(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except scu.ScuError as error:
        raise NetworkProtocol(str(error)) from error


def echo(request, name):
    _network(scu.echo, _modality(name))
    return json_response({})


# --- running a job, synchronously or not ---------------------------------------------------


def _wants_synchronous(body, default=True):
    if isinstance(body, dict):
        if "Asynchronous" in body:
            return not body["Asynchronous"]
        if "Synchronous" in body:
            return bool(body["Synchronous"])
    return default


def start_job(job_type, parameters, body):
    """Run now and answer the content, or enqueue and answer {ID, Path}."""
    priority = body.get("Priority", 0) if isinstance(body, dict) else 0
    jobs.record_asked(job_type, parameters)
    if _wants_synchronous(body):
        job = jobs.execute(Job.objects.create(type=job_type, parameters=parameters, priority=priority).id)
        if job.state != Job.SUCCESS:
            raise NetworkProtocol(job.error_details or job.error_description)
        return json_response(job.content)
    with transaction.atomic():
        job = jobs.submit(job_type, parameters, priority)
    return json_response({"ID": str(job.id), "Path": f"/jobs/{job.id}"})


def _resources(body):
    if isinstance(body, str):
        return [body]
    if isinstance(body, list):
        return [str(r) for r in body]
    if isinstance(body, dict) and isinstance(body.get("Resources"), list):
        return [str(r) for r in body["Resources"]]
    raise BadRequest('Give a resource id, a list of ids, or {"Resources": [...]}')


def _raw_body(request):
    """A JSON body, or a bare resource id / AE title as plain text, as Orthanc accepts."""
    text = request.body.decode("utf-8", errors="replace").strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


def store(request, name):
    modality = _modality(name)
    body = _raw_body(request)
    return start_job("DicomModalityStore", {"Modality": modality.name, "Resources": _resources(body)}, body)


def _level(value):
    level = levels.level_named(str(value or ""))
    if level is None:
        raise BadRequest("Level must be Patient, Study, Series or Instance")
    return level


def move(request, name):
    modality = _modality(name)
    body = json_body(request, {})
    identifiers = body.get("Resources")
    if not isinstance(identifiers, list) or not identifiers:
        raise BadRequest('"Resources" must be a list of objects of unique keys')
    from django.conf import settings

    parameters = {
        "Modality": modality.name,
        "Level": _level(body.get("Level")).name,
        "Identifiers": identifiers,
        "TargetAet": body.get("TargetAet") or settings.PHAROS_AET,
    }
    return start_job("DicomMoveScu", parameters, body)


def get(request, name):
    modality = _modality(name)
    body = json_body(request, {})
    identifiers = body.get("Resources")
    if not isinstance(identifiers, list) or not identifiers:
        raise BadRequest('"Resources" must be a list of objects of unique keys')
    parameters = {"Modality": modality.name, "Level": _level(body.get("Level")).name, "Identifiers": identifiers}
    return start_job("DicomGetScu", parameters, body)


# --- queries ---------------------------------------------------------------------------------


def query(request, name):
    """POST /modalities/{name}/query {Level, Query, Normalize}: a C-FIND kept as /queries/{id}."""
    modality = _modality(name)
    body = json_body(request, {})
    level = _level(body.get("Level"))
    wanted = body.get("Query", {})
    if not isinstance(wanted, dict):
        raise BadRequest('"Query" must be an object of tag names to values')
    wanted = {str(k): "" if v is None else str(v) for k, v in wanted.items()}
    stored = _network(queries.run_query, modality, level.name, wanted, normalize=body.get("Normalize", True))
    return json_response({"ID": str(stored.id), "Path": f"/queries/{stored.id}"})


def _query(query_id):
    found = RemoteQuery.objects.filter(id=query_id).first() if is_uuid(query_id) else None
    if found is None:
        raise NoSuchResource(query_id)
    return found


def list_queries(request):
    return json_response([str(q) for q in RemoteQuery.objects.values_list("id", flat=True)])


def show_query(request, query_id):
    _query(query_id)
    return json_response(["answers", "dropped-keys", "level", "modality", "query", "retrieve"])


def delete_query(request, query_id):
    _query(query_id).delete()
    return json_response({})


def query_part(request, query_id, part):
    stored = _query(query_id)
    if part in ("level", "modality"):
        # Orthanc answers these two as plain text.
        return HttpResponse(getattr(stored, part), content_type="text/plain")
    if part == "query":
        return json_response(
            query_in_format(stored.query, simplify=flag(request, "simplify"), short=flag(request, "short"))
        )
    return json_response(stored.dropped_keys)


def query_in_format(query, simplify=False, short=False):
    """The keys of a query as sent, as Orthanc shows them at /queries/{id}/query: by tag with
    {Name, Type, Value}, or in its ?short and ?simplify formats."""
    shown = {}
    for key, value in query.items():
        try:
            tag = tags.parse_tag(key.replace(",", "-"))
        except KeyError:  # not a tag (the C-FIND refused it already): shown as given
            shown[key] = value
            continue
        name = tags.tag_name(tag)
        if short:
            shown[tags.orthanc_tag(tag)] = value
        elif simplify:
            shown[tags.orthanc_tag(tag) if name == tags.UNKNOWN_TAG_NAME else name] = value
        else:
            shown[tags.orthanc_tag(tag)] = {"Name": name, "Type": "String", "Value": value}
    return shown


def _answer_content(request, content):
    return tags.tags_in_format(content, simplify=flag(request, "simplify"), short=flag(request, "short"))


def answers(request, query_id):
    stored = _query(query_id)
    rows = list(stored.answers.all())
    if flag(request, "expand"):
        return json_response([_answer_content(request, a.content) for a in rows])
    return json_response([str(a.position) for a in rows])


def _answer(query_id, index):
    answer = RemoteAnswer.objects.filter(query=_query(query_id), position=index).first()
    if answer is None:
        raise NoSuchResource(index)
    return answer


def show_answer(request, query_id, index):
    _answer(query_id, index)
    return json_response(["content", "retrieve"])


def answer_content(request, query_id, index):
    return json_response(_answer_content(request, _answer(query_id, index).content))


def _identifier(level, content):
    return queries.identifier(level, content)


def _retrieve(stored, chosen, body):
    if isinstance(body, str):
        body = {"TargetAet": body}
    target_aet = body.get("TargetAet") if isinstance(body, dict) else None
    return start_job("DicomMoveScu", queries.move_parameters(stored, chosen, target_aet), body)


def retrieve_all(request, query_id):
    stored = _query(query_id)
    return _retrieve(stored, list(stored.answers.all()), _raw_body(request))


def retrieve_answer(request, query_id, index):
    answer = _answer(query_id, index)
    return _retrieve(answer.query, [answer], _raw_body(request))
