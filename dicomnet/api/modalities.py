"""REST /modalities, as Orthanc has it: list, show, create or update (PUT), delete."""

import json

from django.core.exceptions import ValidationError
from django.http import HttpResponse

from dicomnet.aet import is_safe
from dicomnet.models import Modality
from explorer import audit
from explorer.api.base import NoSuchResource, flag, json_body, json_response
from explorer.errors import BadRequest, ParameterOutOfRange, validation_details

# Orthanc's JSON keys and our fields; keys Orthanc has but we do not keep are answered with defaults.
FIELDS = {
    "AET": "aet",
    "Host": "host",
    "Port": "port",
    "Manufacturer": "manufacturer",
    "AllowEcho": "allow_echo",
    "AllowFind": "allow_find",
    "AllowGet": "allow_get",
    "AllowMove": "allow_move",
    "AllowStore": "allow_store",
    "AllowTranscoding": "allow_transcoding",
    "LocalAet": "local_aet",
    "Timeout": "timeout",
    "UseDicomTls": "use_dicom_tls",
}
OPERATIONS = ["configuration", "echo", "find", "get", "move", "query", "store"]
# The manufacturers Orthanc 1.10.1 knows (names are case-sensitive), and the older names it
# still takes for one of them; any other is refused.
MANUFACTURERS = {
    name: name for name in ("Generic", "GenericNoWildcardInDates", "GenericNoUniversalWildcard", "Vitrea", "GE")
} | {
    "AgfaImpax": "GenericNoWildcardInDates",
    "SyngoVia": "GenericNoWildcardInDates",
    "EFilm2": "Generic",
    "MedInria": "Generic",
    "Dcm4Chee": "Generic",
    "ClearCanvas": "Generic",
}


def configuration(modality):
    answer = {key: getattr(modality, field) for key, field in FIELDS.items()}
    answer |= {"AllowEventReport": True, "AllowFindWorklist": True, "AllowNAction": True}
    return answer


def _modality(name):
    modality = Modality.objects.filter(name=name).first()
    if modality is None:
        raise NoSuchResource(name)
    return modality


def list_modalities(request):
    modalities = Modality.objects.all()
    if flag(request, "expand"):
        return json_response({m.name: configuration(m) for m in modalities})
    return json_response([m.name for m in modalities])


def show(request, name):
    _modality(name)
    return json_response(OPERATIONS)


def show_configuration(request, name):
    return json_response(configuration(_modality(name)))


def fields_from_body(body):
    """Orthanc's two forms: [AET, host, port(, manufacturer)] or {"AET":…, "Host":…, "Port":…}."""
    if isinstance(body, list):
        if not 3 <= len(body) <= 4:
            raise BadRequest("A modality as an array is [AET, host, port] or [AET, host, port, manufacturer]")
        body = dict(zip(("AET", "Host", "Port", "Manufacturer"), body))
    if not isinstance(body, dict):
        raise BadRequest("A modality is a JSON object or array")
    # Orthanc's other keys, answered with defaults (AllowStorageCommitment is its alias of the N- ones).
    accepted = {"AllowEventReport", "AllowFindWorklist", "AllowNAction", "AllowStorageCommitment"}
    unknown = set(body) - set(FIELDS) - accepted
    if unknown:
        raise BadRequest("Unknown modality parameter(s): " + ", ".join(sorted(unknown)))
    fields = {FIELDS[key]: value for key, value in body.items() if key in FIELDS}
    if "manufacturer" in fields:
        fields["manufacturer"] = manufacturer(fields["manufacturer"])
    return fields


def manufacturer(name):
    """Orthanc's name for a modality's manufacturer; ParameterOutOfRange if it knows none."""
    if not isinstance(name, str) or name not in MANUFACTURERS:
        raise ParameterOutOfRange(f"Unknown modality manufacturer: {json.dumps(name)}")
    return MANUFACTURERS[name]


def save(name, fields):
    """Create or replace the named modality; returns warnings for the administrator.

    As in Orthanc, the fields not given take their defaults, not their former values."""
    modality = Modality.objects.filter(name=name).first() or Modality(name=name)
    for field in FIELDS.values():
        setattr(modality, field, Modality._meta.get_field(field).get_default())
    for field, value in fields.items():
        setattr(modality, field, value)
    try:
        modality.full_clean()
    except ValidationError as error:
        raise BadRequest(validation_details(error)) from error
    modality.save()
    if not is_safe(modality.aet):
        return [f"The AE title {modality.aet!r} uses characters outside A-Z, 0-9, '-' and '_'"]
    return []


def update(request, name):
    fields = fields_from_body(json_body(request))
    warnings = save(name, fields)
    audit.record(audit.SETTING, request, detail=f"modality {name} saved: {fields}")
    response = HttpResponse(content_type="text/plain")  # Orthanc's empty text answer
    for warning in warnings:
        response["Warning"] = f'199 pharos "{warning}"'
    return response


def delete(request, name):
    _modality(name).delete()
    audit.record(audit.SETTING, request, detail=f"modality {name} deleted")
    return HttpResponse(content_type="text/plain")
